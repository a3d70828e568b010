"""GenerationConfig (spacy_lm.decoding.config): settings validated with coded errors."""
import pytest

from spacy_lm.decoding import GenerationConfig


@pytest.mark.parametrize("overrides,match", [
    ({"top_p": 1.5}, "top_p"),
    ({"top_p": 0.0}, "top_p"),
    ({"do_sample": True, "temperature": 0.0}, "temperature"),
    ({"max_new_tokens": -1}, "max_new_tokens"),
    ({"min_new_tokens": -1}, "min_new_tokens"),
    ({"min_new_tokens": 5, "max_new_tokens": 3}, "min_new_tokens"),
    ({"num_beams": 2, "num_return_sequences": 3}, "num_return_sequences"),
    ({"num_return_sequences": 2}, "num_return_sequences"),
    ({"num_beams": 2, "do_sample": True}, "not supported"),
    ({"typical_p": 0.0}, "typical_p"),
    ({"min_p": 1.5}, "min_p"),
    ({"repetition_penalty": 0.0}, "repetition_penalty"),
    ({"top_k": -1}, "top_k"),
    ({"stop_strings": [""]}, "stop_strings"),
    ({"top_alternatives": -1}, "top_alternatives"),
    ({"top_alternatives": 1.5}, "top_alternatives"),
])
def test_invalid_settings_are_clear_errors(overrides, match):
    with pytest.raises(ValueError, match=match):
        GenerationConfig(**overrides)
    with pytest.raises(ValueError, match=match):
        GenerationConfig().replace(**overrides)


def test_replace_rejects_unknown_settings():
    with pytest.raises(ValueError, match="max_length") as info:
        GenerationConfig().replace(max_length=5)
    assert "max_new_tokens" in str(info.value)  # the valid names are listed
    config = GenerationConfig().replace(max_new_tokens=3, stop_strings="end")
    assert config.max_new_tokens == 3 and config.stop_strings == ("end",)
    assert GenerationConfig().max_new_tokens == 20


@pytest.mark.parametrize("overrides,code", [
    ({"num_beams": 2, "do_sample": True}, "E068"),
    ({"num_return_sequences": 2}, "E069"),
    ({"num_beams": 2, "num_return_sequences": 3}, "E009"),
    ({"top_p": 0.0}, "E009"),
])
def test_generation_config_errors_are_coded(overrides, code):
    with pytest.raises(ValueError, match=rf"\[{code}\]"):
        GenerationConfig(**overrides)
    with pytest.raises(ValueError, match=r"\[E070\] Unknown generation setting\(s\) \['max_length'\]"):
        GenerationConfig().replace(max_length=5)
