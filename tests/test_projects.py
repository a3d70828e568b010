"""The project templates in projects/: each workflow runs end to end (`spacy project run all`)
on tiny data made here, in the formats of the real data sets, with vars that shrink it. A
missing data folder stops the workflow with a message that says how to get the data. The
real data is never needed (a user's clone has none)."""
import csv
import gzip
import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PROJECTS = REPO / "projects"
OFFLINE = {**os.environ, "HF_DATASETS_OFFLINE": "1", "HF_HUB_OFFLINE": "1"}


def copy_project(name, tmp_path):
    dest = tmp_path / name
    ignore = shutil.ignore_patterns("assets", "corpus", "training", "metrics", "packages", "project.lock",
                                    "__pycache__")
    shutil.copytree(PROJECTS / name, dest, ignore=ignore)
    return dest


def project_run(project_dir, command, *overrides):
    cmd = [sys.executable, "-m", "spacy", "project", "run", command, str(project_dir), *overrides]
    return subprocess.run(cmd, capture_output=True, text=True, env=OFFLINE)


def vars_(**values):
    return [arg for key, value in values.items() for arg in (f"--vars.{key}", str(value))]


# ---------------------------------------------------------------------------------- common
@pytest.mark.parametrize("name", ["wikitext2_lm", "imdb_textcat", "sst2_sentiment", "multi30k_translation"])
def test_project_readme_is_spacy_project_document_output(name, tmp_path):
    from weasel.cli.document import project_document

    out = tmp_path / "README.md"
    project_document(copy_project(name, tmp_path), out)  # a copy: loading a project creates its folders
    assert (PROJECTS / name / "README.md").read_text(encoding="utf-8") == out.read_text(encoding="utf-8"), \
        f"regenerate it: python -m spacy project document projects/{name} --output projects/{name}/README.md"


TEXTCAT_CONFIGS = ["lstm_lm.cfg", "lstm_lm_finetune.cfg", "textcat_lstm.cfg", "textcat_lstm_lm.cfg"]


@pytest.mark.parametrize("name,configs", [("wikitext2_lm", ["lstm_lm.cfg", "ngram_lm.cfg"]),
                                          ("imdb_textcat", TEXTCAT_CONFIGS), ("sst2_sentiment", TEXTCAT_CONFIGS),
                                          ("multi30k_translation", ["translator.cfg"])])
def test_project_configs_are_the_repository_configs(name, configs):
    # A cloned project stands alone, so it carries copies; they must not drift from configs/.
    for config in configs:
        assert (PROJECTS / name / "configs" / config).read_text(encoding="utf-8") == \
            (REPO / "configs" / config).read_text(encoding="utf-8"), f"cp configs/{config} projects/{name}/configs/"


# ---------------------------------------------------------------------------- wikitext2_lm
WIKI_LINES = [" = Valkyria Chronicles = ", "", " the cat sat on the mat . the dog sat on the log . ",
              " a cat saw a dog and the dog saw a <unk> . ", "", " the <unk> sat on the mat @-@ log . "]
TINY_LM = vars_(expected_tokens="any", max_steps=10, evals=2, width=16, depth=1, ngram_order=3, cutoffs="[5,12]")


def write_wikitext(data_dir):
    data_dir.mkdir(parents=True, exist_ok=True)
    with gzip.open(data_dir / "train.txt.gz", "wt", encoding="utf-8") as file_:  # the shared copy is gzipped
        file_.write("\n".join(WIKI_LINES * 20) + "\n")
    for split in ("valid", "test"):
        (data_dir / f"{split}.txt").write_text("\n".join(WIKI_LINES) + "\n", encoding="utf-8")


@pytest.mark.slow
def test_wikitext2_lm_workflow_runs_on_tiny_data(tmp_path):
    project = copy_project("wikitext2_lm", tmp_path)
    data = tmp_path / "wikitext-2"
    write_wikitext(data)
    result = project_run(project, "all", *vars_(data_dir=data), *TINY_LM)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    stats = json.loads((project / "corpus" / "stats.json").read_text())
    assert stats["train"]["tokens_with_eos"] == sum(len(line.split()) + 1 for line in WIKI_LINES * 20)
    table = json.loads((project / "metrics" / "perplexity.json").read_text())
    assert [row["component"] for row in table] == ["lstm_lm", "ngram_lm"]
    for row in table:
        assert row["test"]["tokens"] == sum(len(line.split()) + 1 for line in WIKI_LINES)
        assert 1.0 < row["test"]["perplexity"] < 30  # 26 types: uniform would be ~27
    assert "| lstm_lm |" in (project / "metrics" / "perplexity.md").read_text()
    samples = [json.loads(line) for line in (project / "metrics" / "samples.jsonl").read_text().splitlines()]
    assert {s["lm"] for s in samples} == {"lstm_lm", "ngram_lm"} and all(isinstance(s["text"], str) for s in samples)
    wheel = project / "packages" / "en_wikitext2_lm-0.0.0" / "dist" / "en_wikitext2_lm-0.0.0-py3-none-any.whl"
    assert wheel.exists()
    # A second run reruns nothing: every step's deps and outputs are declared.
    again = project_run(project, "all", *vars_(data_dir=data), *TINY_LM)
    assert again.returncode == 0, again.stderr
    for step in ("preprocess", "train", "ngram", "evaluate", "generate"):
        assert f"Skipping '{step}'" in again.stdout


def load_project_script(project: str, name: str):
    import importlib.util

    spec = importlib.util.spec_from_file_location(f"{project}_{name}", PROJECTS / project / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_wikitext2_lm_train_evaluates_on_the_last_step_and_refuses_an_untrained_model_best(tmp_path):
    import srsly

    train = load_project_script("wikitext2_lm", "train")
    assert train.plan_evaluations(100, 4) == (25, 100)
    assert train.plan_evaluations(10, 4) == (2, 10)
    assert train.plan_evaluations(3, 5) == (1, 3)
    log = tmp_path / "train_log.jsonl"
    srsly.write_jsonl(log, [{"step": 0, "score": 0.004}, {"step": 50, "score": 0.003}, {"step": 100, "score": 0.004}])
    with pytest.raises(SystemExit, match="model-best never improved on the first evaluation"):
        train.check_improved(log)
    srsly.write_jsonl(log, [{"step": 0, "score": 0.004}])
    with pytest.raises(SystemExit, match="never improved"):
        train.check_improved(log)
    srsly.write_jsonl(log, [{"step": 0, "score": 0.004}, {"step": 50, "score": 0.009}])
    assert "best score 0.009000 at step 50" in train.check_improved(log)
    with pytest.raises(SystemExit, match="No training log"):
        train.check_improved(tmp_path / "missing.jsonl")


def test_wikitext2_lm_without_data_says_how_to_get_it(tmp_path):
    project = copy_project("wikitext2_lm", tmp_path)
    missing = tmp_path / "no-such-folder"
    result = project_run(project, "all", *vars_(data_dir=missing), *TINY_LM)
    assert result.returncode != 0
    message = result.stdout + result.stderr
    assert f"WikiText-2 is not in {missing}" in message
    assert "spacy project run fetch" in message and "--vars.data_dir /path/to/wikitext-2" in message
    assert not (project / "training").exists() or not any((project / "training").iterdir())


def test_wikitext2_lm_checks_token_counts(tmp_path):
    project = copy_project("wikitext2_lm", tmp_path)
    data = tmp_path / "wikitext-2"
    write_wikitext(data)
    script = project / "scripts" / "preprocess.py"  # default --expected: the real counts
    result = subprocess.run([sys.executable, script, data, tmp_path / "corpus"], capture_output=True, text=True)
    assert result.returncode != 0
    assert "Unexpected WikiText-2 token counts" in result.stdout + result.stderr
    assert "--vars.expected_tokens any" in result.stdout + result.stderr


# ------------------------------------------------------------ imdb_textcat, sst2_sentiment
POSITIVE = ["A fine, moving film.<br /><br />I loved it!", "Great fun from start to end.", "Wonderful acting."]
NEGATIVE = ["Dull and far too long.<br />Avoid.", "A boring mess, badly acted.", "Terrible plot."]
TINY_TEXTCAT = vars_(expected_rows="any", lm_steps=10, textcat_steps=10, eval_frequency=5, lm_width=16, lm_depth=1,
                     lm_output="full", textcat_width=8, general_steps=10, general_eval_frequency=5)


def write_imdb(data_dir):
    """IMDB's CSV layout (header id,label,rating,text; gzipped), as the shared copy and `fetch` write it."""
    data_dir.mkdir(parents=True, exist_ok=True)
    for split, n in (("train", 8), ("test", 3)):
        with gzip.open(data_dir / f"{split}.csv.gz", "wt", encoding="utf-8", newline="") as file_:
            writer = csv.writer(file_)
            writer.writerow(["id", "label", "rating", "text"])
            for i in range(n):
                writer.writerows([f"{i}_9", 1, 9, text] for text in POSITIVE)
                writer.writerows([f"{i}_2", 0, 2, text] for text in NEGATIVE)


def write_sst2(data_dir):
    """SST-2's sentence-level files: `<label> <sentence>` lines, lower-cased and tokenised."""
    data_dir.mkdir(parents=True, exist_ok=True)
    lines = ["1 a fine , moving film .", "0 dull and far too long .", "1 great fun .", "0 a boring mess ."]
    for split, n in (("train", 10), ("dev", 2), ("test", 2)):
        (data_dir / f"stsa.binary.{split}").write_text("\n".join(lines * n) + "\n", encoding="utf-8")


def has_sentiment_lexicon():
    """The evaluate step adds a zero-shot row when sentiment_scorer and its lexicon are installed."""
    import spacy

    try:
        nlp = spacy.blank("en")
        nlp.add_pipe("sentiment_scorer")
        nlp.initialize()
    except Exception:
        return False
    return True


TEXTCAT_PROJECTS = [("imdb_textcat", write_imdb, vars_(dev_size=12)), ("sst2_sentiment", write_sst2, [])]


@pytest.mark.slow
@pytest.mark.parametrize("name,write_data,extra", TEXTCAT_PROJECTS)
def test_textcat_workflow_runs_on_tiny_data(name, write_data, extra, tmp_path):
    import spacy

    project = copy_project(name, tmp_path)
    data = tmp_path / "data"
    write_data(data)
    general = tmp_path / "wikitext-2"
    write_wikitext(general)  # ULMFiT step 1's general text
    result = project_run(project, "all", *vars_(data_dir=data, general_dir=general, general_train=general / "train.txt.gz",
                                                general_dev=general / "valid.txt"), *TINY_TEXTCAT, *extra)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    # Each step's output fed the next: the classifier's LM keeps the vocabulary of the general text
    # (lower-cased WikiText words the task never uses) through fine-tuning.
    lm_vocab = spacy.load(project / "training" / "textcat_lm" / "model-best").get_pipe("lstm_lm").lm_vocab
    assert "valkyria" in lm_vocab and "Valkyria" not in lm_vocab
    results = json.loads((project / "metrics" / "results.json").read_text())
    names = [row["name"] for row in results["classifiers"]]
    assert names[:2] == ["lm_transfer", "from_scratch"]
    assert (names[2:] == ["lexicon (sentiment_scorer, zero-shot)"]) == has_sentiment_lexicon()
    for row in results["classifiers"]:
        assert row["test"]["docs"] > 0 and 0.0 <= row["test"]["accuracy"] <= 1.0
    assert results["lm"]["perplexity"] > 1.0
    assert "| lm_transfer |" in (project / "metrics" / "results.md").read_text()
    # the bias step: probes and slices (on the test split) of the transfer classifier
    bias = json.loads((project / "metrics" / "bias.json").read_text())
    assert bias["probes"]["component"] == "textcat" and bias["probes"]["results"]
    assert bias["slices"]["slices"][0]["group"] == "all" and bias["slices"]["slices"][0]["n_docs"] > 0
    assert "Counterfactual probes" in (project / "metrics" / "bias.html").read_text()
    wheel = project / "packages" / f"en_{name}-0.0.0" / "dist" / f"en_{name}-0.0.0-py3-none-any.whl"
    assert wheel.exists()
    if name == "imdb_textcat":  # tokenised with spaCy's tokenizer, <br /> removed
        assert (project / "corpus" / "lm_train.txt").read_text().splitlines()[0].endswith(" .")
        assert "<br" not in (project / "corpus" / "train.csv").read_text()


@pytest.mark.parametrize("name,write_data,extra", TEXTCAT_PROJECTS)
def test_textcat_projects_without_data_say_how_to_get_it(name, write_data, extra, tmp_path):
    # The scripts of `fetch` (offline here) and `preprocess`, called directly: the wikitext2_lm test
    # above shows the same message stopping `spacy project run all`.
    missing = tmp_path / "no-such-folder"
    for script in ("fetch_data.py", "preprocess.py"):
        cmd = [sys.executable, PROJECTS / name / "scripts" / script, missing]
        result = subprocess.run(cmd + ([tmp_path / "corpus"] if script == "preprocess.py" else []),
                                capture_output=True, text=True, env=OFFLINE)
        assert result.returncode != 0
        assert f"is not in {missing}" in result.stderr
        assert "spacy project run fetch" in result.stderr and "--vars.data_dir /path/to/" in result.stderr


@pytest.mark.parametrize("name,write_data,extra", TEXTCAT_PROJECTS)
def test_textcat_projects_check_counts(name, write_data, extra, tmp_path):
    project = copy_project(name, tmp_path)
    data = tmp_path / "data"
    write_data(data)
    script = project / "scripts" / "preprocess.py"  # default --expected: the real counts
    result = subprocess.run([sys.executable, script, data, tmp_path / "corpus"], capture_output=True, text=True)
    assert result.returncode != 0
    assert "counts in" in result.stderr and "--vars.expected_rows any" in result.stderr


def test_textcat_projects_share_one_evaluate_script():
    assert (PROJECTS / "imdb_textcat" / "scripts" / "evaluate.py").read_text() == \
        (PROJECTS / "sst2_sentiment" / "scripts" / "evaluate.py").read_text()


@pytest.mark.parametrize("name", ["imdb_textcat", "sst2_sentiment"])
def test_textcat_projects_fetch_wikitext2_as_the_lm_project_does(name, tmp_path):
    assert (PROJECTS / name / "scripts" / "fetch_wikitext2.py").read_text() == \
        (PROJECTS / "wikitext2_lm" / "scripts" / "fetch_data.py").read_text()
    # offline and without data: the help names this project's command and variable
    cmd = [sys.executable, PROJECTS / name / "scripts" / "fetch_wikitext2.py", tmp_path / "none",
           "--command", "fetch_general", "--var", "general_dir", "--hf-dataset", "no-such/dataset"]
    result = subprocess.run(cmd, capture_output=True, text=True, env=OFFLINE)
    assert result.returncode != 0
    assert "spacy project run fetch_general" in result.stderr and "--vars.general_dir" in result.stderr


# -------------------------------------------------------------------- multi30k_translation
SUBJECTS = [("Ein Mann", "A man"), ("Eine Frau", "A woman"), ("Ein Kind", "A child"), ("Ein Hund", "A dog")]
ACTIONS = [("läuft.", "runs."), ("schläft.", "sleeps."), ("spielt im Park.", "plays in the park."),
           ("isst einen Apfel.", "eats an apple."), ("lacht.", "laughs.")]
MULTI30K_PAIRS = [(f"{de} {de_action}", f"{en} {en_action}") for de, en in SUBJECTS for de_action, en_action in ACTIONS]
MULTI30K_SPLITS = {"train": MULTI30K_PAIRS, "val": MULTI30K_PAIRS[:4], "test_2016_flickr": MULTI30K_PAIRS[5:8]}
TINY_TRANSLATION = vars_(expected_pairs="any", max_steps=4, eval_frequency=2, batch_size=8, width=16, n_samples=2)


def write_multi30k(data_dir):
    """Multi30k's raw layout as the shared copy has it: {split}.{de,en}.gz, line i of one translating line i
    of the other."""
    data_dir.mkdir(parents=True, exist_ok=True)
    for split, pairs in MULTI30K_SPLITS.items():
        for lang, side in (("de", 0), ("en", 1)):
            with gzip.open(data_dir / f"{split}.{lang}.gz", "wt", encoding="utf-8") as file_:
                file_.write("".join(pair[side] + "\n" for pair in pairs))


@pytest.mark.slow
def test_multi30k_translation_workflow_runs_on_tiny_data(tmp_path):
    project = copy_project("multi30k_translation", tmp_path)
    data = tmp_path / "multi30k"
    write_multi30k(data)
    result = project_run(project, "all", *vars_(data_dir=data), *TINY_TRANSLATION)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert (project / "assets" / "multi30k" / "train.de.gz").read_bytes() == (data / "train.de.gz").read_bytes()
    stats = json.loads((project / "corpus" / "stats.json").read_text())
    assert {split: stats[split]["pairs"] for split in stats} == {"train": 20, "val": 4, "test_2016_flickr": 3}
    for direction in ("de_en", "en_de"):
        assert (project / "training" / direction / "model-best" / "translator").is_dir()
    meta = json.loads((project / "training" / "en_de" / "model-best" / "meta.json").read_text())
    assert meta["lang"] == "en"
    table = json.loads((project / "metrics" / "translation.json").read_text())
    assert [(row["name"], row["direction"]) for row in table] == [("de_en", "de-en"), ("en_de", "en-de")]
    for row in table:
        assert list(row["test"]) == ["greedy", "beam5"]
        for scores in row["test"].values():
            assert scores["translation_n"] == 3
            for key in ("translation_bleu", "translation_tok_bleu", "translation_chrf"):
                assert 0.0 <= scores[key] <= 1.0
            assert scores["translation_bleu_signature"].startswith("nrefs:1|case:mixed")
    assert "| de_en | de-en | beam5 |" in (project / "metrics" / "translation.md").read_text()
    outputs = (project / "metrics" / "translations" / "en_de.beam5.txt").read_text(encoding="utf-8")
    assert len(outputs.splitlines()) == 3
    samples = [json.loads(line) for line in (project / "metrics" / "samples.jsonl").read_text().splitlines()]
    assert [s["direction"] for s in samples] == ["de-en"] * 2 + ["en-de"] * 2
    assert samples[0]["source"] == MULTI30K_SPLITS["test_2016_flickr"][0][0]
    assert all(isinstance(s["greedy"], str) and isinstance(s["beam5"], str) for s in samples)
    cli = importlib.util.find_spec("spacy_lm.cli.translate") is not None  # else the script calls translate()
    assert {s["via"] for s in samples} == {"spacy lm translate" if cli else "Translator.translate"}
    package = project / "packages" / "de_multi30k_translation-0.0.0"
    assert (package / "dist" / "de_multi30k_translation-0.0.0-py3-none-any.whl").exists()
    # A second run reruns nothing but fetch, which writes the same bytes again.
    again = project_run(project, "all", *vars_(data_dir=data), *TINY_TRANSLATION)
    assert again.returncode == 0, again.stderr
    for step in ("check", "train_de_en", "train_en_de", "evaluate", "translate_samples"):
        assert f"Skipping '{step}'" in again.stdout


def test_multi30k_translation_without_data_says_how_to_get_it(tmp_path):
    missing = tmp_path / "no-such-folder"
    script = PROJECTS / "multi30k_translation" / "scripts" / "fetch_data.py"
    for source in ("local", "hub", "auto"):  # offline here: the hub fails too
        cmd = [sys.executable, script, tmp_path / "assets", "--source", source, "--data-dir", missing]
        result = subprocess.run(cmd, capture_output=True, text=True, env=OFFLINE)
        assert result.returncode != 0
        assert "Multi30k is not in" in result.stderr
        # auto (the default) goes to the hub when data_dir lacks the files: a fresh clone needs no setting
        assert ("downloading it from the HuggingFace hub" in result.stdout) == (source == "auto")
        assert "--vars.source hub" in result.stderr and "--vars.data_dir /path/to/multi30k" in result.stderr
    assert not (tmp_path / "assets").exists()


def test_multi30k_translation_fetch_from_the_hub_writes_the_raw_layout(tmp_path):
    # `--vars.source hub` on a local folder in bentrevett/multi30k's layout (splits train, validation, test;
    # columns de, en), which `datasets` loads offline: the files match the raw ones, byte for byte on a rerun.
    pytest.importorskip("datasets")
    hub = tmp_path / "hub"
    hub.mkdir()
    for split, name in (("train", "train"), ("validation", "val"), ("test", "test_2016_flickr")):
        rows = [{"en": en, "de": de} for de, en in MULTI30K_SPLITS[name]]
        (hub / f"{split}.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    script = PROJECTS / "multi30k_translation" / "scripts" / "fetch_data.py"
    out = tmp_path / "assets"
    cmd = [sys.executable, script, out, "--source", "hub", "--hf-dataset", hub]
    written = []
    for _ in range(2):
        result = subprocess.run(cmd, capture_output=True, text=True, env={**OFFLINE, "HF_HOME": str(tmp_path / "hf")})
        assert result.returncode == 0, result.stderr[-2000:]
        written.append({path.name: path.read_bytes() for path in out.iterdir()})
    assert written[0] == written[1] and len(written[0]) == 6
    raw = tmp_path / "raw"
    write_multi30k(raw)
    for name in written[0]:
        assert gzip.decompress(written[0][name]) == gzip.decompress((raw / name).read_bytes())


def test_multi30k_translation_checks_counts_and_alignment(tmp_path):
    data = tmp_path / "multi30k"
    write_multi30k(data)
    script = PROJECTS / "multi30k_translation" / "scripts" / "check_data.py"
    result = subprocess.run([sys.executable, script, data, tmp_path / "stats.json"], capture_output=True, text=True)
    assert result.returncode != 0  # default --expected: the real counts
    assert "Unexpected Multi30k pair counts" in result.stderr and "train: 20 (expected 29,000)" in result.stderr
    assert "--vars.expected_pairs any" in result.stderr
    with gzip.open(data / "val.en.gz", "at", encoding="utf-8") as file_:
        file_.write("One line too many.\n")
    cmd = [sys.executable, script, data, tmp_path / "stats.json", "--expected", "any"]
    result = subprocess.run(cmd, capture_output=True, text=True)
    assert result.returncode != 0
    assert "val: 4 German lines but 5 English lines" in result.stderr and "not aligned" in result.stderr


# ------------------------------------------------------------------------------- README.md
README = (REPO / "README.md").read_text(encoding="utf-8")


def test_readme_starts_with_the_main_job_and_the_tests():
    start = README.index("## Start here")
    first_block = README[start:].split("```bash\n", 1)[1].split("```", 1)[0].strip().splitlines()
    assert first_block == ['pip install -e ".[dev,datasets]" && python -m spacy project run all projects/wikitext2_lm',
                           "python -m pytest tests"]


def test_readme_lists_every_registered_name():
    import configparser

    config = configparser.ConfigParser()
    config.read(REPO / "setup.cfg")
    table = README[README.index("## Registered names"):]
    table = table[: table.index("\n## ")]
    for group, entries in config["options.entry_points"].items():
        for line in entries.strip().splitlines():
            name = line.split("=")[0].strip()
            expected = f"`spacy {name} " if group == "spacy_cli" else f"`{name}`"
            assert expected in table, f"{group}: {name} is not in README's table of registered names"
