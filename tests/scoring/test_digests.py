"""Inputs and models are identified by their bytes, not their names."""
from spacy_lm.scoring.digests import input_digest, path_digest, unique_sources


def test_digests_follow_bytes_not_names(tmp_path):
    (tmp_path / "x.txt").write_text("abc")
    (tmp_path / "y.txt").write_text("abd")
    assert input_digest(str(tmp_path / "x.txt")) != input_digest(str(tmp_path / "y.txt"))
    assert input_digest("hf:wikitext") is None
    before = path_digest(tmp_path)
    (tmp_path / "y.txt").write_text("abc")
    assert path_digest(tmp_path) != before
    sources, duplicates = unique_sources(["hf:a", "hf:a", "hf:b"], {"hf:a": None, "hf:b": None})
    assert sources == ["hf:a", "hf:b"] and duplicates == {"hf:a": "hf:a"}
