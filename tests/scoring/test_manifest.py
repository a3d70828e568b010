"""Resuming from the manifest: a shard is skipped only while its files and its input's bytes are
what was written, and a run with other row settings or another model under the same path is refused."""
import shutil

import pytest
import spacy

from spacy_lm.scoring import ScoreSettings, score_corpus
from spacy_lm.scoring.manifest import MANIFEST

from ..conftest import TINY_TEXTS, make_examples
from .conftest import outputs, settings_for, shards, write_jsonl


def test_a_changed_output_file_is_scored_again(corpus, tmp_path):
    settings = settings_for(corpus)
    score_corpus(shards(corpus), tmp_path, settings)
    before = outputs(tmp_path)
    (tmp_path / "00001-b.jsonl.parquet").write_bytes(b"damaged")
    summary = score_corpus(shards(corpus), tmp_path, settings)
    assert summary["shards_skipped"] == 2 and outputs(tmp_path) == before


def test_resuming_with_other_settings_is_refused(corpus, tmp_path):
    score_corpus(shards(corpus)[:1], tmp_path, settings_for(corpus, bucket=(30, 60)))
    score_corpus(shards(corpus)[:1], tmp_path, settings_for(corpus, bucket=(30, 60), batch_size=7))  # fine
    with pytest.raises(ValueError, match=r"\[E164\].*bucket"):
        score_corpus(shards(corpus)[:1], tmp_path, settings_for(corpus, bucket=(20, 60)))
    (tmp_path / MANIFEST).write_text("{damaged")
    with pytest.raises(ValueError, match=r"\[E163\]"):
        score_corpus(shards(corpus)[:1], tmp_path, settings_for(corpus, bucket=(30, 60)))


def test_a_replaced_model_is_refused_on_resume(hang_files, tmp_path):
    model = tmp_path / "model"
    shutil.copytree(hang_files / "ngram3", model)
    score_corpus([str(hang_files / "a.jsonl")], tmp_path / "out", ScoreSettings(model=str(model)))
    shutil.rmtree(model)
    nlp = spacy.blank("en")
    nlp.add_pipe("ngram_lm", config={"order": 2})
    nlp.initialize(lambda: make_examples(nlp, TINY_TEXTS[:3]))
    nlp.to_disk(model)
    with pytest.raises(ValueError, match=r"\[E164\].*model_digest"):
        score_corpus([str(hang_files / "a.jsonl"), str(hang_files / "c.jsonl")], tmp_path / "out",
                     ScoreSettings(model=str(model)))


def test_an_input_edited_in_place_at_the_same_size_is_scored_again(hang_files, tmp_path):
    source = tmp_path / "in.jsonl"
    write_jsonl(source, ["the cat sat", "a dog log"])
    settings = ScoreSettings(model=str(hang_files / "ngram3"), output_format="jsonl")
    score_corpus([str(source)], tmp_path / "out", settings)
    size = source.stat().st_size
    write_jsonl(source, ["the dog sat", "a cat log"])
    assert source.stat().st_size == size
    summary = score_corpus([str(source)], tmp_path / "out", settings)
    assert summary["shards_skipped"] == 0
    assert [row["text"] for row in outputs(tmp_path / "out")["in.jsonl"][0]] == ["the dog sat", "a cat log"]
    assert score_corpus([str(source)], tmp_path / "out", settings)["shards_skipped"] == 1
