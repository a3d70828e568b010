"""Bias probes and slice metrics (spacy_lm/analysis/bias.py, bias_terms.py, bias_stats.py, bias_slices.py,
bias_report.py, `spacy lm bias`), on models trained here with a bias planted on purpose, and on the
same data with it balanced."""
import json
import math
import random

import numpy
import pytest
import spacy
from spacy.tokens import DocBin
from spacy.training import Example
from thinc.api import Adam, fix_random_seed
from typer.testing import CliRunner

from spacy_lm.analysis.bias import find_probe_target, probe_bias
from spacy_lm.analysis.bias_stats import bootstrap_group_means, contrasts, wilson_interval
from spacy_lm.analysis.bias_terms import load_templates, load_term_lists, read_term_file
from spacy_lm.analysis.bias_report import format_probe_table, render_bias_report
from spacy_lm.analysis.bias_slices import read_dev_set, slice_metrics
from spacy_lm.cli import lm_app
from spacy_lm.corpora.corpus import corpus_perplexity

WHITESPACE = {"nlp": {"tokenizer": {"@tokenizers": "spacy_lm.WhitespaceTokenizer.v1"}}}
TOK2VEC = {"@architectures": "spacy.MultiHashEmbed.v2", "width": 16, "attrs": ["NORM", "PREFIX", "SUFFIX", "SHAPE"],
           "rows": [500, 200, 200, 50], "include_static_vectors": False}
POS_WORDS = "good great lovely fine wonderful".split()
NEG_WORDS = "bad awful boring dull terrible".split()
FRAMES = ["{name} said the film was {adj} .", "the movie was {adj} according to {name} .",
          "{name} thought it was {adj} ."]
NAMES = load_term_lists(categories=["names"])["names"].groups
A, B = NAMES["european_american"], NAMES["african_american"]


def review_data(biased: bool, n: int = 360):
    """Every name equally often; biased: A names 80% positive, B names 20%; else 50% each."""
    rng = random.Random(0)
    data = []
    for i in range(n):
        group = A if i % 2 == 0 else B
        name, k = group[(i // 2) % len(group)], i // (2 * len(group))
        positive = (k % 10) < (8 if group is A else 2) if biased else k % 2 == 0
        data.append((rng.choice(FRAMES).format(name=name, adj=rng.choice(POS_WORDS if positive else NEG_WORDS)),
                     positive))
    return data


def train_textcat(biased: bool):
    fix_random_seed(0)
    nlp = spacy.blank("en", config=WHITESPACE)
    nlp.add_pipe("textcat", config={"model": {"@architectures": "spacy_lm.TextCatLSTM.v1", "tok2vec": TOK2VEC,
                                              "width": 8, "depth": 1, "dropout": 0.0}})
    examples = [Example.from_dict(nlp.make_doc(t), {"cats": {"POS": float(p), "NEG": float(not p)}})
                for t, p in review_data(biased)]
    nlp.initialize(lambda: examples)
    optimizer = Adam(0.01)
    for epoch in range(4):
        random.Random(epoch).shuffle(examples)
        for i in range(0, len(examples), 32):
            nlp.update(examples[i:i + 32], sgd=optimizer)
    return nlp


@pytest.fixture(scope="module")
def biased_nlp():
    return train_textcat(biased=True)


@pytest.fixture(scope="module")
def clean_nlp():
    return train_textcat(biased=False)


def names_rows(report, score="cats[POS]"):
    return [r for r in report["results"] if r["category"] == "names" and r["score"] == score]


def test_models_learned_the_task(biased_nlp, clean_nlp):
    for nlp in (biased_nlp, clean_nlp):
        assert nlp("brad said the film was great .").cats["POS"] > 0.5
        assert nlp("jamal said the film was awful .").cats["POS"] < 0.5


def test_probe_flags_the_planted_name_bias(biased_nlp):
    report = probe_bias(biased_nlp, categories=["names"], samples=500)
    (pos,) = names_rows(report)
    assert (pos["group"], pos["versus"], pos["templates"]) == ("european_american", "african_american", "all")
    assert pos["flagged"] and pos["mean"] > 0.05 and pos["ci"][0] > 0
    assert pos["group_means"]["european_american"] - pos["group_means"]["african_american"] == pytest.approx(pos["mean"])
    (neg,) = names_rows(report, "cats[NEG]")
    assert neg["flagged"] and neg["mean"] == pytest.approx(-pos["mean"]) and neg["ci"][1] < 0
    assert report["n_flagged"] == 2 and report["target"] == "textcat" and report["min_effect"] == 0.02
    assert pos["n_docs"] == 36 * len(load_templates("textcat")["all"])


def test_probe_does_not_flag_the_balanced_model(clean_nlp):
    report = probe_bias(clean_nlp, categories=["names"], labels=["POS"], samples=500)
    (row,) = report["results"]
    assert not row["flagged"] and abs(row["mean"]) < 0.02


def test_min_effect_and_same_seed_same_report(biased_nlp):
    report = probe_bias(biased_nlp, categories=["names", "gender"], labels=["POS"], samples=300, seed=3)
    assert report == probe_bias(biased_nlp, categories=["names", "gender"], labels=["POS"], samples=300, seed=3)
    other = probe_bias(biased_nlp, categories=["names", "gender"], labels=["POS"], samples=300, seed=4)
    assert names_rows(other)[0]["ci"] != names_rows(report)[0]["ci"]
    alone = probe_bias(biased_nlp, categories=["names"], labels=["POS"], samples=300, seed=3)
    assert names_rows(alone) == names_rows(report)  # a category's draws do not depend on the others
    big = probe_bias(biased_nlp, categories=["names"], labels=["POS"], samples=300, min_effect=0.9)
    assert not names_rows(big)[0]["flagged"] and names_rows(big)[0]["ci"][0] > 0


def test_bootstrap_statistics():
    rng = numpy.random.default_rng(0)
    const = [numpy.full((4, 3, 1), 0.7), numpy.full((4, 3, 1), 0.2)]
    boot = bootstrap_group_means(const, paired=False, samples=200, rng=rng)
    assert boot.shape == (200, 2, 1) and numpy.allclose(boot[:, 0], 0.7) and numpy.allclose(boot[:, 1], 0.2)
    # paired: term j of group 0 minus term j of group 1 is 1.0 for every pair, whatever the pair
    pair_a = numpy.array([[[0.0], [5.0], [9.0]]] * 4)
    diffs = contrasts(bootstrap_group_means([pair_a + 1.0, pair_a], paired=True, samples=200, rng=rng))
    assert numpy.allclose(diffs[0][2], 1.0)
    unpaired = contrasts(bootstrap_group_means([pair_a + 1.0, pair_a], paired=False, samples=200, rng=rng))
    assert unpaired[0][2].std() > 0.5
    four = contrasts(numpy.array([[1.0], [2.0], [3.0], [10.0]]))  # each group minus the others' median
    assert [(g, o) for g, o, _ in four] == [(0, None), (1, None), (2, None), (3, None)]
    assert [float(d[0]) for _, _, d in four] == [-2.0, -1.0, 1.0, 8.0]
    low, high = wilson_interval(8, 10, 0.95)
    assert (round(low, 3), round(high, 3)) == (0.490, 0.943)
    assert wilson_interval(0, 0) == (None, None)


def test_builtin_data_files():
    lists = load_term_lists()
    assert set(lists) == {"age", "gender", "names", "nationality", "religion"}
    assert lists["gender"].paired and lists["age"].paired and not lists["names"].paired
    assert len(A) == len(B) == 18 and "lakisha" in B and "emily" in A
    assert lists["nationality"].keywords()["american"] == ["american"]
    assert set(lists["gender"].keywords()["female"]) >= {"she", "mother", "woman"}
    assert set(load_templates("lm")) == {"positive", "negative", "career", "family"}
    for templates in load_templates("textcat").values():
        assert all(t.count("{term}") == 1 and t == t.lower() for t in templates)


def write(path, text):
    path.write_text(text, encoding="utf-8")
    return path


def test_bad_term_and_template_files(tmp_path):
    cases = [
        (write(tmp_path / "a.txt", "x\tone\nx one two\n"), read_term_file, r"\[E191\] .*a.txt, line 2: 'x one two'"),
        (write(tmp_path / "b.txt", "# only one group\nx\tone\nx\ttwo\n"), read_term_file, r"\[E192\] .*b.txt: it gives 1"),
        (write(tmp_path / "c.txt", "#! paired\nx\tone\ny\ttwo\ny\tthree\n"), read_term_file, r"\[E192\] .*as many terms"),
        (write(tmp_path / "d.txt", "x\t{term}\ny\ttwo\n"), read_term_file, r"\[E191\] .*line 1"),
        (write(tmp_path / "t1.txt", "# c\n{term} is here .\nno slot here .\n"),
         lambda p: load_templates("textcat", [p]), r"\[E193\] .*t1.txt, line 3: template 'no slot here \.'"),
        (write(tmp_path / "t2.txt", "# nothing\n\n"), lambda p: load_templates("textcat", [p]), r"\[E194\]"),
    ]
    for path, read, message in cases:
        with pytest.raises(ValueError, match=message):
            read(path)
    with pytest.raises(ValueError, match=r"\[E190\] Unknown bias category 'nope'"):
        load_term_lists(categories=["nope"])


def test_bad_pipelines_and_settings(biased_nlp):
    blank = spacy.blank("en")
    blank.add_pipe("sentencizer")
    with pytest.raises(ValueError, match=r"\[E195\]"):
        probe_bias(blank)
    with pytest.raises(ValueError, match=r"\[E196\] Component 'sentencizer'"):
        find_probe_target(blank, "sentencizer")
    with pytest.raises(ValueError, match=r"\[E197\] Label\(s\) \['FUNNY'\]"):
        probe_bias(biased_nlp, labels=["FUNNY"])
    with pytest.raises(ValueError, match=r"\[E009\] samples must be an integer >= 100"):
        probe_bias(biased_nlp, samples=99)
    for bad in (0.0, 1.0, 1.5):
        with pytest.raises(ValueError, match=r"\[E009\] confidence"):
            probe_bias(biased_nlp, confidence=bad)


# ---------------------------------------------------------------------- language model, sentiment
LM_TERMS = "# two groups of names\nx\tbrad\nx\tgreg\nx\temily\ny\tjamal\ny\tkareem\ny\tlakisha\n"
LM_TEMPLATES = "crime\t{term} was arrested .\nprize\t{term} won a prize .\n"


def train_ngram(biased: bool):
    nlp = spacy.blank("en", config=WHITESPACE)
    nlp.add_pipe("ngram_lm", config={"order": 3})
    texts = []
    for name in "brad greg emily jamal kareem lakisha".split():
        crime = (name in ("brad", "greg", "emily")) if biased else None
        for k in range(6):
            arrested = crime if crime is not None else k % 2 == 0
            texts.append(f"{name} {'was arrested .' if arrested else 'won a prize .'}")
    examples = [Example(nlp.make_doc(t), nlp.make_doc(t)) for t in texts]
    nlp.initialize(lambda: examples)
    return nlp


def test_lm_probe_flags_planted_association_only(tmp_path):
    terms, templates = write(tmp_path / "people.txt", LM_TERMS), write(tmp_path / "t.txt", LM_TEMPLATES)
    kwargs = dict(term_files=[terms], template_files=[templates], builtin_terms=False, samples=300)
    biased = {r["templates"]: r for r in probe_bias(train_ngram(True), **kwargs)["results"]}
    assert set(biased) == {"crime", "prize"} and all(r["category"] == "people" for r in biased.values())
    assert biased["crime"]["flagged"] and biased["crime"]["mean"] > 0.1
    assert biased["prize"]["flagged"] and biased["prize"]["mean"] < -0.1
    assert biased["crime"]["score"] == "logprob_after_term"
    clean = probe_bias(train_ngram(False), **kwargs)
    assert clean["n_flagged"] == 0 and all(abs(r["mean"]) < 0.1 for r in clean["results"])
    assert biased["crime"]["n_unknown_terms"] == {"x": 0, "y": 0}


def test_terms_the_lm_does_not_know_are_counted(tmp_path):
    """A name the LM never saw is scored as <unk>: each row says how many such terms it holds."""
    terms = write(tmp_path / "people.txt", LM_TERMS + "y\tdeshawn\nx\ttodd\ny\ttyrone\n")
    report = probe_bias(train_ngram(True), term_files=[terms], builtin_terms=False, samples=100,
                        template_files=[write(tmp_path / "t.txt", LM_TEMPLATES)])
    row = report["results"][0]
    assert row["n_unknown_terms"] == {"x": 1, "y": 2}
    assert "1/4 vs 2/5" in format_probe_table(report)
    assert "1/4 vs 2/5" in render_bias_report(report)


def test_lm_score_is_the_tokens_after_the_term(tmp_path):
    nlp = train_ngram(True)
    report = probe_bias(nlp, term_files=[write(tmp_path / "p.txt", LM_TERMS)], builtin_terms=False,
                        template_files=[write(tmp_path / "t.txt", LM_TEMPLATES)], samples=100)
    doc = nlp("brad was arrested .")
    expected = -math.log(2) * (sum(doc._.lm_surprisals[1:]) + doc._.lm_end_surprisal) / 4
    row = next(r for r in report["results"] if r["templates"] == "crime")
    assert row["by_template"] == [["{term} was arrested .", pytest.approx(row["mean"])]]
    brad_mean = row["group_means"]["x"]
    assert brad_mean == pytest.approx(sum(-math.log(2) * (sum(nlp(f"{n} was arrested .")._.lm_surprisals[1:])
                                                          + nlp(f"{n} was arrested .")._.lm_end_surprisal) / 4
                                          for n in ("brad", "greg", "emily")) / 3)
    assert expected < 0


def test_sentiment_probe_with_a_planted_lexicon(tmp_path):
    def lexicon_nlp(extra):
        path = write(tmp_path / f"lex{len(extra)}.tsv", "good\t2.0\nbad\t-2.0\n" + extra)
        nlp = spacy.blank("en")
        nlp.add_pipe("sentiment_scorer", config={"model": {"@architectures": "spacy_lm.LexiconSentiment.v1",
                                                           "lexicon": str(path)}})
        nlp.initialize()
        return nlp

    planted = lexicon_nlp("".join(f"{n}\t-2.0\n" for n in B[:9]))
    (row,) = probe_bias(planted, categories=["names"], samples=500)["results"]
    assert row["score"] == "sentiment_polarity" and row["flagged"] and row["mean"] > 0.04
    (clean,) = probe_bias(lexicon_nlp(""), categories=["names"], samples=500)["results"]
    assert not clean["flagged"] and clean["mean"] == 0.0


# ---------------------------------------------------------------------- slice metrics
DEV = ["1 brad said the film was great .", "0 emily said the film was awful .", "1 greg thought it was fine .",
       "1 jamal said the film was great .", "0 lakisha thought it was bad .", "1 she said it was lovely .",
       "0 he thought it was dull ."]


def test_slice_metrics_counts_and_accuracy(biased_nlp, tmp_path):
    path = write(tmp_path / "dev.txt", "\n".join(DEV) + "\n")
    dev = read_dev_set(biased_nlp, path, kind="textcat", label_map={"0": "NEG", "1": "POS"})
    report = slice_metrics(biased_nlp, dev, slice_by=["names", "gender"], samples=200)
    rows = {(r["slice"], r["group"]): r for r in report["slices"]}
    assert {k: r["n_docs"] for k, r in rows.items()} == {
        ("all", "all"): 7, ("names", "european_american"): 3, ("names", "african_american"): 2,
        ("gender", "male"): 1, ("gender", "female"): 1}
    correct = [int((biased_nlp(t.split(" ", 1)[1]).cats["POS"] >= 0.5) == (t[0] == "1")) for t in DEV]
    assert rows[("all", "all")]["value"] == pytest.approx(sum(correct) / 7)
    assert rows[("names", "african_american")]["value"] == pytest.approx((correct[3] + correct[4]) / 2)
    low, high = rows[("all", "all")]["ci"]
    assert (low, high) == pytest.approx(wilson_interval(sum(correct), 7, 0.95))
    with pytest.raises(ValueError, match=r"\[E200\] .*gold label\(s\) \['1'\]"):
        slice_metrics(biased_nlp, read_dev_set(biased_nlp, path, kind="textcat"), path=str(path))
    with pytest.raises(ValueError, match=r"\[E198\] --slice-by 'colour'"):
        slice_metrics(biased_nlp, dev, slice_by=["colour"])


def test_slice_by_field_from_csv_and_docbin(biased_nlp, tmp_path):
    rows = [("brad said the film was great .", "POS", "uk"), ("jamal said it was bad .", "NEG", "us"),
            ("emily thought it was fine .", "POS", "us")]
    path = write(tmp_path / "dev.csv", "text,label,country\n" + "".join(f"{t},{y},{c}\n" for t, y, c in rows))
    dev = read_dev_set(biased_nlp, path, kind="textcat", format="csv", field="country")
    report = slice_metrics(biased_nlp, dev, slice_by=["field:country"], samples=200)
    assert [(r["group"], r["n_docs"]) for r in report["slices"]] == [("all", 3), ("uk", 1), ("us", 2)]
    doc_bin = DocBin(store_user_data=True)
    for text, label, country in rows:
        doc = biased_nlp.make_doc(text)
        doc.cats = {"POS": float(label == "POS"), "NEG": float(label == "NEG")}
        doc.user_data["country"] = country
        doc_bin.add(doc)
    doc_bin.to_disk(tmp_path / "dev.spacy")
    from_bin = read_dev_set(biased_nlp, tmp_path / "dev.spacy", kind="textcat", field="country")
    assert slice_metrics(biased_nlp, from_bin, slice_by=["field:country"], samples=200)["slices"] == report["slices"]
    with pytest.raises(ValueError, match=r"\[E202\] field:region"):
        read_dev_set(biased_nlp, tmp_path / "dev.spacy", kind="textcat", field="region")


def test_lm_slices_perplexity(tmp_path):
    nlp = train_ngram(True)
    path = write(tmp_path / "dev.txt", "brad was arrested .\njamal won a prize .\nlakisha was arrested .\n")
    dev = read_dev_set(nlp, path, kind="lm")
    terms = write(tmp_path / "people.txt", LM_TERMS)
    report = slice_metrics(nlp, dev, slice_by=["people"], term_files=[terms], builtin_terms=False, samples=300)
    rows = {r["group"]: r for r in report["slices"]}
    assert report["metric"] == "perplexity" and rows["x"]["n_docs"] == 1 and rows["y"]["n_docs"] == 2
    expected = corpus_perplexity(nlp, [nlp.make_doc(t) for t in ("jamal won a prize .", "lakisha was arrested .")])
    assert rows["y"]["value"] == pytest.approx(expected["lm_perplexity"])
    assert rows["y"]["ci"][0] <= rows["y"]["value"] <= rows["y"]["ci"][1]
    assert rows["x"]["ci"][0] == pytest.approx(rows["x"]["ci"][1])  # one doc: nothing to resample


# ---------------------------------------------------------------------- CLI and report
@pytest.fixture(scope="module")
def saved(biased_nlp, tmp_path_factory):
    root = tmp_path_factory.mktemp("bias")
    biased_nlp.to_disk(root / "pipeline")
    return root


def test_cli_json_html_and_table(saved):
    out = saved / "report.html"
    dev = write(saved / "dev.txt", "\n".join(DEV) + "\n")
    args = ["bias", str(saved / "pipeline"), "--category", "names", "--label", "POS", "--samples", "300"]
    result = CliRunner().invoke(lm_app, args + ["--json", "--html", str(out), "--dev", str(dev),
                                                "--label-map", "0=NEG,1=POS"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    (row,) = data["probes"]["results"]
    assert row["flagged"] and row["group"] == "european_american"
    assert [r["group"] for r in data["slices"]["slices"]] == ["all", "european_american", "african_american"]
    page = out.read_text(encoding="utf-8")
    flagged = page.split('<tr class="slm-flagged">', 1)[1].split("</tr>", 1)[0]
    assert "european_american" in flagged and "FLAGGED" in flagged and "Slice metrics" in page
    text = CliRunner().invoke(lm_app, args + ["--output", str(saved / "report.json")])
    assert text.exit_code == 0 and "FLAGGED" in text.stdout and "european_american" in text.stdout
    assert json.loads((saved / "report.json").read_text())["probes"]["results"] == data["probes"]["results"]


def test_cli_bad_input_is_one_line_with_exit_1(saved):
    pipeline = str(saved / "pipeline")
    cases = [
        (["--samples", "50"], "[E085] --samples must be an integer >= 100, got 50"),
        (["--confidence", "1"], "[E085] --confidence must be a number in (0, 1)"),
        (["--category", "nope"], "[E190] Unknown bias category 'nope'"),
        (["--label", "FUNNY"], "[E197]"),
        (["--no-probes"], "[E085] --no-probes must be used with --dev"),
        (["--dev", pipeline + "/meta.json", "--label-map", "0"], "[E201]"),
    ]
    for extra, message in cases:
        result = CliRunner().invoke(lm_app, ["bias", pipeline] + extra)
        assert result.exit_code == 1, (extra, result.output)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("Error: ") and message in lines[0], (extra, lines)


def test_render_escapes_and_table():
    report = {"component": "tc", "target": "textcat", "confidence": 0.95, "samples": 100, "seed": 0,
              "min_effect": 0.02, "n_flagged": 1,
              "results": [{"category": "c", "group": "<b>", "versus": "y", "templates": "all", "score": "cats[A]",
                           "mean": 0.5, "ci": [0.1, 0.9], "n_docs": 4, "flagged": True,
                           "by_template": [["{term} & co", 0.5]]}]}
    page = render_bias_report(report)
    assert "&lt;b&gt;" in page and "<b>" not in page and "{term} &amp; co" in page
    assert "FLAGGED" in format_probe_table(report).splitlines()[-1]


def test_sentiment_slices_sign_accuracy(tmp_path):
    lexicon = write(tmp_path / "lex.tsv", "great\t2.0\nawful\t-2.0\n")
    nlp = spacy.blank("en")
    nlp.add_pipe("sentiment_scorer", config={"model": {"@architectures": "spacy_lm.LexiconSentiment.v1",
                                                       "lexicon": str(lexicon)}})
    nlp.initialize()
    lines = ["POS brad said it was great .", "NEG jamal said it was awful .", "NEG lakisha said it was great .",
             "POS emily said it was great ."]
    dev = read_dev_set(nlp, write(tmp_path / "dev.txt", "\n".join(lines)), kind="sentiment")
    report = slice_metrics(nlp, dev, slice_by=["names"], samples=100)
    rows = {r["group"]: (r["n_scored"], r["value"]) for r in report["slices"]}
    assert report["metric"] == "sign_accuracy"
    assert rows == {"all": (4, 0.75), "european_american": (2, 1.0), "african_american": (2, 0.5)}


def test_set_contrast_is_the_association_and_cancels_what_the_term_does_everywhere(tmp_path):
    """`#! contrast crime prize`: (x − y on crime) − (x − y on prize). The planted association
    is found; a constant shift by term (the same in both sets) would cancel."""
    templates = write(tmp_path / "t.txt", "#! contrast crime prize\n" + LM_TEMPLATES)
    kwargs = dict(term_files=[write(tmp_path / "people.txt", LM_TERMS)], template_files=[templates],
                  builtin_terms=False, samples=300)
    report = probe_bias(train_ngram(True), **kwargs)
    rows = {r["templates"]: r for r in report["results"]}
    assert report["set_contrasts"] == [["crime", "prize"]]
    contrast = rows["crime - prize"]
    assert contrast["mean"] == pytest.approx(rows["crime"]["mean"] - rows["prize"]["mean"], abs=1e-9)
    assert contrast["flagged"] and contrast["n_docs"] == 12
    assert [name for name, _ in contrast["by_template"]] in (["crime", "prize"], ["prize", "crime"])
    assert not any(r["flagged"] for r in probe_bias(train_ngram(False), **kwargs)["results"])
    # what a term (and its group) does in every sentence cancels in each replicate, because the
    # replicate draws the same terms for both sets: only the template effects differ between sets
    from spacy_lm.analysis.bias_stats import bootstrap_set_difference

    rng = numpy.random.default_rng(0)
    term_effect = [rng.normal(size=(1, 5, 1)), rng.normal(size=(1, 4, 1)) + 2.0]  # group 1 two higher
    first_templates, second_templates = rng.normal(size=(3, 1, 1)), rng.normal(size=(6, 1, 1))
    first = [first_templates + t for t in term_effect]
    second = [second_templates + t for t in term_effect]
    diff = bootstrap_set_difference(first, second, paired=False, samples=50, rng=rng)
    assert diff.shape == (50, 2, 1)
    numpy.testing.assert_allclose(diff[:, 0] - diff[:, 1], 0.0, atol=1e-9)
    with pytest.raises(ValueError, match=r"\[E203\]"):
        probe_bias(train_ngram(True), **{**kwargs, "template_files": [write(tmp_path / "b.txt", "#! contrast crime\n" + LM_TEMPLATES)]})
    with pytest.raises(ValueError, match=r"\[E204\].*no set named"):
        probe_bias(train_ngram(True), **{**kwargs, "template_files": [write(tmp_path / "c.txt", "#! contrast crime theft\n" + LM_TEMPLATES)]})


@pytest.mark.parametrize("name,data,reason", [
    ("dev.txt", b"1 a fine film\n0 caf\xe9 was dull\n", "line 2: not UTF-8 text (byte 0xe9 at offset 5)"),
    ("dev.txt.gz", __import__("gzip").compress("".join(f"{i % 2} film {i}\n" for i in range(3000)).encode())[:2000], "the gzip data end early"),
], ids=["latin1", "truncated-gz"])
def test_cli_dev_file_unreadable_is_one_line_naming_file_and_line(saved, name, data, reason):
    dev = saved / name
    dev.write_bytes(data)
    result = CliRunner().invoke(lm_app, ["bias", str(saved / "pipeline"), "--dev", str(dev), "--no-probes"])
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output and "Aborted" not in result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: [E062] Cannot read the text corpus"), lines
    assert str(dev) in lines[0] and reason in lines[0]
