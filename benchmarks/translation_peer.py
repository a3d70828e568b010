"""Joey NMT 2.3 as the peer of the translation benchmark (Multi30k, de<->en), on CPU.

Importable (``from translation_peer import prepare_data, write_config, train, translate, bleu``,
with benchmarks/ on ``sys.path``) and runnable as a smoke test::

    python benchmarks/translation_peer.py --budget 90 --batch-size 64

Joey NMT (``pip install joeynmt==2.3.0``; it also needs ``importlib-metadata``, which its wheel
does not declare) runs in a subprocess, ``python -m joeynmt train`` in all but name: a small
wrapper sets ``torch.set_num_threads`` and times Joey's own ``TrainManager`` methods (training
loop start, each validation, the end) into ``model_dir/peer_events.jsonl``; nothing of the
training itself is changed.

* :func:`prepare_data` tokenises the raw gzipped text (``../shared/data/multi30k``; read only, never
  copied into the repository) into space-joined tokens, original case kept, one sentence a line:
  ``work_dir/{train,dev,test}.{src,tgt}``, which Joey reads with ``level: word`` (it splits on
  single spaces) and the comparison uses as references. Default tokeniser: ``spacy.blank(lang)``
  (whitespace tokens dropped), the literature's convention (bentrevett/pytorch-seq2seq).
* :func:`write_config` writes a Joey RNN config (bidirectional encoder, attention, bridge init,
  input feeding, word vocabulary from train with ``voc_min_freq``, Adam, BLEU on dev, CPU only).
* :func:`train` runs it for a wall-clock budget, stops it with SIGINT (Joey catches the
  KeyboardInterrupt and saves a last checkpoint), and reads steps, epochs and the exact number of
  target tokens trained on (Joey's ``stats.total_tokens``) back from the checkpoint.
* :func:`translate` decodes a tokenised source file with ``python -m joeynmt test`` (greedy or
  beam) and returns Joey's hypotheses (tokens joined by spaces, ``<unk>`` kept).
* :func:`bleu` is the literature's tokenised, lowercased corpus BLEU (sacrebleu, tokenize "none").

Everything is written under ``work_dir`` (default /tmp/joey_work), never inside the repository.
"""
import argparse
import gzip
import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable, Dict, Iterable, List, Optional, Sequence, Union

REPO = Path(__file__).resolve().parent.parent
DEFAULT_DATA = REPO.parent / "shared" / "data" / "multi30k"
DEFAULT_WORK = Path(os.environ.get("JOEY_WORK", "/tmp/joey_work"))
# Joey's split name -> Multi30k file stem. test_2017_mscoco and test_2018_flickr are not in
# ../shared/data (kept back for acceptance checks).
SPLITS = {"train": "train", "dev": "val", "test": "test_2016_flickr"}
EVENTS = "peer_events.jsonl"

Tokenize = Callable[[Sequence[str], str], List[List[str]]]


# ---------------------------------------------------------------------------------- data
def _check_outside_repo(path: Path, what: str) -> Path:
    path = Path(path).expanduser().resolve()
    if path == REPO or REPO in path.parents:
        raise ValueError(f"{what} {path} lies inside the repository {REPO}: use a directory outside "
                         "it (default /tmp/joey_work).")
    return path


def read_raw(data_dir: Union[str, Path], stem: str, lang: str) -> List[str]:
    """Lines of ``data_dir/{stem}.{lang}.gz`` (or the uncompressed file), without newlines."""
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise FileNotFoundError(
            f"Multi30k data directory {data_dir} not found. This benchmark reads "
            f"../shared/data/multi30k ({{train,val,test_2016_flickr}}.{{de,en}}.gz); pass data_dir / "
            "--data-dir.")
    packed, plain = data_dir / f"{stem}.{lang}.gz", data_dir / f"{stem}.{lang}"
    if packed.is_file():
        with gzip.open(packed, "rt", encoding="utf-8", newline="\n") as handle:
            text = handle.read()
    elif plain.is_file():
        text = plain.read_text(encoding="utf-8")
    else:
        raise FileNotFoundError(f"{packed} not found (Multi30k split '{stem}', language '{lang}').")
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return lines


def spacy_tokenize(lines: Sequence[str], lang: str) -> List[List[str]]:
    """``spacy.blank(lang)``'s tokens of each line, whitespace tokens dropped, case kept."""
    import spacy

    nlp = spacy.blank(lang)
    return [[t.text for t in doc if not t.is_space] for doc in nlp.tokenizer.pipe(lines, batch_size=1000)]


def _clean(tokens: Iterable[str]) -> List[str]:
    # Joey splits lines on single spaces and reads files with str.splitlines(): no token may hold
    # whitespace (any of which splitlines could break on), and no token may be empty.
    return [piece for tok in tokens for piece in str(tok).split()]


def _tokenizer_name(tokenize: Callable) -> str:
    return f"{getattr(tokenize, '__module__', '?')}.{getattr(tokenize, '__qualname__', repr(tokenize))}"


def prepare_data(data_dir: Union[str, Path] = DEFAULT_DATA, work_dir: Union[str, Path] = DEFAULT_WORK,
                 src: str = "de", tgt: str = "en", tokenize: Tokenize = spacy_tokenize,
                 splits: Optional[Dict[str, str]] = None, dev_size: Optional[int] = None,
                 overwrite: bool = False) -> Dict[str, object]:
    """Write ``work_dir/{split}.{src,tgt}``: tokens joined by single spaces, original case.

    ``tokenize(lines, lang)`` returns one token list per line (default :func:`spacy_tokenize`);
    a string per line is split on whitespace. ``splits`` maps Joey's names (train, dev, test) to
    Multi30k stems (default :data:`SPLITS`); ``dev_size`` keeps the first n dev pairs (as
    benchmarks/translation.py validates on val[:500]). Files written by the same tokeniser from the same
    raw files are kept (``overwrite=True`` rewrites them). Returns ``{"train": prefix, "dev":
    prefix, "test": prefix, "counts": {split: {"sentences", src, tgt}}, "tokenizer": name}``,
    where a prefix is the path without the language suffix, as Joey's config takes it.
    """
    data_dir = Path(data_dir)
    work_dir = _check_outside_repo(work_dir, "work_dir")
    splits = dict(SPLITS if splits is None else splits)
    work_dir.mkdir(parents=True, exist_ok=True)
    name = _tokenizer_name(tokenize)
    meta_path = work_dir / f"data_{src}{tgt}.json"
    raw = {(split, lang): read_raw(data_dir, stem, lang) for split, stem in splits.items() for lang in (src, tgt)}
    if dev_size is not None and "dev" in splits:
        for lang in (src, tgt):
            raw["dev", lang] = raw["dev", lang][: int(dev_size)]
    digest = hashlib.sha256(json.dumps(sorted((f"{k[0]}.{k[1]}", v) for k, v in raw.items())).encode()).hexdigest()
    outputs = {split: work_dir / split for split in splits}
    if not overwrite and meta_path.is_file():
        meta = json.loads(meta_path.read_text())
        if (meta.get("tokenizer") == name and meta.get("raw_sha256") == digest
                and all((work_dir / f"{s}.{lang}").is_file() for s in splits for lang in (src, tgt))):
            return {**{s: str(p) for s, p in outputs.items()}, "counts": meta["counts"], "tokenizer": name}
    counts: Dict[str, Dict[str, int]] = {}
    for split in splits:
        n_src, n_tgt = len(raw[split, src]), len(raw[split, tgt])
        if n_src != n_tgt:
            raise ValueError(f"{split}: {n_src} {src} lines but {n_tgt} {tgt} lines")
        counts[split] = {"sentences": n_src}
        for lang in (src, tgt):
            toks = tokenize(raw[split, lang], lang)
            lines = [_clean(t.split() if isinstance(t, str) else t) for t in toks]
            if len(lines) != len(raw[split, lang]):
                raise ValueError(f"tokenize returned {len(lines)} lines for {len(raw[split, lang])} ({split}.{lang})")
            empty = [i for i, line in enumerate(lines) if not line]
            if empty:  # Joey would silently drop them and misalign the pairs
                raise ValueError(f"{split}.{lang}: lines {empty[:5]} are empty after tokenisation")
            text = "".join(" ".join(toks) + "\n" for toks in lines)
            (work_dir / f"{split}.{lang}").write_text(text, encoding="utf-8")
            counts[split][lang] = sum(len(toks) for toks in lines)
    meta_path.write_text(json.dumps({"tokenizer": name, "raw_sha256": digest, "data_dir": str(data_dir),
                                     "splits": splits, "counts": counts}, indent=1))
    return {**{s: str(p) for s, p in outputs.items()}, "counts": counts, "tokenizer": name}


def read_lines(path: Union[str, Path]) -> List[str]:
    """Lines of a (tokenised) text file, split as Joey reads them (``str.splitlines``)."""
    return Path(path).read_text(encoding="utf-8").splitlines()


def bleu(hypotheses: Sequence[str], references: Sequence[str], lowercase: bool = True) -> float:
    """Corpus BLEU on space-joined tokens (sacrebleu ``tokenize="none"``), lowercased by default:
    the convention of bentrevett/pytorch-seq2seq (torchtext's bleu_score on spaCy tokens)."""
    import sacrebleu

    if len(hypotheses) != len(references):
        raise ValueError(f"{len(hypotheses)} hypotheses for {len(references)} references")
    low = (lambda s: s.lower()) if lowercase else (lambda s: s)
    return sacrebleu.corpus_bleu([low(h) for h in hypotheses], [[low(r) for r in references]],
                                 tokenize="none").score


# -------------------------------------------------------------------------------- config
def write_config(work_dir: Union[str, Path] = DEFAULT_WORK, src: str = "de", tgt: str = "en", *,
                 emb: int = 256, enc_hidden: int = 256, dec_hidden: int = 256, cell: str = "gru",
                 attention: str = "luong", input_feeding: bool = True, init_hidden: str = "bridge",
                 enc_layers: int = 1, dec_layers: int = 1, dropout: float = 0.3,
                 hidden_dropout: Optional[float] = None, batch_size: int = 128,
                 batch_type: str = "sentence", normalization: str = "tokens", lr: float = 1e-3,
                 clip_grad_norm: Optional[float] = 1.0, epochs: int = 1000,
                 updates: Optional[int] = None, min_freq: int = 2, max_length: int = -1,
                 validation_freq: int = 500, logging_freq: Optional[int] = None,
                 early_stopping_metric: str = "bleu", keep_best_ckpts: int = 1,
                 beam_size: int = 5, beam_alpha: float = 1.0, eval_batch_size: int = 64,
                 max_output_length: int = -1, seed: int = 42, model_dir: Optional[Union[str, Path]] = None,
                 data_prefixes: Optional[Dict[str, str]] = None, config_path: Optional[Union[str, Path]] = None,
                 name: Optional[str] = None) -> Path:
    """Write a Joey NMT 2.3 RNN config; returns its path (default ``work_dir/joey_{src}{tgt}.yaml``).

    Sizes: ``enc_hidden`` is per direction (the encoder is bidirectional: 2 x enc_hidden
    outputs). ``dropout``: Joey applies it to the source embeddings, to the decoder RNN input
    ([previous target embedding; previous attentional vector]) and, as ``hidden_dropout`` (default
    the same), to [decoder state; context] before the attentional layer; between RNN layers only
    when there is more than one. ``batch_size`` counts sentences (``batch_type="sentence"``) or
    padded tokens of max(src+1, tgt+1) x sentences (``"token"``); batches are random (no length
    bucketing). ``normalization``: the summed loss is divided by the batch's target tokens
    ("tokens"), its sentences ("batch") or nothing ("none"). Word level vocabulary from
    ``train.{src,tgt}`` with ``voc_min_freq=min_freq``; ``lowercase: False``; BLEU on dev
    (sacrebleu, tokenize none, lowercased) picks ``best.ckpt``. ``beam_size``/``beam_alpha`` are
    the test-time defaults (:func:`translate` overrides them). ``logging_freq`` (default
    min(100, validation_freq)) must divide ``validation_freq``.
    """
    import yaml

    work_dir = _check_outside_repo(work_dir, "work_dir")
    model_dir = _check_outside_repo(model_dir or work_dir / f"model_{src}{tgt}", "model_dir")
    prefixes = data_prefixes or {s: str(work_dir / s) for s in ("train", "dev", "test")}
    if attention not in ("luong", "bahdanau"):
        raise ValueError(f"attention must be 'luong' or 'bahdanau', not {attention!r}")
    if cell not in ("gru", "lstm"):
        raise ValueError(f"cell must be 'gru' or 'lstm', not {cell!r}")
    if logging_freq is None:
        logging_freq = next(f for f in range(min(100, validation_freq), 0, -1) if validation_freq % f == 0)
    lang_cfg = dict(level="word", lowercase=False, normalize=False, max_length=max_length, min_length=1,
                    voc_min_freq=min_freq, tokenizer_cfg={"pretokenizer": "none"})
    training = dict(
        random_seed=seed, optimizer="adam", adam_betas=[0.9, 0.999], learning_rate=lr,
        learning_rate_min=1e-8, weight_decay=0.0, loss="crossentropy", label_smoothing=0.0,
        batch_size=batch_size, batch_type=batch_type, batch_multiplier=1, normalization=normalization,
        epochs=epochs, validation_freq=validation_freq, logging_freq=logging_freq,
        early_stopping_metric=early_stopping_metric, keep_best_ckpts=keep_best_ckpts,
        shuffle=True, overwrite=True, print_valid_sents=[0, 1, 2], use_cuda=False, fp16=False,
        model_dir=str(model_dir))
    # Joey 2.3 has no constant schedule (no `scheduling` raises "Invalid scheduler"); its
    # "plateau" passes `verbose` to ReduceLROnPlateau, which torch 2.13 no longer takes, and its
    # "decaying" never reads `decaying_step_size` (StepLR(step_size=1, gamma=0.1): lr / 10 every
    # epoch). ExponentialLR with gamma = decrease_factor = 1.0 keeps the learning rate constant.
    training.update(scheduling="exponential", decrease_factor=1.0)
    if updates is not None:
        training["updates"] = int(updates)
    if clip_grad_norm is not None:
        training["clip_grad_norm"] = float(clip_grad_norm)
    rnn = lambda hidden, layers: dict(type="recurrent", rnn_type=cell, hidden_size=hidden,  # noqa: E731
                                      num_layers=layers, dropout=dropout, freeze=False)
    emb_cfg = dict(embedding_dim=emb, scale=False, freeze=False)
    cfg = {
        "name": name or f"joey_rnn_{src}{tgt}",
        "joeynmt_version": "2.3.0",
        "model_dir": str(model_dir),
        "use_cuda": False,
        "fp16": False,
        "num_workers": 0,
        "random_seed": seed,
        "data": {
            "train": prefixes["train"], "dev": prefixes["dev"], "test": prefixes["test"],
            "dataset_type": "plain",
            "src": {"lang": src, **lang_cfg},
            "trg": {"lang": tgt, **lang_cfg},
        },
        "testing": {
            "n_best": 1, "beam_size": beam_size, "beam_alpha": beam_alpha,
            "batch_size": eval_batch_size, "batch_type": "sentence",
            "eval_metrics": ["bleu"], "max_output_length": max_output_length, "min_output_length": 1,
            "return_prob": "none", "generate_unk": True,
            "sacrebleu_cfg": {"tokenize": "none", "lowercase": True},
        },
        "training": training,
        "model": {
            "initializer": "xavier_uniform", "bias_initializer": "zeros", "init_gain": 1.0,
            "embed_initializer": "xavier_uniform", "embed_init_gain": 1.0,
            "init_rnn_orthogonal": False, "lstm_forget_gate": 1.0,
            "tied_embeddings": False, "tied_softmax": False,
            "encoder": {**rnn(enc_hidden, enc_layers), "bidirectional": True, "embeddings": dict(emb_cfg)},
            "decoder": {**rnn(dec_hidden, dec_layers), "embeddings": dict(emb_cfg),
                        "hidden_dropout": dropout if hidden_dropout is None else hidden_dropout,
                        "attention": attention, "input_feeding": input_feeding,
                        "init_hidden": init_hidden, "activation": "tanh"},
        },
    }
    path = Path(config_path) if config_path else work_dir / f"joey_{src}{tgt}.yaml"
    path = _check_outside_repo(path, "config_path")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(cfg, sort_keys=False), encoding="utf-8")
    return path


def _load_yaml(path: Union[str, Path]) -> dict:
    import yaml

    return yaml.safe_load(Path(path).read_text(encoding="utf-8"))


# ------------------------------------------------------------------------------ running
# Runs `python -m joeynmt ...` (joeynmt.__main__.main with the same argv) after setting the
# thread count, and, for training, appends JSON events of Joey's own TrainManager to a file.
_WRAPPER = r"""
import json, sys, time
import torch
threads, events, argv = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
torch.set_num_threads(threads)
def _event(**kw):
    if events:
        with open(events, "a", encoding="utf-8") as f:
            f.write(json.dumps(dict(kw, t=time.time())) + "\n")
if events:
    from joeynmt import training
    TM = training.TrainManager
    _validate, _train = TM._validate, TM.train_and_validate
    def _timed_validate(self, data):
        _event(event="valid_start", steps=self.stats.steps, total_tokens=self.stats.total_tokens)
        _validate(self, data)
        _event(event="valid_end", steps=self.stats.steps, total_tokens=self.stats.total_tokens,
               best_score=self.stats.best_ckpt_score, best_steps=self.stats.best_ckpt_iter)
    def _timed_train(self, train_data, valid_data):
        _event(event="train_start", threads=torch.get_num_threads())
        try:
            _train(self, train_data, valid_data)
        finally:
            _event(event="train_end", steps=self.stats.steps, epochs=self.stats.epochs,
                   total_tokens=self.stats.total_tokens, best_score=self.stats.best_ckpt_score,
                   best_steps=self.stats.best_ckpt_iter)
    TM._validate, TM.train_and_validate = _timed_validate, _timed_train
sys.argv = ["joeynmt"] + argv
from joeynmt.__main__ import main
main()
"""


def _env(threads: int) -> dict:
    env = dict(os.environ)
    for key in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        env[key] = str(threads)
    env["CUDA_VISIBLE_DEVICES"] = ""  # CPU only, also where a GPU is visible
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env


def _read_events(path: Path) -> List[dict]:
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _stop(proc: subprocess.Popen, grace_s: float) -> str:
    """SIGINT (Joey saves a checkpoint on KeyboardInterrupt), then SIGTERM, then SIGKILL."""
    for sig, wait in ((signal.SIGINT, grace_s), (signal.SIGTERM, 15.0), (signal.SIGKILL, 15.0)):
        if proc.poll() is not None:
            break
        proc.send_signal(sig)
        try:
            proc.wait(timeout=wait)
            return signal.Signals(sig).name
        except subprocess.TimeoutExpired:
            continue
    return "none" if proc.returncode is None else "exited"


_TOKS = re.compile(r"^(\S+ \S+) - INFO - joeynmt\.training - Epoch +(\d+), Step: +(\d+), "
                   r"Batch Loss: +([\d.naif+-]+), Batch Acc: +([\d.]+), Tokens per Sec: +(\d+)")


def parse_train_log(log_path: Union[str, Path]) -> Dict[str, object]:
    """Total params, the ``Tokens per Sec`` lines and the validation results of a train.log."""
    text = Path(log_path).read_text(encoding="utf-8", errors="replace") if Path(log_path).is_file() else ""
    params = re.search(r"Total params: (\d+)", text)
    steps = [dict(epoch=int(m[2]), step=int(m[3]), loss=float(m[4]), acc=float(m[5]), tokens_per_s=int(m[6]))
             for m in (_TOKS.match(line) for line in text.splitlines()) if m]
    valid = [{"metrics": m[1]} for m in re.finditer(r"Evaluation result \(greedy\): ([^\n]*?), [\d.]+\[sec\]", text)]
    return {"total_params": int(params[1]) if params else None, "log_steps": steps, "validations": valid,
            "interrupted": "Interrupt at epoch" in text}


def train(config_path: Union[str, Path], time_budget_s: float, threads: int = 2, *,
          ckpt: str = "best", budget_from: str = "train", grace_s: float = 120.0,
          poll_s: float = 0.25, log_name: str = "joey_train.out") -> Dict[str, object]:
    """Train with ``python -m joeynmt train -t config`` for ``time_budget_s`` seconds of wall clock.

    ``budget_from="train"`` starts the clock when Joey enters its training loop (after it has
    read the data, built the vocabulary and the model: ``setup_s``); ``"start"`` at the process
    start. Validation (greedy decoding of the dev set, every ``validation_freq`` steps) runs
    inside the budget, as Joey trains. At the budget the process gets SIGINT: Joey stops in the
    middle of whatever it does, saves ``{step}.ckpt`` (= ``latest.ckpt``) and exits; SIGTERM and
    SIGKILL follow after ``grace_s`` / 15 s if it does not. Joey's ``model_dir`` is emptied at
    the start (``overwrite: True``).

    Returns a dict: ``wall_s`` (training loop, start to stop), ``process_s``, ``setup_s``,
    ``valid_s`` (time in validation, an interrupted one included), ``train_s`` (= wall - valid),
    ``steps``, ``epochs`` (the epoch reached, counting from 1), ``epochs_done`` (steps / batches
    per epoch, for sentence batches without length filtering), ``tokens`` (target tokens trained
    on: Joey's ``stats.total_tokens``, the non-pad target positions incl. </s>, excl. <s>),
    ``tokens_per_s`` (tokens / train_s, as Joey's "Tokens per Sec" counts: validation excluded),
    ``tokens_per_s_wall`` (tokens / wall_s), ``joey_logged_tokens_per_s`` (median of its log lines),
    ``total_params``, ``ckpt`` (best.ckpt's target when ``ckpt="best"`` and a validation ran, else
    the latest), ``best_ckpt``, ``latest_ckpt``, ``best_dev_bleu``/``best_steps``, ``validations``
    (steps, dev BLEU, seconds), ``stopped_by``, ``returncode``, ``model_dir``, ``log``.
    """
    if budget_from not in ("train", "start"):
        raise ValueError("budget_from must be 'train' or 'start'")
    if ckpt not in ("best", "latest"):
        raise ValueError("ckpt must be 'best' or 'latest'")
    config_path = Path(config_path).resolve()
    cfg = _load_yaml(config_path)
    model_dir = _check_outside_repo(cfg["model_dir"], "model_dir")
    # Joey's overwrite deletes model_dir when it starts: the events file lives beside it.
    events_path = model_dir.parent / f"{model_dir.name}.{EVENTS}"
    out_path = model_dir.parent / f"{model_dir.name}.{log_name}"
    model_dir.parent.mkdir(parents=True, exist_ok=True)
    events_path.unlink(missing_ok=True)
    cmd = [sys.executable, "-c", _WRAPPER, str(threads), str(events_path), "train", "-t", str(config_path)]
    t0 = time.time()
    with open(out_path, "w", encoding="utf-8") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=_env(threads),
                                cwd=str(model_dir.parent), start_new_session=True)
        try:
            t_clock = t0 if budget_from == "start" else None
            stopped_by = "finished"
            while proc.poll() is None:
                if t_clock is None:
                    start = [e for e in _read_events(events_path) if e["event"] == "train_start"]
                    if start:
                        t_clock = start[0]["t"]
                if t_clock is not None and time.time() - t_clock >= time_budget_s:
                    stopped_by = _stop(proc, grace_s)
                    break
                time.sleep(poll_s)
            proc.wait()
        except BaseException:
            if proc.poll() is None:
                _stop(proc, 10.0)
            raise
    t_end = time.time()
    events = _read_events(events_path)
    log = parse_train_log(model_dir / "train.log")
    starts = [e for e in events if e["event"] == "train_start"]
    ends = [e for e in events if e["event"] == "train_end"]
    if not starts:
        tail = out_path.read_text(encoding="utf-8", errors="replace")[-3000:]
        raise RuntimeError(f"Joey NMT did not reach its training loop (rc {proc.returncode}); "
                           f"output {out_path}:\n{tail}")
    t_start = starts[0]["t"]
    t_stop = ends[-1]["t"] if ends else t_end
    valid_s, validations, open_start = 0.0, [], None
    for e in events:
        if e["event"] == "valid_start":
            open_start = e
        elif e["event"] == "valid_end" and open_start is not None:
            valid_s += e["t"] - open_start["t"]
            validations.append(dict(steps=e["steps"], seconds=round(e["t"] - open_start["t"], 2)))
            open_start = None
    if open_start is not None:  # interrupted in the middle of a validation
        valid_s += t_stop - open_start["t"]
    for v, metrics in zip(validations, log["validations"]):
        m = re.search(r"bleu: +([\d.]+)", metrics["metrics"])
        v["dev_bleu"] = float(m[1]) if m else None
    latest = model_dir / "latest.ckpt"
    best = model_dir / "best.ckpt"
    latest_path = latest.resolve() if latest.exists() else None
    best_path = best.resolve() if best.exists() else None
    stats = {}
    if latest_path is not None:
        import torch

        stats = torch.load(latest_path, map_location="cpu", weights_only=False).get("stats_state", {})
    final = ends[-1] if ends else {}
    steps = final.get("steps", stats.get("steps"))
    tokens = final.get("total_tokens", stats.get("total_tokens"))
    wall_s = t_stop - t_start
    train_s = max(wall_s - valid_s, 1e-9)
    logged = sorted(s["tokens_per_s"] for s in log["log_steps"])
    best_score = final.get("best_score", stats.get("best_ckpt_score"))
    epochs_done = None  # fraction of passes over the training set (sentence batches, no filtering)
    tcfg, dcfg = cfg["training"], cfg["data"]
    if steps and tcfg.get("batch_type", "sentence") == "sentence" and dcfg["src"].get("max_length", -1) <= 0:
        n_train = len(read_lines(f"{dcfg['train']}.{dcfg['src']['lang']}"))
        epochs_done = round(steps / -(-n_train // int(tcfg["batch_size"])), 3)
    return {
        "wall_s": round(wall_s, 2), "process_s": round(t_end - t0, 2), "setup_s": round(t_start - t0, 2),
        "valid_s": round(valid_s, 2), "train_s": round(train_s, 2), "time_budget_s": time_budget_s,
        "budget_from": budget_from, "threads": threads,
        "steps": steps, "epochs": final.get("epochs", stats.get("epochs")), "epochs_done": epochs_done,
        "tokens": tokens,
        "tokens_per_s": round(tokens / train_s, 1) if tokens else None,
        "tokens_per_s_wall": round(tokens / wall_s, 1) if tokens and wall_s > 0 else None,
        "joey_logged_tokens_per_s": logged[len(logged) // 2] if logged else None,
        "total_params": log["total_params"],
        "ckpt": str(best_path if ckpt == "best" and best_path is not None else latest_path),
        "best_ckpt": str(best_path) if best_path else None, "latest_ckpt": str(latest_path) if latest_path else None,
        "best_dev_bleu": best_score if best_path is not None and best_score not in (None, float("-inf")) else None,
        "best_steps": final.get("best_steps", stats.get("best_ckpt_iter")),
        "validations": validations, "stopped_by": stopped_by, "returncode": proc.returncode,
        "interrupted": log["interrupted"], "model_dir": str(model_dir), "config": str(config_path),
        "log": str(model_dir / "train.log"), "output": str(out_path),
    }


def translate(model: Union[str, Path], ckpt: Optional[Union[str, Path]] = None,
              src_file: Optional[Union[str, Path]] = None, beam_size: int = 1,
              out_file: Optional[Union[str, Path]] = None, *, threads: int = 2,
              beam_alpha: Optional[float] = None, batch_size: Optional[int] = None,
              max_output_length: Optional[int] = None, timeout_s: Optional[float] = None) -> List[str]:
    """Decode ``src_file`` (tokenised, one sentence a line) with ``python -m joeynmt test``.

    ``model``: Joey's model_dir (its ``config.yaml`` is used) or a config file. ``ckpt``: a
    checkpoint (default: model_dir/best.ckpt, else the latest). ``src_file`` defaults to the
    config's test set (``{test}.{src}``); when ``{prefix}.{tgt}`` lies beside it Joey also logs its
    own BLEU into model_dir/test.log. ``beam_size`` 1 is greedy; beam search uses ``beam_alpha``
    (length penalty; default the config's, 1.0 from :func:`write_config`; -1 is none).
    Hypotheses (tokens joined by spaces, ``<unk>`` kept, ``</s>`` removed) go to ``out_file``
    (default ``model_dir/hyps.beam{beam_size}.{src}{tgt}``) and are returned.
    """
    model = Path(model).resolve()
    config_path = model / "config.yaml" if model.is_dir() else model
    cfg = _load_yaml(config_path)
    model_dir = Path(cfg["model_dir"]).resolve()
    src, tgt = cfg["data"]["src"]["lang"], cfg["data"]["trg"]["lang"]
    if src_file is None:
        prefix = Path(cfg["data"]["test"])
    else:
        src_file = Path(src_file).resolve()
        if not src_file.is_file():
            raise FileNotFoundError(src_file)
        if src_file.name.endswith(f".{src}") and "." not in src_file.name[: -len(src) - 1]:
            prefix = src_file.with_name(src_file.name[: -len(src) - 1])
        else:  # Joey wants {prefix}.{src}: link the file under a name it accepts
            link_dir = model_dir / "translate_inputs"
            link_dir.mkdir(parents=True, exist_ok=True)
            stem = re.sub(r"[^A-Za-z0-9_-]", "_", src_file.name)
            link = link_dir / f"{stem}.{src}"
            link.unlink(missing_ok=True)
            link.symlink_to(src_file)
            prefix = link_dir / stem
    if not Path(f"{prefix}.{src}").is_file():
        raise FileNotFoundError(f"{prefix}.{src} not found")
    if ckpt is None:
        best = model_dir / "best.ckpt"
        ckpt = best if best.exists() else model_dir / "latest.ckpt"
    ckpt = Path(ckpt).resolve()
    if not ckpt.is_file():
        raise FileNotFoundError(f"checkpoint {ckpt} not found")
    cfg["data"].pop("dev", None)  # `joeynmt test` would decode the dev set as well
    cfg["data"]["test"] = str(prefix)
    testing = cfg["testing"]
    testing.update(beam_size=int(beam_size), n_best=1, load_model=str(ckpt))
    if beam_alpha is not None:
        testing["beam_alpha"] = beam_alpha
    if batch_size is not None:
        testing["batch_size"] = int(batch_size)
    if max_output_length is not None:
        testing["max_output_length"] = int(max_output_length)
    out_file = Path(out_file) if out_file else model_dir / f"hyps.beam{beam_size}.{src}{tgt}"
    out_file = _check_outside_repo(out_file, "out_file")
    out_file.parent.mkdir(parents=True, exist_ok=True)
    import yaml

    test_cfg = model_dir / f"test_beam{beam_size}.yaml"
    test_cfg.write_text(yaml.safe_dump(cfg, sort_keys=False), encoding="utf-8")
    joey_out = out_file.with_name(out_file.name + ".joey")
    cmd = [sys.executable, "-c", _WRAPPER, str(threads), "", "test", str(test_cfg), "-o", str(joey_out)]
    res = subprocess.run(cmd, env=_env(threads), cwd=str(model_dir), capture_output=True, text=True,
                         timeout=timeout_s)
    produced = Path(f"{joey_out}.test")
    if res.returncode != 0 or not produced.is_file():
        raise RuntimeError(f"joeynmt test failed (rc {res.returncode}):\n{(res.stdout + res.stderr)[-3000:]}")
    produced.replace(out_file)
    hyps = read_lines(out_file)
    n_src = len(read_lines(f"{prefix}.{src}"))
    if len(hyps) != n_src:
        raise RuntimeError(f"{len(hyps)} hypotheses for {n_src} source lines ({out_file})")
    return hyps


# ------------------------------------------------------------------------ the benchmark
# The settings benchmarks/translation.py gives our translator (batches of 128 pairs, dropout 0.3,
# Adam 1e-3, global-norm clip 1.0, GRU 256 / bidirectional 256 / embeddings 256, general
# attention with input feeding), in Joey's terms.
BENCH = dict(emb=256, enc_hidden=256, dec_hidden=256, cell="gru", attention="luong", input_feeding=True,
             init_hidden="bridge", dropout=0.3, batch_size=128, batch_type="sentence", normalization="tokens",
             lr=1e-3, clip_grad_norm=1.0, min_freq=2, validation_freq=200, logging_freq=50, beam_alpha=1.0)


def detokenize(hypotheses: Sequence[str], lang: str) -> List[str]:
    """Space-joined tokens -> text: sacremoses' Moses detokeniser (a Joey dependency), then the
    two spaCy splits it leaves: infix hyphens ("5 - year - old" -> "5-year-old"; Multi30k's
    train text has 1,333 joined hyphens in English to 6 spaced ones) and English "n't". An
    approximation of the raw text, for the cased sacreBLEU and chrF only."""
    from sacremoses import MosesDetokenizer

    detok = MosesDetokenizer(lang=lang)
    out = []
    for h in hypotheses:
        text = re.sub(r"(?<=\w) - (?=\w)", "-", detok.detokenize(h.split()))
        if lang == "en":
            text = re.sub(r"(?<=\w) n't\b", "n't", text)
        out.append(text)
    return out


def run(data_dir: Union[str, Path] = DEFAULT_DATA, src: str = "de", tgt: str = "en", budget: float = 720.0,
        tokenize: Optional[Callable[[str], List[str]]] = None, *, work_dir: Optional[Union[str, Path]] = None,
        threads: int = 2, dev_size: Optional[int] = 500, beams: Sequence[int] = (1, 5),
        n_samples: int = 5, **config) -> Dict[str, object]:
    """One Joey NMT run as benchmarks/translation.py reports one of ours: prepare the data
    (spaCy blank tokenisers on both sides), train for ``budget`` seconds (from the training
    loop's start, validation included; ``validation_freq`` 200 steps on ``dev_size`` dev pairs by
    default), decode test_2016_flickr from best.ckpt with each beam, and score.

    ``tokenize(text) -> tokens`` is the target language's tokeniser that tok-BLEU uses (default
    ``spacy.blank(tgt)`` without whitespace tokens). Scores (x 100, as translation.py's
    ``scores``): ``translation_tok_bleu`` on Joey's own output tokens (lower-cased, against the
    tokenised raw references), ``translation_bleu`` (sacreBLEU 13a, cased) and
    ``translation_chrf`` on the Moses-detokenised output against the raw references. Joey keeps
    ``<unk>`` in its output (no unknown-word replacement); ``unk_tokens`` counts them.
    ``config`` overrides :data:`BENCH` (keys of :func:`write_config`).
    """
    from spacy_lm.metrics.translation import corpus_scores

    if tokenize is None:
        import spacy

        nlp_t = spacy.blank(tgt)
        tokenize = lambda text: [t.text for t in nlp_t(text) if not t.is_space]  # noqa: E731
    work = _check_outside_repo(work_dir or DEFAULT_WORK / f"{src}-{tgt}", "work_dir")
    data = prepare_data(data_dir, work, src, tgt, dev_size=dev_size)
    settings = {**BENCH, **config}
    cfg_path = write_config(work, src, tgt, **settings)
    trained = train(cfg_path, budget, threads=threads, ckpt="best")
    test_src = read_raw(data_dir, SPLITS["test"], src)
    test_ref = read_raw(data_dir, SPLITS["test"], tgt)
    model_dir = Path(trained["model_dir"])
    vocab = {side: len(read_lines(model_dir / f"{side}_vocab.txt")) for side in ("src", "trg")}
    result: Dict[str, object] = {
        "system": "Joey NMT 2.3 RNN", "direction": f"{src}-{tgt}", "model": settings,
        "parameters": trained["total_params"], "train_wall_s": trained["wall_s"],
        "train_update_s": trained["train_s"], "valid_s": trained["valid_s"], "setup_s": trained["setup_s"],
        "steps": trained["steps"], "epochs": trained["epochs"], "epochs_done": trained["epochs_done"],
        "best_steps": trained["best_steps"], "best_dev_tok_bleu": trained["best_dev_bleu"],
        "target_tokens": trained["tokens"], "tokens_per_s": trained["tokens_per_s"],
        "tokens_per_s_wall": trained["tokens_per_s_wall"],
        "joey_logged_tokens_per_s": trained["joey_logged_tokens_per_s"], "history": trained["validations"],
        "vocab": {"source": vocab["src"], "target": vocab["trg"]}, "ckpt": trained["ckpt"],
        "joey": {k: trained[k] for k in ("stopped_by", "returncode", "model_dir", "config", "log")},
    }
    for beam in beams:
        name = "greedy" if beam == 1 else f"beam{beam}"
        t0 = time.time()
        hyps = translate(model_dir, trained["ckpt"], f"{data['test']}.{src}", beam_size=beam, threads=threads)
        decode_s = time.time() - t0
        detok = detokenize(hyps, tgt)
        scored = corpus_scores(detok, test_ref, tokenize)
        scored["translation_tok_bleu"] = corpus_scores(hyps, test_ref, tokenize)["translation_tok_bleu"]
        dropped = [" ".join(t for t in h.split() if t != "<unk>") for h in hyps]
        scored["translation_tok_bleu_unk_dropped"] = corpus_scores(dropped, test_ref, tokenize)["translation_tok_bleu"]
        scored = {k: (v * 100 if isinstance(v, float) else v) for k, v in scored.items()}
        result[name] = {**scored, "decode_s": decode_s, "unk_tokens": sum(h.split().count("<unk>") for h in hyps),
                        "samples": [{"source": s_, "reference": r, "output": h, "output_detok": d}
                                    for s_, r, h, d in list(zip(test_src, test_ref, hyps, detok))[:n_samples]]}
        print(f"joey {src}-{tgt} {name}: {result[name]['translation_tok_bleu']:.2f} tok-BLEU, "
              f"{result[name]['translation_bleu']:.2f} sacreBLEU (detokenised)", flush=True)
    return result


# ---------------------------------------------------------------------------------- CLI
def main(argv: Optional[List[str]] = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--work-dir", type=Path, default=DEFAULT_WORK)
    ap.add_argument("--src", default="de")
    ap.add_argument("--tgt", default="en")
    ap.add_argument("--budget", type=float, default=90.0, help="training seconds (from the training loop's start)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--emb", type=int, default=256)
    ap.add_argument("--enc-hidden", type=int, default=256)
    ap.add_argument("--dec-hidden", type=int, default=256)
    ap.add_argument("--cell", default="gru", choices=["gru", "lstm"])
    ap.add_argument("--attention", default="luong", choices=["luong", "bahdanau"])
    ap.add_argument("--dropout", type=float, default=0.3)
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--batch-type", default="sentence", choices=["sentence", "token"])
    ap.add_argument("--normalization", default="tokens", choices=["tokens", "batch", "none"])
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--clip-grad-norm", type=float, default=1.0)
    ap.add_argument("--min-freq", type=int, default=2)
    ap.add_argument("--validation-freq", type=int, default=100)
    ap.add_argument("--beams", default="1", help="comma-separated beam sizes for the test set, e.g. 1,5")
    ap.add_argument("--ckpt", default="best", choices=["best", "latest"])
    ap.add_argument("--seed", type=int, default=42)
    args = ap.parse_args(argv)
    if not args.data_dir.is_dir():
        sys.exit(f"Multi30k not found at {args.data_dir}: this script reads ../shared/data/multi30k; pass --data-dir.")
    t = time.time()
    data = prepare_data(args.data_dir, args.work_dir, args.src, args.tgt)
    prep_s = time.time() - t
    config = write_config(args.work_dir, args.src, args.tgt, emb=args.emb, enc_hidden=args.enc_hidden,
                          dec_hidden=args.dec_hidden, cell=args.cell, attention=args.attention,
                          dropout=args.dropout, batch_size=args.batch_size, batch_type=args.batch_type,
                          normalization=args.normalization, lr=args.lr, clip_grad_norm=args.clip_grad_norm,
                          min_freq=args.min_freq, validation_freq=args.validation_freq, seed=args.seed)
    result = train(config, args.budget, threads=args.threads, ckpt=args.ckpt)
    refs = read_lines(f"{data['test']}.{args.tgt}")
    result["test"] = {}
    for beam in [int(b) for b in args.beams.split(",") if b]:
        t = time.time()
        hyps = translate(result["model_dir"], result["ckpt"], f"{data['test']}.{args.src}", beam_size=beam,
                         threads=args.threads)
        result["test"][f"beam{beam}"] = {"bleu_lower_tok": round(bleu(hyps, refs), 2),
                                         "bleu_cased_tok": round(bleu(hyps, refs, lowercase=False), 2),
                                         "decode_s": round(time.time() - t, 2), "example": hyps[0]}
    result.update(prepare_s=round(prep_s, 2), data_counts=data["counts"], tokenizer=data["tokenizer"],
                  settings=vars(args) | {"data_dir": str(args.data_dir), "work_dir": str(args.work_dir)})
    summary = Path(result["model_dir"]).parent / f"summary_{args.src}{args.tgt}.json"
    summary.write_text(json.dumps(result, indent=1, default=str))
    print(json.dumps({k: v for k, v in result.items() if k != "validations"}, indent=1, default=str))
    return result


if __name__ == "__main__":
    main()
