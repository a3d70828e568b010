"""The shipped LM-transfer configs chained as a user runs them: configs/lstm_lm_pretrain.cfg (two
sources, forward and backward) -> configs/lstm_lm_finetune.cfg (the task's words added) ->
configs/textcat_bilm_lm.cfg (textcat over both LMs) and configs/textcat_lstm_lm.cfg."""
import csv
import random
from pathlib import Path

import pytest
import spacy
from spacy.cli.train import train

REPO = Path(__file__).resolve().parent.parent
CONFIGS = REPO / "configs"
TINY_LM = {"components.lstm_lm.model.width": 8, "components.lstm_lm.model.depth": 1,
           "training.max_steps": 3, "training.eval_frequency": 3}
POS, NEG = ["good", "great", "fine", "lovely"], ["bad", "awful", "poor", "dull"]


def sentences(rng, n, words):
    return [" ".join(rng.choice(words) for _ in range(rng.randint(3, 9))) for _ in range(n)]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    folder = tmp_path_factory.mktemp("transfer")
    rng = random.Random(0)
    common = ["the", "a", "film", "was", "is", "and", "plot", "actor"]
    (folder / "wiki.txt").write_text("\n".join(sentences(rng, 1200, common + POS[:2])) + "\n", encoding="utf-8")
    with (folder / "reviews.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "label"])
        writer.writerows([t.replace(" ", " <br /> ", 1), 0] for t in sentences(rng, 1100, common + NEG[:2]))
    for split, n in (("train", 60), ("dev", 20)):
        rows = [(int(i % 2 == 0), s) for i, s in enumerate(sentences(rng, n, common))]
        text = "\n".join(f"{y} {s} {rng.choice(POS if y else NEG)} zebra" for y, s in rows) + "\n"
        (folder / f"{split}.txt").write_text(text, encoding="utf-8")
        (folder / f"{split}_text.txt").write_text(
            "\n".join(line.split(" ", 1)[1] for line in text.splitlines()) + "\n", encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def task_lms(corpus, tmp_path_factory):
    out = tmp_path_factory.mktemp("lms")
    lms = {}
    for direction in ("forward", "backward"):
        general = out / f"general_{direction}"
        train(CONFIGS / "lstm_lm_pretrain.cfg", general, overrides={
            **TINY_LM, "paths.text": str(corpus / "wiki.txt"), "paths.reviews": str(corpus / "reviews.csv"),
            "system.direction": direction})
        task = out / f"task_{direction}"
        train(CONFIGS / "lstm_lm_finetune.cfg", task, overrides={
            "paths.lm_pipeline": str(general / "model-last"), "paths.train": str(corpus / "train_text.txt"),
            "paths.dev": str(corpus / "dev_text.txt"), "system.direction": direction, "training.max_steps": 3,
            "training.eval_frequency": 3})
        lms[direction] = task / "model-last"
    return lms


def test_pretrain_mixes_sources_and_finetune_adds_task_words(task_lms):
    for direction, path in task_lms.items():
        lm = spacy.load(path).get_pipe("lstm_lm")
        assert lm.cfg["direction"] == direction
        vocab = lm.lm_vocab
        for word in ("film", "bad", "great"):  # from both sources of the mixture
            assert vocab.id_of(word) != vocab.unk_id
        assert vocab.id_of("zebra") != vocab.unk_id  # a task word the general LMs never saw
        assert vocab.id_of("<br") == vocab.unk_id and vocab.id_of("br") == vocab.unk_id  # strip_html
    forward, backward = (spacy.load(task_lms[d]).get_pipe("lstm_lm").lm_vocab for d in ("forward", "backward"))
    assert {forward.string_of(i) for i in range(len(forward))} == {backward.string_of(i) for i in range(len(backward))}


def test_textcat_over_both_lms_trains_and_loads(task_lms, corpus, tmp_path):
    train(CONFIGS / "textcat_bilm_lm.cfg", tmp_path / "textcat", overrides={
        "paths.lm_pipeline": str(task_lms["forward"]), "paths.lm_backward_pipeline": str(task_lms["backward"]),
        "paths.train": str(corpus / "train.txt"), "paths.dev": str(corpus / "dev.txt"),
        "components.textcat.model.tok2vec.width": 8, "components.textcat.model.width": 8,
        "training.max_steps": 4, "training.eval_frequency": 2})
    nlp = spacy.load(tmp_path / "textcat" / "model-last")
    assert nlp.pipe_names == ["lstm_lm", "lstm_lm_backward", "textcat"]
    assert nlp.get_pipe("lstm_lm_backward").cfg["direction"] == "backward"
    texts = ["the film was good zebra", "a plot is bad"]
    cats = [nlp(t).cats for t in texts]
    for doc, expected in zip(nlp.pipe(texts), cats):
        assert doc.cats == pytest.approx(expected)
    assert sum(cats[0].values()) == pytest.approx(1.0, abs=1e-5)
    # the LMs only encode when asked to: the classifier's scores stay the same
    quiet = spacy.load(tmp_path / "textcat" / "model-last", config={
        "components": {"lstm_lm": {"annotate": False}, "lstm_lm_backward": {"annotate": False}}})
    for text, expected in zip(texts, cats):
        assert quiet(text).cats == pytest.approx(expected, abs=1e-6)
    assert quiet(texts[0])._.lm_perplexity is None


def test_a_forward_lm_with_a_backward_reader_is_a_clear_error(task_lms, corpus, tmp_path):
    with pytest.raises(ValueError, match="E290"):
        train(CONFIGS / "lstm_lm_finetune.cfg", tmp_path / "bad", overrides={
            "paths.lm_pipeline": str(task_lms["forward"]), "paths.train": str(corpus / "train_text.txt"),
            "paths.dev": str(corpus / "dev_text.txt"), "system.direction": "backward", "training.max_steps": 2})
