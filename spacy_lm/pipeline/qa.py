"""`qa`: extractive question answering as a spaCy component (a DrQA-style reader).

The doc is the context; the questions ride on it in ``doc._.questions`` and the answers come
back as ``doc._.answers`` (one dict per question: text, character offsets, score) and as spans
in ``doc.spans["answers"]`` labelled with the question id, their scores in the group's
``attrs["scores"]`` (as spaCy's spancat keeps them). ``answer(questions, contexts, top_k)`` is
the direct call. Training examples carry the gold answers as token spans of the reference doc
(`spacy_lm.SquadCorpus.v1`); ``update`` minimises the cross-entropy of the gold start and end.

Long contexts are read in overlapping windows (``max_length`` tokens, a new one every
``stride``) and the best span over all windows is kept; training reads the first window that
holds the gold answer. The model (`spacy_lm.SpanReader.v1`) implements `types.SpanReaderModel`;
docs become arrays in qa_rows.py.
"""
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple, Union

import numpy
from spacy.language import Language
from spacy.tokens import Doc, SpanGroup
from spacy.training import Example, validate_get_examples
from spacy.vocab import Vocab
from thinc.api import Config, Model, Optimizer, set_dropout_rate

from ..checks import check_setting, is_count
from ..corpora.corpus import config_corpus
from ..errors import Errors
from ..extensions import QA_SPANS_KEY, install_qa_extensions, normalize_questions
from ..ops import softmax, softmax_cross_entropy
from ..text.vocab import TokenVocab
from ..types import SpanReaderModel
from .qa_lm_features import copy_encoders, feature_lms
from .qa_rows import ReaderInput, Row, context_windows, reader_batch, reader_input, window_features
from .recurrent_base import RecurrentPipe, check_recurrent_settings

DEFAULT_QA_MODEL = """
[model]
@architectures = "spacy_lm.SpanReader.v1"
width = 96
depth = 2
embed_size = 128
cell = "lstm"
dropout = 0.2
lm_features = null
"""
DEFAULT_MODEL = Config().from_str(DEFAULT_QA_MODEL)["model"]


@Language.factory(
    "qa",
    assigns=["doc._.answers", "doc.spans"],
    default_config={
        "model": DEFAULT_MODEL,
        "attr": "LOWER",
        "min_freq": 2,
        "max_size": 50000,
        "max_length": 400,
        "stride": 128,
        "max_question_length": 64,
        "max_answer_length": 15,
        "batch_size": 32,
        "grad_norm_clip": 10.0,
        "scorer": {"@scorers": "spacy_lm.qa_scorer.v1"},
    },
    default_score_weights={"qa_f1": 1.0, "qa_em": 0.0, "qa_questions": None},
)
def make_qa(nlp: Language, name: str, model: Model, attr: str, min_freq: int, max_size: Optional[int],
            max_length: int, stride: int, max_question_length: int, max_answer_length: int, batch_size: int,
            grad_norm_clip: Optional[float], scorer: Optional[Callable]) -> "QuestionAnswerer":
    """max_length: context tokens per window; stride: tokens between window starts;
    max_question_length: question tokens read (the rest ignored); max_answer_length: longest
    answer in tokens; batch_size: rows (question x window) per forward pass at inference."""
    return QuestionAnswerer(nlp.vocab, model, name, attr=attr, min_freq=min_freq, max_size=max_size,
                            max_length=max_length, stride=stride, max_question_length=max_question_length,
                            max_answer_length=max_answer_length, batch_size=batch_size,
                            grad_norm_clip=grad_norm_clip, scorer=scorer, tokenizer=nlp.tokenizer)


class QuestionAnswerer(RecurrentPipe):
    contract = SpanReaderModel
    structural_settings = ("attr", "min_freq", "max_size")
    runtime_settings = ("max_length", "stride", "max_question_length", "max_answer_length", "batch_size",
                        "grad_norm_clip")

    def __init__(self, vocab: Vocab, model: Model, name: str = "qa", *, attr: str = "LOWER", min_freq: int = 2,
                 max_size: Optional[int] = 50000, max_length: int = 400, stride: int = 128,
                 max_question_length: int = 64, max_answer_length: int = 15, batch_size: int = 32,
                 grad_norm_clip: Optional[float] = 10.0, scorer: Optional[Callable] = None,
                 tokenizer: Optional[Callable[[str], Doc]] = None) -> None:
        check_recurrent_settings(attr, max_length, grad_norm_clip)
        check_setting(is_count(min_freq, 1), "min_freq", "an integer >= 1", min_freq)
        check_setting(is_count(stride, 1) and stride <= max_length, "stride", f"an integer in [1, max_length={max_length}]",
                      stride)
        for setting, value in (("max_question_length", max_question_length),
                               ("max_answer_length", max_answer_length), ("batch_size", batch_size)):
            check_setting(is_count(value, 1), setting, "an integer >= 1", value)
        super().__init__(vocab, model, name, scorer=scorer, tokenizer=tokenizer,
                         cfg={"attr": attr, "min_freq": min_freq, "max_size": max_size, "max_length": max_length,
                              "stride": stride, "max_question_length": max_question_length,
                              "max_answer_length": max_answer_length, "batch_size": batch_size,
                              "grad_norm_clip": grad_norm_clip})
        install_qa_extensions()
        self.model: SpanReaderModel = model
        self.lm_features_vocab: Optional[TokenVocab] = None

    @property
    def is_initialized(self) -> bool:
        return self.lm_vocab is not None and (self.lm_features_vocab is not None or not self.model.has_lm_features)

    # ------------------------------------------------------------------ docs -> rows
    def _question_input(self, text: Any, where: str) -> ReaderInput:
        if not isinstance(text, str):
            raise TypeError(Errors.E270.format(type=type(text).__name__))
        doc = self._as_doc(text)
        read = reader_input(doc, self.lm_vocab, self.lm_features_vocab, self.cfg["max_question_length"])
        if len(read.ids) == 0:
            raise ValueError(Errors.E271.format(name=self.name, what=f"question {where}"))
        return read

    def _context_input(self, doc: Doc, where: str) -> ReaderInput:
        read = reader_input(doc, self.lm_vocab, self.lm_features_vocab)
        if len(read.ids) == 0:
            raise ValueError(Errors.E271.format(name=self.name, what=f"context {where}"))
        return read

    def _rows(self, question: ReaderInput, context: ReaderInput, key: Tuple[int, ...]) -> List[Row]:
        windows = context_windows(len(context.ids), self.cfg["max_length"], self.cfg["stride"])
        return [Row(question, context, start, end, key=key + (w,)) for w, (start, end) in enumerate(windows)]

    def _run(self, rows: Sequence[Row], top_k: int):
        """Per row: (spans (k, 2) in context positions, log-probabilities (k,), start/end
        probabilities of the window) — inference in chunks of ``batch_size`` rows."""
        ops = self.model.ops
        results: List[Any] = [None] * len(rows)
        size = self.cfg["batch_size"]
        for first in range(0, len(rows), size):
            chunk = rows[first: first + size]
            batch, order = reader_batch(ops, chunk, [window_features(row) for row in chunk])
            (start, end), _ = self.model.span_logits(batch, False)
            spans, scores = self.model.best_spans(start, end, batch.context_lengths,
                                                  self.cfg["max_answer_length"], top_k)
            spans, scores = ops.to_numpy(spans), ops.to_numpy(scores)
            start_p, end_p = ops.to_numpy(softmax(ops, start)), ops.to_numpy(softmax(ops, end))
            for j, i in enumerate(order):
                row = chunk[i]
                n = row.end - row.start
                results[first + i] = (spans[j] + row.start, scores[j], start_p[j, :n], end_p[j, :n])
        return results

    def _best(self, rows: Sequence[Row], results, top_k: int) -> List[Dict[str, Any]]:
        """The ``top_k`` distinct spans over a question's windows (doc token indices), best first."""
        candidates: Dict[Tuple[int, int], float] = {}
        for row, (spans, scores, _, _) in zip(rows, results):
            for (s, e), score in zip(spans.tolist(), scores.tolist()):
                key = (int(row.context.positions[s]), int(row.context.positions[e]))
                candidates[key] = max(candidates.get(key, -numpy.inf), float(score))
        ranked = sorted(candidates.items(), key=lambda kv: -kv[1])[:top_k]
        return [{"start": s, "end": e, "score": float(numpy.exp(score))} for (s, e), score in ranked]

    # ------------------------------------------------------------------ inference
    def answer_docs(self, docs: Sequence[Doc], top_k: int = 1) -> List[List[List[Dict[str, Any]]]]:
        """For each doc, for each of its questions, the ``top_k`` answers (dicts with token
        ``start``/``end`` inclusive and ``score``)."""
        self._require_initialized()
        check_setting(is_count(top_k, 1), "top_k", "an integer >= 1", top_k)
        rows, owners = [], []
        for d, doc in enumerate(docs):
            questions = normalize_questions(doc._.questions)
            if not questions:
                continue
            context = self._context_input(doc, f"of doc {d}")
            for q, question in enumerate(questions):
                read = self._question_input(question["text"], f"{question['id']!r} of doc {d}")
                for row in self._rows(read, context, (d, q)):
                    rows.append(row)
                    owners.append((d, q))
        results = self._run(rows, top_k)
        grouped: Dict[Tuple[int, int], List[int]] = {}
        for i, owner in enumerate(owners):
            grouped.setdefault(owner, []).append(i)
        answers: List[List[List[Dict[str, Any]]]] = []
        for d, doc in enumerate(docs):
            n_questions = len(normalize_questions(doc._.questions))
            answers.append([self._best([rows[i] for i in grouped[(d, q)]], [results[i] for i in grouped[(d, q)]],
                                       top_k) for q in range(n_questions)])
        return answers

    def predict(self, docs: Iterable[Doc]) -> List[List[Dict[str, Any]]]:
        docs = list(docs)
        return [[found[0] for found in per_doc] for per_doc in self.answer_docs(docs, 1)]

    def set_annotations(self, docs: Iterable[Doc], answers: List[List[Dict[str, Any]]]) -> None:
        for doc, found in zip(docs, answers):
            questions = normalize_questions(doc._.questions)
            spans, scores, records = [], [], []
            for question, best in zip(questions, found):
                span = doc[best["start"]: best["end"] + 1]
                spans.append(doc.char_span(span.start_char, span.end_char, label=question["id"]))
                scores.append(best["score"])
                records.append({"id": question["id"], "question": question["text"], "text": span.text,
                                "start_char": span.start_char, "end_char": span.end_char, "score": best["score"]})
            group = SpanGroup(doc, name=QA_SPANS_KEY, spans=spans)
            group.attrs["scores"] = scores
            doc.spans[QA_SPANS_KEY] = group
            doc._.answers = records

    def answer(self, questions: Union[str, Sequence[str]], contexts: Union[str, Doc, Sequence[Union[str, Doc]]],
               top_k: int = 1) -> List[List[Dict[str, Any]]]:
        """For each question, its ``top_k`` answers ``{"text", "start_char", "end_char", "score"}``,
        best first. One context is shared by all questions; else one context per question."""
        questions = [questions] if isinstance(questions, str) else list(questions)
        if isinstance(contexts, (str, Doc)):
            contexts = [contexts] * len(questions)
        contexts = list(contexts)
        if len(contexts) != len(questions):
            raise ValueError(Errors.E272.format(n_questions=len(questions), n_contexts=len(contexts)))
        docs: Dict[int, Doc] = {}
        asked: Dict[int, List[int]] = {}
        for i, (question, context) in enumerate(zip(questions, contexts)):
            key = id(context) if isinstance(context, Doc) else hash(("text", context))
            if key not in docs:
                docs[key] = self._as_doc(context).copy() if isinstance(context, Doc) else self._as_doc(context)
                asked[key] = []
            asked[key].append(i)
        keys = list(docs)
        for key in keys:
            docs[key]._.questions = [{"id": f"q{i}", "text": questions[i]} for i in asked[key]]
        found = self.answer_docs([docs[key] for key in keys], top_k)
        result: List[List[Dict[str, Any]]] = [[] for _ in questions]
        for key, per_question in zip(keys, found):
            doc = docs[key]
            for i, answers in zip(asked[key], per_question):
                result[i] = [self._as_record(doc, a) for a in answers]
        return result

    @staticmethod
    def _as_record(doc: Doc, found: Dict[str, Any]) -> Dict[str, Any]:
        span = doc[found["start"]: found["end"] + 1]
        return {"text": span.text, "start_char": span.start_char, "end_char": span.end_char, "score": found["score"]}

    def span_probabilities(self, question: str, context: Union[str, Doc]) -> Tuple[Doc, numpy.ndarray, numpy.ndarray]:
        """The context doc and each token's probability of starting / ending the answer (the
        largest over the windows that read it; whitespace tokens 0)."""
        self._require_initialized()
        doc = self._as_doc(context)
        read = self._question_input(question, "0")
        rows = self._rows(read, self._context_input(doc, "0"), (0,))
        start_p = numpy.zeros(len(doc), dtype="float32")
        end_p = numpy.zeros(len(doc), dtype="float32")
        for row, (_, _, s, e) in zip(rows, self._run(rows, 1)):
            where = row.context.positions[row.start: row.end]
            start_p[where] = numpy.maximum(start_p[where], s)
            end_p[where] = numpy.maximum(end_p[where], e)
        return doc, start_p, end_p

    def score(self, examples: Iterable[Example], **kwargs: Any) -> Dict[str, Any]:
        """The scorer's scores. ``spacy evaluate`` rebuilds each predicted doc from its reference's
        text, which drops ``doc._.questions``: such a doc is asked its reference's questions here,
        so a DocBin of reference docs (``store_user_data=True``) evaluates as the corpus reader does."""
        examples = list(examples)
        unasked = [eg for eg in examples if not eg.predicted._.answers and normalize_questions(eg.reference._.questions)]
        for eg in unasked:
            eg.predicted._.questions = eg.reference._.questions
        if unasked:
            docs = [eg.predicted for eg in unasked]
            self.set_annotations(docs, self.predict(docs))
        return super().score(examples, **kwargs)

    # ------------------------------------------------------------------ training
    def _training_rows(self, examples: Sequence[Example]) -> List[Row]:
        """One row per question whose gold answer lies in a window: the first such window."""
        rows = []
        for i, eg in enumerate(examples):
            questions = normalize_questions(eg.reference._.questions or eg.predicted._.questions)
            if not questions:
                continue
            gold = _gold_spans(eg.reference)
            context = reader_input(eg.predicted, self.lm_vocab, self.lm_features_vocab)
            if len(context.ids) == 0:
                continue
            for q, question in enumerate(questions):
                if question["id"] not in gold:
                    continue
                start_tok, end_tok = gold[question["id"]]
                s = int(numpy.searchsorted(context.positions, start_tok))
                e = int(numpy.searchsorted(context.positions, end_tok, side="right")) - 1
                if e < s:
                    continue
                read = self._question_input(question["text"], f"{question['id']!r} of example {i}")
                for row in self._rows(read, context, (i, q)):
                    if row.start <= s and e < row.end:
                        row.target = (s - row.start, e - row.start)
                        rows.append(row)
                        break
        return rows

    def update(self, examples: Iterable[Example], *, drop: float = 0.0, sgd: Optional[Optimizer] = None,
               losses: Optional[Dict[str, float]] = None) -> Dict[str, float]:
        """One optimizer step on the mean over questions of the gold start's and end's NLL."""
        examples, drop, losses = self._begin_update(examples, drop, losses, "QuestionAnswerer.update")
        self._require_initialized()
        rows = self._training_rows(examples)
        if not rows:
            return losses
        ops = self.model.ops
        batch, order = reader_batch(ops, rows, [window_features(row) for row in rows])
        set_dropout_rate(self.model, drop)
        (start, end), backprop = self.model.span_logits(batch, True)
        starts = ops.asarray1i([rows[i].target[0] for i in order])
        ends = ops.asarray1i([rows[i].target[1] for i in order])
        scale = 1.0 / len(rows)
        nll_start, d_start = softmax_cross_entropy(ops, start, starts, grad_scale=scale)
        nll_end, d_end = softmax_cross_entropy(ops, end, ends, grad_scale=scale)
        backprop((d_start, d_end))
        losses[self.name] += float((nll_start.sum() + nll_end.sum()) * scale)
        if sgd is not None:
            self.finish_update(sgd)
        return losses

    def get_loss(self, examples: Iterable[Example], scores: Any) -> Tuple[float, None]:
        raise NotImplementedError(Errors.E273.format(name=self.name))

    def initialize(self, get_examples: Callable[[], Iterable[Example]], *, nlp: Optional[Language] = None,
                   corpus: Optional[str] = None, vocab_size: Optional[int] = None,
                   lm_pipeline: Optional[str] = None, lm_backward_pipeline: Optional[str] = None) -> None:
        """Count the vocabulary on the contexts and questions of ``get_examples`` (or of the
        config's ``corpus``); with LM features, copy the encoder of the `lstm_lm` in the pipeline
        at ``lm_pipeline`` (and, for backward features, of the backward `lstm_lm` at
        ``lm_backward_pipeline``; qa_lm_features.py); initialize the model."""
        if corpus is not None:
            get_examples = config_corpus(nlp, corpus, self.name)
        validate_get_examples(get_examples, "QuestionAnswerer.initialize")
        attr = self.cfg["attr"]
        docs = []
        for eg in get_examples():
            docs.append(eg.reference)
            docs.extend(self._as_doc(q["text"]) for q in normalize_questions(eg.reference._.questions))
        counts = TokenVocab.count(docs, attr=attr)
        if not counts:
            raise ValueError(Errors.E003.format(name=self.name))
        max_size = vocab_size if vocab_size is not None else self.cfg["max_size"]
        self.lm_vocab = TokenVocab.from_counts(counts, attr=attr, min_freq=self.cfg["min_freq"], max_size=max_size)
        lms = feature_lms(self.name, self.model, lm_pipeline, lm_backward_pipeline)
        self.lm_features_vocab = lms.vocab if lms is not None else None
        self._set_vocab_size()
        self.model.initialize()
        if lms is not None:
            copy_encoders(self.name, self.model, lms)

    def _set_vocab_size(self) -> None:
        super()._set_vocab_size()
        if self.lm_features_vocab is not None:
            lm = self.model.get_ref("lm_features")
            if lm.has_dim("nV") and lm.get_dim("nV") != len(self.lm_features_vocab):
                raise ValueError(Errors.E023.format(name=self.name, found=lm.get_dim("nV"),
                                                    expected=len(self.lm_features_vocab)))
            lm.set_dim("nV", len(self.lm_features_vocab))

    # ------------------------------------------------------------------ serialization
    def _saved_vocabs(self) -> Dict[str, TokenVocab]:
        saved = {"lm_vocab": self._require_initialized()}
        if self.lm_features_vocab is not None:
            saved["lm_features_vocab"] = self.lm_features_vocab
        return saved

    def _read_vocabs(self, cfg: Dict[str, Any], read: Callable[[str], bytes]) -> None:
        self.lm_vocab = self._read_vocab(cfg, read)
        if self.model.has_lm_features:
            self.lm_features_vocab = TokenVocab.from_bytes(read("lm_features_vocab"))

    def _forget_vocabs(self) -> None:
        self.lm_vocab = None
        self.lm_features_vocab = None


def _gold_spans(reference: Doc) -> Dict[str, Tuple[int, int]]:
    """The first gold span (doc token start, end inclusive) of each question id."""
    gold: Dict[str, Tuple[int, int]] = {}
    if QA_SPANS_KEY in reference.spans:
        for span in reference.spans[QA_SPANS_KEY]:
            if len(span) and span.label_ not in gold:
                gold[span.label_] = (span.start, span.end - 1)
    return gold
