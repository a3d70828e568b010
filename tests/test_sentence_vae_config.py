"""configs/sentence_vae.cfg: it loads, its KL schedule is the logistic one, and `spacy train`
with it (made tiny by overrides) writes a pipeline that annotates docs and reports VAE scores."""
import json
import math
from pathlib import Path

import pytest
import spacy
from spacy.util import load_config, registry

REPO = Path(__file__).resolve().parent.parent
CONFIG = REPO / "configs" / "sentence_vae.cfg"

SUBJECTS = ["a man", "a woman", "two dogs", "a child", "the girl"]
ACTIONS = ["is running on the beach.", "plays with a red ball.", "sits on a bench.", "walks down the street."]
CAPTIONS = [f"{s.capitalize()} {a}" for s in SUBJECTS for a in ACTIONS] * 2  # 40 raw captions
DEV = ["A man plays with a red ball.", "Two dogs sit on a bench.", "The girl is running down the street."]


def test_config_loads_and_kl_annealing_is_logistic():
    config = load_config(CONFIG)
    component = config["components"]["sentence_vae"]
    assert component["factory"] == "sentence_vae"
    assert config["corpora"]["train"]["@readers"] == "spacy_lm.SentenceCorpus.v1"
    section = component["kl_annealing"]
    assert section["@schedules"] == "spacy_lm.kl_logistic.v1"
    k, x0 = section["k"], section["x0"]
    schedule = registry.resolve({"kl": section})["kl"]
    values = [next(schedule) for _ in range(3)]
    expected = [1.0 / (1.0 + math.exp(-k * (step - x0))) for step in range(3)]
    assert values == pytest.approx(expected, rel=1e-12)
    assert 0 < values[0] < values[1] < values[2] < 0.01  # annealing starts near 0 and rises


def test_spacy_train_with_the_config_then_load(tmp_path):
    from spacy.cli.train import train

    train_path = tmp_path / "train.en"
    dev_path = tmp_path / "val.en"
    train_path.write_text("\n".join(CAPTIONS) + "\n", encoding="utf-8")
    dev_path.write_text("\n".join(DEV) + "\n\n", encoding="utf-8")
    out = tmp_path / "out"
    overrides = {
        "paths.train": str(train_path),
        "paths.dev": str(dev_path),
        "components.sentence_vae.model.width": 16,
        "components.sentence_vae.model.embed_size": 8,
        "components.sentence_vae.model.latent_size": 4,
        "components.sentence_vae.min_freq": 1,
        "components.sentence_vae.nll_samples": 3,
        "components.sentence_vae.scorer.iw_samples": 3,
        "training.max_steps": 20,
        "training.eval_frequency": 10,
        "training.max_epochs": 0,
        "training.optimizer.learn_rate": 0.01,
    }
    train(CONFIG, out, overrides=overrides)
    model = out / "model-last"
    meta = json.loads((model / "meta.json").read_text(encoding="utf-8"))
    performance = meta["performance"]
    for key in ("vae_iw_nll", "vae_kl", "vae_elbo"):
        assert isinstance(performance[key], float) and math.isfinite(performance[key]), (key, performance)
    # a missing score would be 0.0 in meta.json: these cannot be
    assert performance["vae_iw_nll"] > 0 and performance["vae_elbo"] < 0 and performance["vae_kl"] >= 0

    nlp = spacy.load(model)
    assert nlp.pipe_names == ["sentence_vae"]
    vae = nlp.get_pipe("sentence_vae")
    assert vae.latent_size == 4 and vae.cfg["attr"] == "LOWER"
    doc = nlp("A woman sits on the beach.")
    assert len(doc._.vae_mean) == 4 and all(math.isfinite(x) for x in doc._.vae_mean)
    assert doc._.vae_nll is not None and math.isfinite(doc._.vae_nll) and doc._.vae_nll > 0
    # the dev scores in meta.json are the scorer's on the saved model (3 samples, seed 0)
    from spacy_lm.corpora.sentences import SentenceCorpus

    docs = [eg.predicted for eg in SentenceCorpus(dev_path)(nlp)]  # the docs spacy train scored
    scores = vae.evaluate_docs(docs, iw_samples=3, seed=0)
    assert scores["vae_n_sentences"] == len(DEV)
    assert performance["vae_iw_nll"] == pytest.approx(scores["vae_iw_nll"], rel=1e-4)
    assert performance["vae_kl"] == pytest.approx(scores["vae_kl"], rel=1e-4, abs=1e-6)
