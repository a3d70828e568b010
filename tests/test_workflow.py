"""The whole user path: `spacy train configs/lstm_lm.cfg` on a tiny pre-tokenised corpus,
then `spacy.load` in a fresh process that never imports spacy_lm (entry points only)."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
LINES = [
    " = Valkyria Chronicles = ",
    "",
    " the cat sat on the mat . the dog sat on the log . ",
    " a cat saw a dog and the dog saw a <unk> . ",
    "",
    " the <unk> sat on the mat @-@ log . ",
]


@pytest.mark.slow
@pytest.mark.parametrize("cell,output", [("lstm", "adaptive"), ("gru", "full")])
def test_spacy_train_then_load_without_import(tmp_path, cell, output):
    train = tmp_path / "train.txt"
    dev = tmp_path / "dev.txt"
    train.write_text("\n".join(LINES * 10) + "\n", encoding="utf-8")
    dev.write_text("\n".join(LINES) + "\n", encoding="utf-8")
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "spacy", "train", str(REPO / "configs" / "lstm_lm.cfg"),
           "--paths.train", str(train), "--paths.dev", str(dev), "--output", str(out),
           "--training.max_steps", "30", "--training.eval_frequency", "10",
           "--components.lstm_lm.model.width", "16", "--components.lstm_lm.model.depth", "1",
           "--training.optimizer.learn_rate", "0.01", "--components.lstm_lm.model.cell", cell,
           "--components.lstm_lm.model.output", output, "--components.lstm_lm.model.cutoffs", "[5,12]"]
    result = subprocess.run(cmd, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    meta = json.loads((out / "model-best" / "meta.json").read_text())
    assert meta["performance"]["lm_perplexity"] < 30  # vocabulary is 26 types: uniform is ~27
    code = (
        "import sys, json, spacy\n"
        f"nlp = spacy.load({str(out / 'model-best')!r})\n"
        "doc = nlp('the cat sat on the <unk> mat @-@ log .')\n"
        "print(json.dumps({'tokens': len(doc), 'ppl': doc._.lm_perplexity,"
        " 'cell': nlp.config['components']['lstm_lm']['model']['cell'],"
        " 'imported': 'spacy_lm' in sys.modules}))\n"
    )
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert loaded.returncode == 0, loaded.stderr
    info = json.loads(loaded.stdout.strip().splitlines()[-1])
    assert info["tokens"] == 10  # the whitespace tokenizer keeps <unk> and @-@ whole
    assert info["ppl"] is not None and info["ppl"] < 30
    assert info["cell"] == cell
    cli = subprocess.run([sys.executable, "-m", "spacy", "lm", "perplexity", str(out / "model-best"), str(dev),
                          "--json"], capture_output=True, text=True)
    assert cli.returncode == 0, cli.stderr
    scores = json.loads(cli.stdout)
    # one <eos> marker per line, blank lines included: words + lines
    assert scores["lm_n_predicted"] == sum(len(line.split()) for line in LINES) + len(LINES)
    assert scores["lm_perplexity"] == pytest.approx(meta["performance"]["lm_perplexity"], rel=1e-5)


SENTIMENT = ["1 a fine , moving film .", "0 dull and far too long .", "1 great fun .", "0 a boring mess ."]


def _spacy_train(config, tmp_path, *extra):
    out = tmp_path / config.split(".")[0]
    cmd = [sys.executable, "-m", "spacy", "train", str(REPO / "configs" / config), "--output", str(out),
           "--training.max_steps", "20", "--training.eval_frequency", "10", *extra]
    result = subprocess.run(cmd, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    return out


@pytest.mark.slow
@pytest.mark.parametrize("frozen,unfreeze_steps,same_lm", [
    ("[]", "0", False),  # joint fine-tuning from the first step: the LM moves
    ("[]", "150", True),  # gradual unfreezing: the LM's groups (2, 3) thaw at steps 300 and 450, after these 20
    ('["lstm_lm"]', "0", True),  # frozen and annotating
])
def test_textcat_configs_train_from_scratch_and_from_a_sourced_lm(tmp_path, frozen, unfreeze_steps, same_lm):
    train = tmp_path / "train.txt"
    train.write_text("\n".join(SENTIMENT * 20) + "\n", encoding="utf-8")
    lm_text = tmp_path / "lm.txt"
    lm_text.write_text("\n".join(line[2:] for line in SENTIMENT * 20) + "\n", encoding="utf-8")
    data = ["--paths.train", str(train), "--paths.dev", str(train)]
    small = ["--components.textcat.model.width", "8"]
    out = _spacy_train("textcat_lstm.cfg", tmp_path, *data, *small,
                       "--components.textcat.model.tok2vec.width", "16")
    meta = json.loads((out / "model-last" / "meta.json").read_text())
    assert "cats_accuracy" in meta["performance"]
    lm = _spacy_train("lstm_lm.cfg", tmp_path, "--paths.train", str(lm_text), "--paths.dev", str(lm_text),
                      "--components.lstm_lm.model.width", "16", "--components.lstm_lm.model.depth", "1",
                      "--components.lstm_lm.model.cutoffs", "[4,8]")
    out = _spacy_train("textcat_lstm_lm.cfg", tmp_path, *data, *small,
                       "--paths.lm_pipeline", str(lm / "model-last"),
                       "--components.textcat.model.tok2vec.width", "16",
                       "--training.frozen_components", frozen, "--training.annotating_components", frozen,
                       "--training.optimizer.unfreeze_steps", unfreeze_steps)
    code = (
        "import json, spacy\n"
        f"nlp = spacy.load({str(out / 'model-last')!r}); s = spacy.load({str(lm / 'model-last')!r})\n"
        "print(json.dumps({'cats': sorted(nlp('great fun .').cats),"
        " 'same_lm': nlp.get_pipe('lstm_lm').model.to_bytes() == s.get_pipe('lstm_lm').model.to_bytes()}))\n"
    )
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert loaded.returncode == 0, loaded.stderr
    info = json.loads(loaded.stdout.strip().splitlines()[-1])
    assert info["cats"] == ["NEG", "POS"]
    assert info["same_lm"] == same_lm
