"""Data for the LM views (spacy_lm/analysis/lm_views.py) and `spacy lm explain` over every view."""
import json
import math

import pytest
import spacy
from typer.testing import CliRunner

from spacy_lm.cli import lm_app
from spacy_lm.analysis.lm_views import comparison_summary, compare_surprisal, generation_items, surprisal_items

from ..conftest import TINY_TEXTS, make_examples, train_tiny_lm

TEXTS = ["the cat sat on the log", "a dog  saw the mat", "the unknownword sat"]


def ngram_pipeline(texts=TINY_TEXTS):
    """Two n-gram LMs (orders 3 and 2) in one pipeline: built by counting, in milliseconds."""
    nlp = spacy.blank("en")
    nlp.add_pipe("ngram_lm", config={"order": 3})
    nlp.add_pipe("ngram_lm", name="bigram", config={"order": 2})
    examples = make_examples(nlp, texts)
    nlp.initialize(lambda: examples)
    return nlp


@pytest.fixture(scope="module")
def nlp():
    return ngram_pipeline()


@pytest.fixture(scope="module")
def saved(nlp, tmp_path_factory):
    root = tmp_path_factory.mktemp("views")
    nlp.to_disk(root / "two_lms")
    ngram_pipeline(TINY_TEXTS[:3]).to_disk(root / "small")
    blank = spacy.blank("en")
    blank.add_pipe("sentencizer")
    blank.to_disk(root / "blank")
    return root


def scores_of(nlp, text, component):
    with nlp.select_pipes(enable=nlp.pipe_names[: nlp.pipe_names.index(component) + 1]):
        doc = nlp(text)
    return doc._.lm_surprisals, doc._.lm_end_surprisal, doc._.lm_perplexity


# ---------------------------------------------------------------------------- surprisal
def test_surprisal_items_are_the_components_scores(nlp):
    for component in ("ngram_lm", "bigram"):
        items = surprisal_items(nlp, TEXTS, component=component)
        assert [item["text"] for item in items] == TEXTS
        for item in items:
            surprisals, end, perplexity = scores_of(nlp, item["text"], component)
            assert item["component"] == component and item["surprisals"] == surprisals
            assert item["end_surprisal"] == end and item["perplexity"] == perplexity
            scored = [s for s in item["surprisals"] if s is not None] + [end]
            assert item["n_predicted"] == len(scored)
            assert item["perplexity"] == pytest.approx(2 ** (sum(scored) / len(scored)))
            assert item["logprob"] == pytest.approx(-sum(scored) * math.log(2))
    item = surprisal_items(nlp, ["a dog  saw"])[0]
    assert item["component"] == "ngram_lm"  # the first LM by default
    assert item["tokens"] == ["a", "dog", " ", "saw"] and item["surprisals"][2] is None
    assert "".join(t + w for t, w in zip(item["tokens"], item["whitespace"])) == "a dog  saw"
    assert json.loads(json.dumps(item)) == item


# ---------------------------------------------------------------------------- comparison
def test_comparison_within_one_pipeline_is_a_minus_b(nlp):
    items = compare_surprisal(nlp, TEXTS)  # component_b: the other LM
    a_items = surprisal_items(nlp, TEXTS, component="ngram_lm")
    b_items = surprisal_items(nlp, TEXTS, component="bigram")
    for item, a, b in zip(items, a_items, b_items):
        assert item["names"] == ["ngram_lm", "bigram"] and item["components"] == ["ngram_lm", "bigram"]
        assert item["a"]["surprisals"] == a["surprisals"] and item["b"]["surprisals"] == b["surprisals"]
        assert item["a"]["perplexity"] == a["perplexity"] and item["b"]["perplexity"] == b["perplexity"]
        for d, x, y in zip(item["diff"], a["surprisals"], b["surprisals"]):
            assert (d is None) == (x is None) and (d is None or d == pytest.approx(x - y))
        assert item["end_diff"] == pytest.approx(a["end_surprisal"] - b["end_surprisal"])
        diffs = [d for d in item["diff"] if d is not None]
        summary = item["summary"]
        assert summary["n_tokens"] == len(diffs)
        assert summary["mean_diff"] == pytest.approx(sum(diffs) / len(diffs))
        assert summary["better_a"] == pytest.approx(sum(d < -1e-6 for d in diffs) / len(diffs))
        assert summary["better_a"] + summary["better_b"] + summary["ties"] == pytest.approx(1.0)
    assert any(d and abs(d) > 0.01 for item in items for d in item["diff"])  # the LMs do differ
    swapped = compare_surprisal(nlp, TEXTS[:1], component_a="bigram", component_b="ngram_lm")[0]
    assert swapped["diff"] == pytest.approx([-d for d in items[0]["diff"]])
    pooled = comparison_summary(items)
    assert pooled["n_tokens"] == sum(item["summary"]["n_tokens"] for item in items)
    n_a = sum(item["a"]["n_predicted"] for item in items)
    assert pooled["perplexity_a"] == pytest.approx(math.exp(-sum(item["a"]["logprob"] for item in items) / n_a))
    assert json.loads(json.dumps(items)) == items


def test_comparison_of_two_pipelines(nlp):
    small = ngram_pipeline(TINY_TEXTS[:3])
    items = compare_surprisal(nlp, TEXTS, nlp_b=small, names=["full", "small"])
    for item, a, b in zip(items, surprisal_items(nlp, TEXTS), surprisal_items(small, TEXTS)):
        assert item["names"] == ["full", "small"] and item["components"] == ["ngram_lm", "ngram_lm"]
        assert item["b"]["surprisals"] == b["surprisals"] and item["a"]["surprisals"] == a["surprisals"]
    assert comparison_summary(items)["perplexity_a"] < comparison_summary(items)["perplexity_b"]
    assert compare_surprisal(nlp, TEXTS[:1], nlp_b=small)[0]["names"] == ["A: ngram_lm", "B: ngram_lm"]


def test_comparison_errors(nlp):
    other = ngram_pipeline()
    other.tokenizer.add_special_case("cat", [{"ORTH": "c"}, {"ORTH": "at"}])
    with pytest.raises(ValueError, match=r"\[E180\].*text 0 \('the cat sat on the log'\).*token 1: 'cat' vs 'c'"):
        compare_surprisal(nlp, TEXTS, nlp_b=other)
    with pytest.raises(ValueError, match=r"\[E182\].*'bigram'"):
        compare_surprisal(nlp, TEXTS, component_a="bigram", component_b="bigram")
    single = spacy.blank("en")
    single.add_pipe("ngram_lm", config={"order": 2})
    single.initialize(lambda: make_examples(single))
    with pytest.raises(ValueError, match=r"\[E183\].*'ngram_lm'"):
        compare_surprisal(single, TEXTS)
    with pytest.raises(ValueError, match=r"\[E181\]"):
        compare_surprisal(nlp, TEXTS, names=["same", "same"])
    with pytest.raises(ValueError, match=r"\[E040\]"):
        compare_surprisal(nlp, TEXTS, component_b="nope")


# ---------------------------------------------------------------------------- generation
@pytest.fixture(scope="module")
def lstm_nlp():
    return train_tiny_lm(n_steps=3)[0]


@pytest.mark.parametrize("which", ["ngram", "lstm"])
def test_generation_items_record_each_step(nlp, lstm_nlp, which):
    pipeline = nlp if which == "ngram" else lstm_nlp
    items = generation_items(pipeline, ["the cat", "a"], top_alternatives=3, max_new_tokens=5)
    assert [item["prompt"] for item in items] == ["the cat", "a"]
    for item in items:
        (gen,) = item["generations"]
        n = len(gen["token_ids"])
        assert 1 <= n <= 5 and len(gen["words"]) == len(gen["whitespace"]) == len(gen["alternatives"]) == n
        assert "".join(w + s for w, s in zip(gen["words"], gen["whitespace"])) == gen["text"]
        for token_id, logprob, alts in zip(gen["token_ids"], gen["logprobs"], gen["alternatives"]):
            assert len(alts) == 3 and alts[0]["token_id"] == token_id  # greedy: the best one
            assert alts[0]["logprob"] == pytest.approx(logprob)
    assert json.loads(json.dumps(items)) == items
    sampled = generation_items(pipeline, ["the"], top_alternatives=0, do_sample=True, seed=0, num_return_sequences=2,
                               max_new_tokens=3)[0]["generations"]
    assert len(sampled) == 2 and all(alts == [] for gen in sampled for alts in gen["alternatives"])
    with pytest.raises(ValueError, match="top_alternatives"):
        generation_items(pipeline, ["the"], top_alternatives=-1)


def test_lm_views_with_nan_weights_raise_e079():
    """An LM with NaN weights: every LM view raises E079 (as nlp() does), never 'nan' in a view."""
    import numpy

    lm = train_tiny_lm(n_steps=1)[0]
    name = lm.pipe_names[-1]
    for node in lm.get_pipe(name).model.walk():
        for param in node.param_names:
            if node.has_param(param):
                node.set_param(param, numpy.full_like(node.get_param(param), numpy.nan))
    with pytest.raises(ValueError, match=rf"\[E079\] '{name}'"):
        surprisal_items(lm, ["the cat"])
    with pytest.raises(ValueError, match=rf"\[E079\] '{name}'"):
        compare_surprisal(lm, ["the cat"], nlp_b=train_tiny_lm(n_steps=1)[0])
    with pytest.raises(ValueError, match=rf"\[E079\] '{name}'"):
        generation_items(lm, ["the cat"], max_new_tokens=2)


# ---------------------------------------------------------------------------- `spacy lm explain`
def run(args, stdin=None):
    return CliRunner().invoke(lm_app, ["explain", *map(str, args)], input=stdin)


def one_line_error(result, text):
    assert result.exit_code == 1, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and text in lines[0], result.stderr


def test_cli_surprisal_is_auto_for_an_lm_pipeline(saved, tmp_path):
    out = tmp_path / "s.html"
    result = run([saved / "two_lms", "the cat sat", "--json", "--html", out])
    assert result.exit_code == 0, result.output
    (item,) = [json.loads(line) for line in result.stdout.splitlines()]
    assert item["component"] == "ngram_lm" and item["tokens"] == ["the", "cat", "sat"]
    page = out.read_text(encoding="utf-8")
    assert page.count('class="tok"') == 3 and "spacy-lm surprisal: " in page
    text = run([saved / "two_lms", "the cat sat", "-c", "bigram"])
    assert text.exit_code == 0 and text.stdout.startswith("bigram: perplexity ") and "most surprising" in text.stdout


def test_cli_comparisons(saved, tmp_path):
    result = run([saved / "two_lms", "-", "--compare-component", "bigram", "--json"], stdin="the cat sat\n\na dog\n")
    assert result.exit_code == 0, result.output
    items = [json.loads(line) for line in result.stdout.splitlines()]
    assert [item["text"] for item in items] == ["the cat sat", "a dog"]
    assert all(item["names"] == ["ngram_lm", "bigram"] for item in items)
    text = run([saved / "two_lms", "-", "--compare-component", "bigram"], stdin="the cat sat\na dog\n")
    assert text.exit_code == 0 and "ngram_lm better on" in text.stdout and "all 2 texts:" in text.stdout
    out = tmp_path / "c.html"
    other = run([saved / "two_lms", "the cat sat", "--compare", saved / "small", "--html", out])
    assert other.exit_code == 0, other.output
    assert f"{saved / 'two_lms'} better on" in other.stdout
    assert "slm-legend" in out.read_text(encoding="utf-8")


def test_cli_generation(saved):
    result = run([saved / "two_lms", "the cat", "--view", "generation", "-n", "3", "--top-alternatives", "2",
                  "--json"])
    assert result.exit_code == 0, result.output
    (gen,) = json.loads(result.stdout)["generations"]
    assert len(gen["token_ids"]) == 3 and all(len(alts) == 2 for alts in gen["alternatives"])
    text = run([saved / "two_lms", "the cat", "--view", "generation", "-n", "2", "--sample", "--seed", "1"])
    assert text.exit_code == 0 and text.stdout.startswith("the cat ") and "alternatives:" in text.stdout


def test_cli_textcat_view(tmp_path):
    from .test_explain import trained_textcat

    trained_textcat("textcat", linear=False, version=1, steps=2).to_disk(tmp_path / "tc")
    out = tmp_path / "t.html"
    result = run([tmp_path / "tc", "I like it", "--label", "POS", "--steps", "4", "--json", "--html", out])
    assert result.exit_code == 0, result.output
    item = json.loads(result.stdout)
    assert list(item["labels"]) == ["POS"] and len(item["labels"]["POS"]["attributions"]) == 3
    assert out.read_text(encoding="utf-8").count('class="label-row"') == 1
    text = run([tmp_path / "tc", "I like it", "--steps", "4"])
    assert text.exit_code == 0 and "  POS: score " in text.stdout and "  NEG: score " in text.stdout


def test_cli_errors_are_one_line(saved):
    pipeline = saved / "two_lms"
    one_line_error(run([pipeline, "x", "--view", "bogus"]), "[E085] --view must be one of auto, sentiment")
    one_line_error(run([pipeline, "x", "--view", "textcat"]), "[E041] The pipeline has no textcat component")
    one_line_error(run([pipeline, "x", "--view", "sentiment"]), "[E041] The pipeline has no sentiment_scorer")
    one_line_error(run([pipeline, "x", "--view", "generation", "--compare-component", "bigram"]),
                   "[E085] --view must be auto or surprisal with --compare")
    one_line_error(run([pipeline, "x", "--label", "POS"]), "[E085] --label must be used with the textcat view")
    one_line_error(run([pipeline, "x", "--top-alternatives", "-1"]), "[E085] --top-alternatives")
    one_line_error(run([pipeline, "x", "--compare-component", "ngram_lm"]), "[E182]")
    one_line_error(run([saved / "blank", "x"]), "[E184] Nothing to explain")
    one_line_error(run([saved / "blank", "x", "--view", "surprisal"]), "[E041] The pipeline has no language-model")
