"""From Docs to the arrays a recurrent model reads, and back: written once for every component.

* **The stream rule.** A doc is one token stream: ``<eos>`` starts it (as the end of the
  previous line does in a corpus) and closes it, unless the doc already ends with an
  ``<eos>`` marker token. Whitespace tokens are not read. :func:`prepare_doc` applies it to
  docs, :func:`stream_prefix` to prompts; nothing else adds a start ``<eos>``.
* **Stream chunks.** A doc marked by :func:`mark_chunk` (``spacy_lm.PlainTextStreamCorpus.v1``
  marks every doc it yields) is a piece of a longer stream, read as a continuation: its targets
  are its tokens (no closing ``<eos>``), its first input is the stream's previous token
  (``<eos>`` at the stream start), so consecutive chunks join exactly as the stream reads.
  :func:`stream_segments` joins prepared docs into one stream (and cuts it into segments).
* **Batches** (:class:`SequenceBatch`): prepared docs sorted longest first, so at every step
  the running sequences are the first ``k`` and recurrent layers can skip the rest.
* **Windows** (:func:`run_windows`): a batch in windows of ``size`` steps, each encoded by the
  model with the state carried from the previous window (the model reorders its own state:
  the layout is opaque here). Scoring is exact for any window; in training the gradient stops
  at window boundaries (truncated BPTT).
* **Rows**: :meth:`SequenceBatch.gather_rows` turns window hidden states into one
  ``(len(doc), width)`` array per doc (token ``i`` gets the state after reading it),
  :meth:`SequenceBatch.scatter_rows` is its gradient.
* **Loss over real positions** (:func:`window_loss`): padded positions never reach the
  output layer.

Arrays handed to the model live on ``ops.xp``; bookkeeping stays on the host.
"""
from dataclasses import dataclass
from typing import Any, Callable, Iterator, List, NamedTuple, Optional, Sequence, Tuple, Union

import numpy
from spacy.tokens import Doc
from thinc.api import Ops
from thinc.types import Floats2d, Floats3d, Ints1d, Ints2d

from .errors import Errors
from .types import RecurrentLMModel, State, token_nll
from .text.vocab import TokenVocab, token_text

# A doc as an LM reads it: inputs, targets, and each target's token index (-1: closing <eos>).
PreparedDoc = Tuple[numpy.ndarray, numpy.ndarray, numpy.ndarray]

# doc.user_data key of a stream chunk's mark: plain ints and a str (msgpack-able, kept by
# Doc.copy and DocBin).
STREAM_KEY = "spacy_lm.stream"
# The reading directions of an LM (prepare_doc's ``backward``; lstm_lm's and the stream readers' setting).
DIRECTIONS = ("forward", "backward")


class ChunkMark(NamedTuple):
    """Where a chunk doc sits in its corpus: stream index, chunk index within the stream (in
    reading order), the stream's token read just before the chunk (None for chunk 0), and
    whether the stream is read right to left (a backward LM's chunks: chunk 0 is the end of
    the stream and ``previous`` the token after the chunk)."""

    stream: int
    chunk: int
    previous: Optional[str]
    backward: bool = False


def mark_chunk(doc: Doc, stream: int, chunk: int, previous: Optional[str], backward: bool = False) -> None:
    """Mark ``doc`` as chunk ``chunk`` of stream ``stream``, read after the token ``previous``
    (its words stay in text order; ``backward``: the stream is read right to left)."""
    mark = (int(stream), int(chunk), previous)
    doc.user_data[STREAM_KEY] = mark + (True,) if backward else mark


def chunk_mark(doc: Doc) -> Optional[ChunkMark]:
    """The doc's stream mark, or None for an ordinary doc."""
    mark = doc.user_data.get(STREAM_KEY)
    if mark is None:
        return None
    return ChunkMark(int(mark[0]), int(mark[1]), mark[2], bool(mark[3]) if len(mark) > 3 else False)


def _previous_id(vocab: TokenVocab, doc: Doc, previous: Optional[str]) -> int:
    if previous is None:
        return vocab.eos_id
    return vocab.id_of(token_text(doc.vocab[previous], vocab.attr))  # the attr of a lexeme, as of a token


def prepare_doc(vocab: TokenVocab, doc: Doc, backward: bool = False) -> Optional[PreparedDoc]:
    """The doc as one stream: ``<eos>`` first, ``<eos>`` last (unless the doc already ends with
    an ``<eos>`` token); a marked chunk (:func:`mark_chunk`) as a continuation: its previous
    token first, nothing appended. None when it has no tokens but whitespace.

    ``backward``: the doc is read right to left (a backward LM): its tokens reversed, then the
    same rule; positions still name each target's token, so rows map back to the doc. A chunk
    must then come from a backward stream (E290), and the other way round."""
    if not isinstance(doc, Doc):
        raise TypeError(Errors.E010.format(type=type(doc).__name__, what=repr(doc)[:80]))
    targets, positions = vocab.doc_ids(doc)
    if not len(targets):
        return None
    if backward:
        targets, positions = targets[::-1].copy(), positions[::-1].copy()
    mark = chunk_mark(doc)
    if mark is not None:
        if mark.backward != backward:
            raise ValueError(Errors.E290.format(chunk="backward" if mark.backward else "forward",
                                                model="backward" if backward else "forward"))
        inputs = numpy.concatenate([[_previous_id(vocab, doc, mark.previous)], targets[:-1]]).astype("int32")
        return inputs, targets, positions
    return prepare_ids(targets, positions, vocab.eos_id)


def prepare_ids(ids: numpy.ndarray, positions: numpy.ndarray, eos_id: int) -> PreparedDoc:
    """The stream rule on a doc's LM ids (non-empty, already in reading order): ``<eos>`` first,
    ``<eos>`` last unless the ids end with one. ``prepare_doc`` and the score-only path of corpus
    scoring (scoring/token_ids.py, which reads ids without a Doc) share it."""
    targets = numpy.asarray(ids, dtype="int32")
    positions = numpy.asarray(positions, dtype="int32")
    if targets[-1] != eos_id:
        targets = numpy.concatenate([targets, [eos_id]]).astype("int32")
        positions = numpy.concatenate([positions, [-1]]).astype("int32")
    inputs = numpy.concatenate([[eos_id], targets[:-1]]).astype("int32")
    return inputs, targets, positions


def prepare_batch(ids: numpy.ndarray, positions: numpy.ndarray, lengths: Sequence[int], eos_id: int,
                  backward: bool = False) -> List[Optional[PreparedDoc]]:
    """``prepare_ids`` for many docs at once, from their ids and token indices concatenated
    (doc ``i`` has ``lengths[i]`` of them; None for a doc with none), in a few array passes
    rather than a few per doc: the score-only path of corpus scoring reads whole chunks so."""
    lengths = numpy.asarray(lengths, dtype="int64")
    ids = numpy.asarray(ids, dtype="int32")
    positions = numpy.asarray(positions, dtype="int32")
    ends = numpy.cumsum(lengths)
    starts = ends - lengths
    live = lengths > 0
    if backward:  # each doc's ids reversed in place: index start + end - 1 - i
        owner = numpy.repeat(numpy.arange(len(lengths)), lengths)
        order = (starts + ends - 1)[owner] - numpy.arange(len(ids))
        ids, positions = ids[order], positions[order]
    closing = live.copy()
    closing[live] = ids[ends[live] - 1] != eos_id  # docs that get a closing <eos>
    at = ends[closing]
    targets = numpy.insert(ids, at, eos_id).astype("int32")
    positions = numpy.insert(positions, at, -1).astype("int32")
    new_ends = ends + numpy.cumsum(closing)
    new_starts = new_ends - lengths - closing
    inputs = numpy.empty_like(targets)
    inputs[1:] = targets[:-1]
    inputs[new_starts[live]] = eos_id
    return [(inputs[a:b], targets[a:b], positions[a:b]) if n else None
            for a, b, n in zip(new_starts.tolist(), new_ends.tolist(), lengths.tolist())]


def check_n_segments(n_segments: Any) -> None:
    if not isinstance(n_segments, int) or isinstance(n_segments, bool) or n_segments < 1:
        raise ValueError(Errors.E009.format(setting="n_segments", requirement="an integer >= 1", value=n_segments))


def stream_segments(prepared: Sequence[Optional[PreparedDoc]], n_segments: int = 1) -> List[PreparedDoc]:
    """Prepared docs joined, in order, into one stream, cut into ``n_segments`` contiguous
    segments of (nearly) equal length (none empty; positions count along the stream)."""
    check_n_segments(n_segments)
    parts = [p for p in prepared if p is not None]
    if not parts:
        return []
    inputs = numpy.concatenate([p[0] for p in parts])
    targets = numpy.concatenate([p[1] for p in parts])
    bounds = numpy.linspace(0, len(targets), min(n_segments, len(targets)) + 1).astype("int64")
    return [(inputs[a:b], targets[a:b], numpy.arange(a, b, dtype="int32")) for a, b in zip(bounds, bounds[1:])]


def prompt_ids(vocab: TokenVocab, doc: Doc) -> List[int]:
    """The ids of a prompt's tokens (no ``<eos>``: a prompt continues, it does not end)."""
    return vocab.doc_ids(doc)[0].tolist()


def stream_prefix(vocab: TokenVocab, ids: Sequence[int]) -> List[int]:
    """What a model reads for a prompt: the stream-start ``<eos>``, then the prompt."""
    return [vocab.eos_id, *ids]


@dataclass
class Window:
    """Steps ``[start, start + T)`` of the first ``k`` sequences of a batch (those still
    running), time-major, with the flat indices ``real`` (``t * k + j``) of real positions."""

    start: int
    k: int
    ids: Ints2d
    targets: Ints1d
    lengths: Ints1d
    lengths_host: numpy.ndarray
    real: Ints1d
    real_host: numpy.ndarray

    @property
    def n_steps(self) -> int:
        return int(self.ids.shape[0])

    @property
    def target_grid(self) -> Ints2d:
        """The targets time-major, ``(T, k)``."""
        return self.targets.reshape(self.n_steps, self.k)

    def columns(self, ops: Ops, columns: Sequence[int]) -> "Window":
        """A window of these sequences (host indices in non-increasing length, repeats allowed:
        a sentence read once per latent sample)."""
        index = numpy.asarray(columns, dtype="int32")
        lengths = self.lengths_host[index]
        T = int(lengths.max())
        k = len(index)
        device_index = ops.asarray(index)
        ids = self.ids[:T][:, device_index]
        targets = self.target_grid[:T][:, device_index]
        real = numpy.flatnonzero(numpy.arange(T).reshape(T, 1) < lengths.reshape(1, k)).astype("int32")
        return Window(self.start, k, ops.xp.ascontiguousarray(ids), ops.xp.ascontiguousarray(targets).reshape(-1),
                      ops.asarray(lengths), lengths, ops.asarray(real), real)


class SequenceBatch:
    """Prepared docs of one batch, longest first; ``order[j]`` is the doc of sequence ``j``."""

    def __init__(self, ops: Ops, prepared: Sequence[Optional[PreparedDoc]]) -> None:
        self.ops = ops
        self.prepared = list(prepared)
        self.order = sorted((i for i, p in enumerate(self.prepared) if p is not None),
                            key=lambda i: -len(self.prepared[i][0]))
        self.seqs = [self.prepared[i] for i in self.order]

    @classmethod
    def from_docs(cls, ops: Ops, vocab: TokenVocab, docs: Sequence[Doc], backward: bool = False) -> "SequenceBatch":
        return cls(ops, [prepare_doc(vocab, doc, backward) for doc in docs])

    def __len__(self) -> int:
        return len(self.seqs)

    @property
    def n_targets(self) -> int:
        return sum(len(s[1]) for s in self.seqs)

    def windows(self, size: int, keep_finished: bool = False) -> Iterator[Window]:
        """Windows of ``size`` steps; finished sequences leave the batch unless
        ``keep_finished`` (then they stay with length 0, and their state is kept)."""
        ops = self.ops
        longest = len(self.seqs[0][0]) if self.seqs else 0
        for start in range(0, longest, size):
            k = len(self.seqs) if keep_finished else sum(1 for s in self.seqs if len(s[0]) > start)
            lengths = numpy.asarray([max(0, min(size, len(s[0]) - start)) for s in self.seqs[:k]], dtype="int32")
            T = int(lengths.max())
            ids = numpy.zeros((T, k), dtype="int32")
            targets = numpy.zeros((T, k), dtype="int32")
            for j, (inputs, tgt, _) in enumerate(self.seqs[:k]):
                n = lengths[j]
                ids[:n, j] = inputs[start : start + n]
                targets[:n, j] = tgt[start : start + n]
            real = numpy.flatnonzero(numpy.arange(T).reshape(T, 1) < lengths.reshape(1, k)).astype("int32")
            yield Window(start, k, ops.asarray(ids), ops.asarray(targets.reshape(-1)), ops.asarray(lengths),
                         lengths, ops.asarray(real), real)

    def spread(self, window: Window, real_values: numpy.ndarray, outputs: List[numpy.ndarray]) -> None:
        """Write host values of a window's real positions into per-sequence arrays ``outputs``."""
        flat = numpy.zeros(window.n_steps * window.k, dtype=real_values.dtype)
        flat[window.real_host] = real_values
        grid = flat.reshape(window.n_steps, window.k)
        for j in range(window.k):
            n = window.lengths_host[j]
            outputs[j][window.start : window.start + n] = grid[:n, j]

    @staticmethod
    def _row_map(positions: numpy.ndarray) -> Tuple[numpy.ndarray, numpy.ndarray]:
        """(step, token) index pairs: token ``positions[s - 1]`` gets the hidden state of step
        ``s`` (the state after reading it); steps whose input is not a doc token are left out."""
        n = len(positions)
        tokens = positions[: n - 1]
        keep = tokens >= 0
        steps = numpy.arange(1, n, dtype="int32")[keep]
        return steps, tokens[keep].astype("int32")

    def gather_rows(self, docs: Sequence[Doc], windows: List[Tuple[Window, Floats3d]], width: int) -> List[Floats2d]:
        """Per-doc ``(len(doc), width)`` rows from the windows' hidden states."""
        ops = self.ops
        xp = ops.xp
        outputs: List[Any] = [None] * len(docs)
        for j, i in enumerate(self.order):
            parts = [hidden[: window.lengths_host[j], j] for window, hidden in windows if j < window.k]
            steps = xp.concatenate(parts, axis=0) if len(parts) > 1 else parts[0]
            step_idx, tok_idx = self._row_map(self.prepared[i][2])
            rows = ops.alloc2f(len(docs[i]), width, dtype=steps.dtype)
            if len(tok_idx):
                rows[ops.asarray1i(tok_idx)] = steps[ops.asarray1i(step_idx)]
            outputs[i] = rows
        for i, doc in enumerate(docs):
            if outputs[i] is None:
                outputs[i] = ops.alloc2f(len(doc), width)
        return outputs

    def scatter_rows(self, d_rows: Sequence[Floats2d], windows: List[Window], d_hiddens: List[Floats3d]) -> None:
        """Add per-doc row gradients into the windows' ``d_hiddens`` (inverse of gather_rows)."""
        ops = self.ops
        xp = ops.xp
        for j, i in enumerate(self.order):
            step_idx, tok_idx = self._row_map(self.prepared[i][2])
            if not len(tok_idx):
                continue
            d_steps = xp.zeros((len(self.seqs[j][0]), d_hiddens[0].shape[-1]), dtype=d_hiddens[0].dtype)
            d_steps[ops.asarray1i(step_idx)] = d_rows[i][ops.asarray1i(tok_idx)]
            offset = 0
            for window, d_hidden in zip(windows, d_hiddens):
                if j < window.k:
                    n = int(window.lengths_host[j])
                    d_hidden[:n, j] += d_steps[offset : offset + n]
                    offset += n


def run_windows(model: RecurrentLMModel, batch: SequenceBatch, size: int, is_train: Union[bool, Sequence[bool]], *,
                keep_finished: bool = False, state: Optional[State] = None
                ) -> Iterator[Tuple[Window, Floats3d, Any, Callable]]:
    """Encode a batch window by window, the state carried: ``(window, hidden (T, k, width),
    state after the window, backprop(d_hidden))`` per window. The one window loop of every
    recurrent component. ``state``: the state before the first window, one row per sequence
    in batch order (row ``j`` is doc ``batch.order[j]``); None: the model's initial state.
    ``is_train``: one flag for all windows, or one per window (BPT3C reads early windows
    forward only)."""
    running = len(batch)
    for w, window in enumerate(batch.windows(size, keep_finished)):
        if state is not None and window.k < running:
            state = model.select_state(state, model.ops.xp.arange(window.k, dtype="int32"))
        running = window.k
        train = is_train if isinstance(is_train, bool) else bool(is_train[w])
        (hidden, state), backprop = model.encode(window.ids, window.lengths, state, train)
        yield window, hidden, state, backprop


def trained_windows(batch: SequenceBatch, size: int, grad_tokens: Optional[int]) -> List[Tuple[int, bool]]:
    """Per window of ``batch.windows(size)``: its number of real targets, and whether it is
    trained: always without ``grad_tokens``; else when it holds one of the last ``grad_tokens``
    steps of some sequence (BPT3C)."""
    lengths = numpy.asarray([len(seq[0]) for seq in batch.seqs], dtype="int64")
    longest = int(lengths.max()) if len(lengths) else 0
    out = []
    for start in range(0, longest, size):
        ends = numpy.minimum(lengths, start + size)
        running = lengths > start
        n_real = int((ends - start)[running].sum())
        train = grad_tokens is None or bool((running & (ends > lengths - grad_tokens)).any())
        out.append((n_real, train))
    return out


def real_rows(window: Window, hidden: Floats3d) -> Floats2d:
    """The hidden states of a window's real positions, ``(n_real, width)``."""
    T, k, width = hidden.shape
    return hidden.reshape(T * k, width)[window.real]


def window_loss(model: RecurrentLMModel, window: Window, hidden: Floats3d, grad_scale: float,
                name: str) -> Tuple[float, Floats3d]:
    """Summed NLL (nats) of a window's real positions and its gradient w.r.t. ``hidden``
    (scaled by ``grad_scale``); padded positions skip the output layer altogether."""
    T, k, width = hidden.shape
    nll, d_real = model.loss(real_rows(window, hidden), window.targets[window.real], grad_scale)
    total = float(nll.sum())
    if not numpy.isfinite(total):
        raise ValueError(Errors.E004.format(name=name, loss=total))
    d_hidden = model.ops.alloc2f(T * k, width, dtype=hidden.dtype)
    d_hidden[window.real] = d_real
    return total, d_hidden.reshape(T, k, width)


def summed_nll_by_length(model: RecurrentLMModel, prepared: Sequence[PreparedDoc], batch_size: int,
                         window_size: int) -> numpy.ndarray:
    """The summed NLL (float64) of each prepared doc, in the order given: all docs sorted by
    length and cut into batches of ``batch_size`` (a batch's rows run for about the same number
    of steps), each read whole in windows with the state carried (exact), through the model's
    ``nll`` where it has one (``types.token_nll``: no top-1 flags)."""
    totals = numpy.zeros(len(prepared), dtype="float64")
    by_length = sorted(range(len(prepared)), key=lambda i: -len(prepared[i][0]))
    for start in range(0, len(by_length), batch_size):
        indices = by_length[start : start + batch_size]
        batch = SequenceBatch(model.ops, [prepared[i] for i in indices])
        sums = numpy.zeros(len(batch), dtype="float64")
        for window, hidden, _, _ in run_windows(model, batch, window_size, False):
            nll = token_nll(model, real_rows(window, hidden), window.targets[window.real])
            # real position t * k + j is sequence j's
            sums[: window.k] += numpy.bincount(window.real_host % window.k, minlength=window.k,
                                               weights=model.ops.to_numpy(nll).astype("float64"))
        totals[numpy.asarray(indices)[batch.order]] = sums
    return totals
