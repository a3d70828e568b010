"""`spacy lm vae sample|reconstruct|interpolate|evaluate` on a tiny trained sentence_vae: the
commands print what the Python API (``SentenceVAE.sample`` and friends) returns, and bad input is
one coded line on stderr with exit code 1."""
import json
import math

import pytest
import spacy
from spacy.training import Example
from thinc.api import Adam, fix_random_seed
from typer.testing import CliRunner

from spacy_lm.cli import lm_app

SENTENCES = [
    "the cat sat on the mat",
    "the dog sat on the log",
    "a cat saw a dog",
    "the dog saw the cat",
    "a dog and a cat sat",
    "the mat is red",
]
TINY_VAE = {"model": {"width": 16, "embed_size": 8, "latent_size": 4}, "nll_samples": 3,
            "kl_annealing": {"@schedules": "constant.v1", "rate": 0.1}}


@pytest.fixture(scope="module")
def vae_pipeline(tmp_path_factory):
    """(saved pipeline path, the same pipeline loaded back, a saved pipeline without a VAE)."""
    fix_random_seed(0)
    nlp = spacy.blank("en")
    nlp.add_pipe("sentence_vae", config=TINY_VAE)
    examples = [Example(nlp.make_doc(s), nlp.make_doc(s)) for s in SENTENCES]
    nlp.initialize(lambda: examples)
    optimizer = Adam(0.01)
    for _ in range(40):
        nlp.update(examples, sgd=optimizer)
    root = tmp_path_factory.mktemp("vae_cli")
    path = root / "vae"
    nlp.to_disk(path)
    blank = root / "blank"
    spacy.blank("en").to_disk(blank)
    loaded = spacy.load(path)
    return path, loaded, blank


@pytest.fixture(scope="module")
def vae(vae_pipeline):
    return vae_pipeline[1].get_pipe("sentence_vae")


def ok(result):
    assert result.exit_code == 0, result.output
    return result.stdout


def one_line_error(result, code: str) -> str:
    """Exit 1, no traceback, one line on stderr starting with ``Error: [code]``."""
    assert result.exit_code == 1, result.output
    assert not isinstance(result.exception, Exception) or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output and "Aborted" not in result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"Error: [{code}]"), result.stderr
    return lines[0]


# ---- sample ---------------------------------------------------------------------------------


def test_sample_json_is_deterministic_and_matches_python(vae_pipeline, vae):
    path = str(vae_pipeline[0])
    runner = CliRunner()
    first = json.loads(ok(runner.invoke(lm_app, ["vae", "sample", path, "--n", "3", "--json"])))
    again = json.loads(ok(runner.invoke(lm_app, ["vae", "sample", path, "--n", "3", "--json", "--seed", "0"])))
    assert len(first["samples"]) == 3
    assert first == again  # --seed 0 is the default
    assert first["samples"] == vae.sample(3, seed=0)
    # plain output: one sample per line, the same texts
    plain = ok(runner.invoke(lm_app, ["vae", "sample", path, "--n", "3"]))
    assert plain == "\n".join(first["samples"]) + "\n"


def test_sample_with_token_sampling_and_a_seed(vae_pipeline, vae):
    path = str(vae_pipeline[0])
    runner = CliRunner()
    args = ["vae", "sample", path, "--n", "3", "--json", "--sample", "--seed", "1"]
    first = json.loads(ok(runner.invoke(lm_app, args)))["samples"]
    second = json.loads(ok(runner.invoke(lm_app, args)))["samples"]
    assert len(first) == 3 and first == second
    assert first == vae.sample(3, seed=1, do_sample=True)
    other = json.loads(ok(runner.invoke(lm_app, ["vae", "sample", path, "--n", "5", "--json", "--sample",
                                                 "--seed", "2"])))["samples"]
    assert len(other) == 5 and other == vae.sample(5, seed=2, do_sample=True)


# ---- reconstruct ----------------------------------------------------------------------------


def test_reconstruct_one_sentence_matches_python(vae_pipeline, vae):
    path = str(vae_pipeline[0])
    runner = CliRunner()
    out = ok(runner.invoke(lm_app, ["vae", "reconstruct", path, SENTENCES[0]]))
    assert out == vae.reconstruct([SENTENCES[0]])[0] + "\n"
    payload = json.loads(ok(runner.invoke(lm_app, ["vae", "reconstruct", path, SENTENCES[0], "--json"])))
    assert payload == {"text": SENTENCES[0], "reconstruction": vae.reconstruct([SENTENCES[0]])[0]}


@pytest.mark.parametrize("dash", [True, False], ids=["dash", "no-argument"])
def test_reconstruct_reads_stdin_one_line_per_input(vae_pipeline, vae, dash):
    path = str(vae_pipeline[0])
    texts = [SENTENCES[1], SENTENCES[2], SENTENCES[4]]
    stdin = f"{texts[0]}\n\n  {texts[1]}  \n{texts[2]}\n"  # blank lines skipped, lines stripped
    args = ["vae", "reconstruct", path] + (["-"] if dash else [])
    runner = CliRunner()
    expected = vae.reconstruct(texts)
    assert ok(runner.invoke(lm_app, args, input=stdin)) == "\n".join(expected) + "\n"
    lines = ok(runner.invoke(lm_app, args + ["--json"], input=stdin)).strip().splitlines()
    assert [json.loads(line) for line in lines] == [
        {"text": t, "reconstruction": r} for t, r in zip(texts, expected)]


# ---- interpolate ----------------------------------------------------------------------------


def test_interpolate_json_points(vae_pipeline, vae):
    path = str(vae_pipeline[0])
    start, end = SENTENCES[0], SENTENCES[3]
    result = CliRunner().invoke(lm_app, ["vae", "interpolate", path, start, end, "--steps", "3", "--json"])
    payload = json.loads(ok(result))
    assert payload["start"] == start and payload["end"] == end
    points = payload["points"]
    assert [p["t"] for p in points] == pytest.approx([0.0, 0.5, 1.0])
    assert points[0]["text"] == vae.reconstruct([start])[0]
    assert points[-1]["text"] == vae.reconstruct([end])[0]
    assert [(p["t"], p["text"]) for p in points] == vae.interpolate(start, end, n_steps=3)
    plain = ok(CliRunner().invoke(lm_app, ["vae", "interpolate", path, start, end, "--steps", "3"]))
    assert plain.splitlines() == [f"{p['t']:.3f}  {p['text']}" for p in points]


# ---- evaluate -------------------------------------------------------------------------------


def test_evaluate_json_scores(vae_pipeline, vae, tmp_path):
    path, nlp, _ = vae_pipeline
    data = tmp_path / "dev.txt"
    lines = ["the cat sat on the mat", "", "a dog saw a cat", "   ", "the dog sat"]
    data.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = CliRunner().invoke(lm_app, ["vae", "evaluate", str(path), str(data), "-k", "5", "--json"])
    scores = json.loads(ok(result))
    assert scores["vae_n_sentences"] == 3
    assert scores["vae_n_tokens"] == (6 + 1) + (5 + 1) + (3 + 1)  # each sentence's closing <eos> counted
    for key in ("vae_iw_nll", "vae_elbo", "vae_kl", "vae_perplexity"):
        assert isinstance(scores[key], float) and math.isfinite(scores[key]), key
    assert scores["vae_iw_nll"] > 0
    docs = [nlp.make_doc(line.strip()) for line in lines if line.strip()]
    assert scores["vae_iw_nll"] == pytest.approx(vae.evaluate_docs(docs, iw_samples=5)["vae_iw_nll"], rel=1e-6)
    limited = json.loads(ok(CliRunner().invoke(lm_app, ["vae", "evaluate", str(path), str(data), "-k", "5",
                                                        "--json", "--limit", "2"])))
    assert limited["vae_n_sentences"] == 2


# ---- bad input: one coded line, exit 1 -------------------------------------------------------


@pytest.mark.parametrize("args,code,text", [
    (["sample", "{path}", "--n", "0"], "E085", "--n must be an integer >= 1, got 0"),
    (["sample", "{path}", "--seed", "-1"], "E085", "--seed must be an integer >= 0"),
    (["interpolate", "{path}", "the cat", "the dog", "--steps", "1"], "E085", "--steps must be an integer >= 2"),
    (["evaluate", "{path}", "{data}", "-k", "0"], "E085", "--iw-samples must be an integer >= 1"),
    (["reconstruct", "{path}", ""], "E121", "cannot encode an empty sentence"),
    (["reconstruct", "{path}", "   "], "E121", "cannot encode an empty sentence"),
    (["reconstruct", "{path}", "zebra quokka"], "E122", "is unknown to the model's vocabulary"),
    (["interpolate", "{path}", "zebra quokka", "the cat"], "E122", "is unknown to the model's vocabulary"),
    (["sample", "{blank}"], "E041", "no sentence_vae component"),
    (["reconstruct", "{blank}", "the cat"], "E041", "no sentence_vae component"),
    (["evaluate", "{blank}", "{data}"], "E041", "no sentence_vae component"),
    (["sample", "{missing}"], "E050", "Can't find model"),
    (["reconstruct", "{missing}", "the cat"], "E050", "Can't find model"),
], ids=["n-0", "seed-neg", "steps-1", "k-0", "empty", "whitespace", "all-unknown", "interpolate-unknown",
        "no-vae-sample", "no-vae-reconstruct", "no-vae-evaluate", "missing-sample", "missing-reconstruct"])
def test_bad_input_is_one_line_with_exit_1(vae_pipeline, tmp_path, args, code, text):
    path, _, blank = vae_pipeline
    data = tmp_path / "dev.txt"
    data.write_text("the cat sat\n", encoding="utf-8")
    fill = {"path": path, "blank": blank, "data": data, "missing": tmp_path / "no-such-pipeline"}
    args = ["vae"] + [a.format(**fill) for a in args]
    line = one_line_error(CliRunner().invoke(lm_app, args), code)
    assert text in line


def test_reconstruct_stdin_that_is_not_utf8_is_one_line(vae_pipeline):
    result = CliRunner().invoke(lm_app, ["vae", "reconstruct", str(vae_pipeline[0])], input=b"ok\n\xff\xfe\n")
    assert "stdin is not UTF-8 text: line 2 has byte 0xff (offset 3 of stdin)" in one_line_error(result, "E250")
