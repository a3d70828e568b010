"""projects/squad_qa: the workflow runs end to end (`spacy project run all`) on tiny SQuAD-format
files made here (train, dev and an XQuAD-en subset of dev), with vars that shrink it; `fetch`
from a local folder and from a hub-layout dataset, `check`'s counts and alignment report, and
the optional LM features (`pretrain_lm`: the LM's text is train contexts only, never dev). The
helpers are tests/test_projects.py's."""
import gzip
import json
import subprocess
import sys

import pytest

from .test_projects import OFFLINE, PROJECTS, REPO, copy_project, project_run, vars_

NAME = "squad_qa"
PEOPLE = [("Marie Curie", "Warsaw", "1867"), ("Alan Turing", "London", "1912"), ("Ada Lovelace", "London", "1815"),
          ("Niels Bohr", "Copenhagen", "1885"), ("Lise Meitner", "Vienna", "1878"), ("Enrico Fermi", "Rome", "1901"),
          ("Emmy Noether", "Erlangen", "1882"), ("Paul Dirac", "Bristol", "1902"), ("Max Born", "Breslau", "1882"),
          ("Erwin Schrodinger", "Vienna", "1887"), ("Grace Hopper", "New York", "1906"), ("Kurt Godel", "Brno", "1906")]
TINY_QA = vars_(expected_questions="any", heldout_articles=2, max_steps=6, eval_frequency=3, batch_size=4, width=8,
                depth=1, embed_size=8, min_freq=1, dev_questions=0, n_samples=2)


def article(i, person, city, year, prefix):
    """One article, two paragraphs, three questions; one answer ("Paris" in "Parisian") is not on token
    boundaries (the reader widens it)."""
    first = f"{person} was born in {city} in {year}. {person.split()[0]} studied physics at a Parisian school."
    second = f"In {int(year) + 30}, {person} moved to a new city. The work of {person.split()[-1]} is famous."
    qas = [(first, f"Where was {person} born?", city), (first, f"When was {person} born?", year),
           (second, f"Who moved to a new city in {int(year) + 30}?", person)]
    if i == 0 and prefix == "train":
        qas.append((first, f"In which city did {person.split()[0]} study?", "Paris"))
    paragraphs = []
    for context in (first, second):
        paragraphs.append({"context": context, "qas": [
            {"id": f"{prefix}-{i}-{j}", "question": question,
             "answers": [{"text": answer, "answer_start": context.index(answer)}]}
            for j, (c, question, answer) in enumerate(qas) if c == context]})
    return {"title": f"{person} ({prefix})", "paragraphs": paragraphs}


def squad_json(prefix, people):
    return {"version": "1.1", "data": [article(i, *p, prefix) for i, p in enumerate(people)]}


def write_squad(data_dir, gz=True):
    """train (8 articles, 25 questions), dev (4 articles, 12 questions) and XQuAD-en (dev's first article)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    files = {"train-v1.1.json": squad_json("train", PEOPLE[:8]), "dev-v1.1.json": squad_json("dev", PEOPLE[8:])}
    files["xquad.en.json"] = {"version": "1.1", "data": files["dev-v1.1.json"]["data"][:1]}
    for name, data in files.items():
        text = json.dumps(data)
        if gz and name != "xquad.en.json":  # as the shared copy: the SQuAD files gzipped, XQuAD not
            with gzip.open(data_dir / f"{name}.gz", "wt", encoding="utf-8") as file_:
                file_.write(text)
        else:
            (data_dir / name).write_text(text, encoding="utf-8")
    return files


def contexts(data):
    return [p["context"] for a in data["data"] for p in a["paragraphs"]]


def test_project_readme_is_spacy_project_document_output(tmp_path):
    from weasel.cli.document import project_document

    out = tmp_path / "README.md"
    project_document(copy_project(NAME, tmp_path), out)
    assert (PROJECTS / NAME / "README.md").read_text(encoding="utf-8") == out.read_text(encoding="utf-8"), \
        f"regenerate it: python -m spacy project document projects/{NAME} --output projects/{NAME}/README.md"


@pytest.mark.parametrize("config", ["qa.cfg", "lstm_lm.cfg"])
def test_project_configs_are_the_repository_configs(config):
    assert (PROJECTS / NAME / "configs" / config).read_text(encoding="utf-8") == \
        (REPO / "configs" / config).read_text(encoding="utf-8"), f"cp configs/{config} projects/{NAME}/configs/"


@pytest.mark.slow
def test_squad_qa_workflow_runs_on_tiny_data(tmp_path):
    project = copy_project(NAME, tmp_path)
    data = tmp_path / "squad"
    files = write_squad(data)
    baselines = tmp_path / "qa_baselines.json"  # benchmarks/qa_baselines.py's layout
    baselines.write_text(json.dumps({"results": {split: {"questions": 1, "random": {"exact_match": 1.5, "f1": 4.25},
                                                         "word_overlap": {"exact_match": 9.0, "f1": 15.5}}
                                                 for split in ("dev", "xquad")}}), encoding="utf-8")
    run_vars = [*vars_(data_dir=data, baselines=baselines), *TINY_QA]
    result = project_run(project, "all", *run_vars)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assets = project / "assets" / "squad"
    assert (assets / "train-v1.1.json.gz").read_bytes() == (data / "train-v1.1.json.gz").read_bytes()
    assert json.loads(gzip.decompress((assets / "xquad.en.json.gz").read_bytes())) == files["xquad.en.json"]
    stats = json.loads((project / "corpus" / "stats.json").read_text())
    assert {split: [stats[split][k] for k in ("articles", "paragraphs", "questions", "answers")] for split in stats} \
        == {"train": [8, 16, 25, 25], "dev": [4, 8, 12, 12], "xquad": [1, 2, 3, 3]}
    alignment = stats["train"]["alignment"]
    assert alignment["answers_on_token_boundaries"] == 24 and alignment["answers_widened"] == 1  # Paris|ian
    assert alignment["oracle_exact_match"] < 100.0 == stats["dev"]["alignment"]["oracle_exact_match"]
    assert "Question counts match" not in result.stdout  # expected_questions any: no check
    assert (project / "training" / "lm" / "README.md").read_text().startswith("lm_features is false")
    meta = json.loads((project / "training" / "qa" / "model-best" / "meta.json").read_text())
    assert meta["pipeline"] == ["qa"] and meta["lang"] == "en"
    rows = json.loads((project / "metrics" / "results.json").read_text())
    assert [row["name"] for row in rows] == ["qa", "random (baseline)", "word_overlap (baseline)"]
    assert rows[0]["dev"]["total"] == 12 and rows[0]["xquad"]["total"] == 3
    for split in ("dev", "xquad"):
        assert 0.0 <= rows[0][split]["exact_match"] <= rows[0][split]["f1"] + 1e-9 <= 100.0 + 1e-9
    assert rows[0]["heldout"]["f1"] is not None and 0.0 <= rows[0]["heldout"]["f1"] <= 100.0
    table = (project / "metrics" / "results.md").read_text()
    assert "| qa |" in table and "| random (baseline) | 1.50 | 4.25 | 1.50 | 4.25 | - | - |" in table
    samples = [json.loads(line) for line in (project / "metrics" / "samples.jsonl").read_text().splitlines()]
    first = files["dev-v1.1.json"]["data"][0]["paragraphs"][0]
    assert [s["question"] for s in samples] == [qa["question"] for qa in first["qas"][:2]]
    for sample in samples:
        assert 1 <= len(sample["answers"]) <= 3
        for answer in sample["answers"]:
            assert first["context"][answer["start_char"]:answer["end_char"]] == answer["text"]
    view = (project / "metrics" / "qa_view.html").read_text(encoding="utf-8")
    assert view.count('class="slm-lm slm-qa"') == 2 and "P(start) = " in view and "P(end) = " in view
    wheel = project / "packages" / f"en_{NAME}-0.0.0" / "dist" / f"en_{NAME}-0.0.0-py3-none-any.whl"
    assert wheel.exists()
    # A second run reruns nothing but fetch, which writes the same bytes again.
    again = project_run(project, "all", *run_vars)
    assert again.returncode == 0, again.stderr
    for step in ("check", "pretrain_lm", "train", "evaluate", "samples"):
        assert f"Skipping '{step}'" in again.stdout


@pytest.mark.slow
def test_squad_qa_lm_features_read_an_lm_trained_on_train_contexts_only(tmp_path):
    import spacy

    project = copy_project(NAME, tmp_path)
    data = tmp_path / "squad"
    files = write_squad(data, gz=False)
    wikitext = tmp_path / "wikitext-2"
    wikitext.mkdir()
    wiki_lines = [" = Valkyria Chronicles = ", " the cat sat on the mat . "]
    (wikitext / "train.txt").write_text("\n".join(wiki_lines * 3) + "\n", encoding="utf-8")
    run_vars = [*vars_(data_dir=data, lm_features="true", wikitext_dir=wikitext, lm_steps=4, lm_eval_frequency=2,
                       lm_width=8, lm_depth=1, lm_output="full"), *TINY_QA]
    for step in ("fetch", "check", "pretrain_lm", "train"):
        result = project_run(project, step, *run_vars)
        assert result.returncode == 0, step + result.stdout[-3000:] + result.stderr[-3000:]
    nlp = spacy.blank("en")
    train_articles = files["train-v1.1.json"]["data"]
    tokenised = [" ".join(t.text for t in nlp(c)) for c in contexts({"data": train_articles[:-2]})]
    lm_train = (project / "corpus" / "lm_train.txt").read_text(encoding="utf-8").splitlines()
    assert lm_train == tokenised + [line.strip() for line in wiki_lines * 3]
    lm_dev = (project / "corpus" / "lm_dev.txt").read_text(encoding="utf-8").splitlines()
    assert lm_dev == [" ".join(t.text for t in nlp(c)) for c in contexts({"data": train_articles[-2:]})]
    dev_text = " ".join(contexts(files["dev-v1.1.json"]))
    assert "Godel" in dev_text and not any("Godel" in line for line in lm_train + lm_dev)  # never dev contexts
    lm = spacy.load(project / "training" / "lm" / "model-best").get_pipe("lstm_lm")
    assert "valkyria" in lm.lm_vocab and "Valkyria" not in lm.lm_vocab  # attr LOWER
    reader = spacy.load(project / "training" / "qa" / "model-best")
    features = reader.config["components"]["qa"]["model"]["lm_features"]
    assert features["enabled"] is True and features["width"] == 8 and features["depth"] == 1
    answers = reader.get_pipe("qa").answer(["Where was Marie Curie born?"], contexts(files["train-v1.1.json"])[0])
    assert answers[0] and 0.0 <= answers[0][0]["score"] <= 1.0


def test_squad_qa_without_data_says_how_to_get_it(tmp_path):
    missing = tmp_path / "no-such-folder"
    script = PROJECTS / NAME / "scripts" / "fetch_data.py"
    result = subprocess.run([sys.executable, script, tmp_path / "assets", "--data-dir", missing],
                            capture_output=True, text=True, env=OFFLINE)
    assert result.returncode != 0
    assert f"SQuAD v1.1 is not in {missing}" in result.stderr and "--vars.data_dir /path/to/squad-v1.1" in result.stderr
    # no data_dir: the hub, which fails offline with the same help
    result = subprocess.run([sys.executable, script, tmp_path / "assets", "--hf-dataset", "no-such/squad"],
                            capture_output=True, text=True, env=OFFLINE)
    assert result.returncode != 0
    assert "Could not download SQuAD" in result.stderr and "spacy project run fetch" in result.stderr
    assert not (tmp_path / "assets").exists()


def test_squad_qa_fetch_from_the_hub_writes_squad_json(tmp_path):
    # rajpurkar/squad's layout (one row per question: id, title, context, question, answers {text,
    # answer_start}; splits train and validation) in a local folder, which `datasets` loads offline.
    pytest.importorskip("datasets")
    files = write_squad(tmp_path / "raw")
    hub = tmp_path / "hub"
    hub.mkdir()
    for split, name in (("train", "train-v1.1.json"), ("validation", "dev-v1.1.json")):
        rows = [{"id": qa["id"], "title": a["title"], "context": p["context"], "question": qa["question"],
                 "answers": {"text": [x["text"] for x in qa["answers"]],
                             "answer_start": [x["answer_start"] for x in qa["answers"]]}}
                for a in files[name]["data"] for p in a["paragraphs"] for qa in p["qas"]]
        (hub / f"{split}.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    script = PROJECTS / NAME / "scripts" / "fetch_data.py"
    out = tmp_path / "assets"
    cmd = [sys.executable, script, out, "--hf-dataset", hub, "--hf-xquad", tmp_path / "no-xquad"]
    written = []
    for _ in range(2):
        result = subprocess.run(cmd, capture_output=True, text=True, env={**OFFLINE, "HF_HOME": str(tmp_path / "hf")})
        assert result.returncode == 0, result.stderr[-2000:]
        assert "No XQuAD-en" in result.stdout  # a report only: the fetch goes on without it
        written.append({path.name: path.read_bytes() for path in out.iterdir()})
    assert written[0] == written[1] and sorted(written[0]) == ["dev-v1.1.json.gz", "train-v1.1.json.gz"]
    for name in ("train-v1.1.json", "dev-v1.1.json"):
        assert json.loads(gzip.decompress(written[0][f"{name}.gz"]))["data"] == files[name]["data"]


def test_squad_qa_check_counts(tmp_path):
    data = tmp_path / "squad"
    write_squad(data)
    script = PROJECTS / NAME / "scripts" / "check_data.py"
    result = subprocess.run([sys.executable, script, data, tmp_path / "stats.json"], capture_output=True, text=True)
    assert result.returncode != 0  # default --expected: the real counts
    assert "Unexpected SQuAD v1.1 question counts" in result.stderr
    assert "train: 25 (expected 87,599), dev: 12 (expected 10,570)" in result.stderr
    assert "--vars.expected_questions any" in result.stderr
    cmd = [sys.executable, script, data, tmp_path / "stats.json", "--expected", "25,12"]
    result = subprocess.run(cmd, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "Question counts match the expected counts (train 25, dev 12)." in result.stdout
    assert "answers on token boundaries 24 of 25, widened 1, unaligned 0" in result.stdout
