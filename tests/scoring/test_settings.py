"""ScoreSettings: a bad setting is E160 naming it, when the settings are made."""
import pytest

from spacy_lm.scoring.settings import ScoreSettings


@pytest.mark.parametrize("kwargs,setting", [
    ({"keep": ("head",)}, "keep"),
    ({"bucket": (30, 60), "keep": ("top",)}, "keep"),
    ({"bucket": (60, 30)}, "bucket"),
    ({"bucket": (0, 60)}, "bucket"),
    ({"cutoffs": (50.0, float("nan"))}, "cutoffs"),
    ({"max_ppl": 100.0}, "max_ppl"),
    ({"prefilter": "x.arpa", "max_ppl": -1.0}, "max_ppl"),
    ({"batch_size": 0}, "batch_size"),
    ({"output_format": "csv"}, "output_format"),
])
def test_bad_settings_are_coded_errors(kwargs, setting):
    with pytest.raises(ValueError, match=rf"\[E160\] spacy lm score: {setting} must be"):
        ScoreSettings(model="m", **kwargs)
