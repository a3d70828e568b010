"""`text_generator`: continue each Doc with any language model in the same pipeline.

The component holds no weights: it finds its LM component by name (anything implementing
:class:`spacy_lm.types.LanguageModel`) and calls the shared decoder in
:mod:`spacy_lm.decoding`. Continuations are written to ``doc._.generations`` as plain
dicts (msgpack-able: they survive ``DocBin`` and multiprocessing).
"""
from typing import Any, Dict, Iterable, Iterator, List, Optional, Union

from spacy.language import Language
from spacy.pipeline import Pipe
from spacy.tokens import Doc
from spacy.util import minibatch

from ..batching import prompt_ids
from ..decoding import GenerationConfig, generate, stream
from ..errors import Errors
from ..text.detokenize import detokenize, detokenize_text
from ..types import is_language_model


def install_generation_extensions() -> None:
    if not Doc.has_extension("generations"):
        Doc.set_extension("generations", default=None)
    if not Doc.has_extension("generation"):
        Doc.set_extension("generation", default=None)


@Language.factory(
    "text_generator",
    assigns=["doc._.generations"],
    default_config={"lm": "lstm_lm", "generation": {"max_new_tokens": 20}},
)
def make_text_generator(nlp: Language, name: str, lm: str, generation: Dict[str, Any]) -> "TextGenerator":
    """lm: name of the language-model component to decode from.
    generation: default decoding settings, with HuggingFace generate() names
    (max_new_tokens, do_sample, temperature, top_k, top_p, num_beams, seed, ...)."""
    return TextGenerator(nlp, name, lm=lm, generation=generation)


class TextGenerator(Pipe):
    def __init__(self, nlp: Language, name: str = "text_generator", *, lm: str = "lstm_lm",
                 generation: Optional[Dict[str, Any]] = None) -> None:
        install_generation_extensions()
        self.nlp = nlp
        self.name = name
        self.lm_name = lm
        self.defaults = GenerationConfig().replace(**(generation or {}))

    def _lm(self):
        if self.lm_name not in self.nlp.pipe_names:
            raise ValueError(Errors.E029.format(name=self.name, lm=self.lm_name, pipe_names=self.nlp.pipe_names))
        lm = self.nlp.get_pipe(self.lm_name)
        if not is_language_model(lm):
            raise ValueError(Errors.E030.format(lm=self.lm_name))
        return lm

    def _prompt_ids(self, lm, prompt: Union[str, Doc]) -> List[int]:
        if isinstance(prompt, str):
            prompt = self.nlp.make_doc(prompt)
        if not isinstance(prompt, Doc):
            raise TypeError(Errors.E031.format(type=type(prompt).__name__))
        return prompt_ids(lm.lm_vocab, prompt)

    def _config(self, overrides: Dict[str, Any]) -> GenerationConfig:
        return self.defaults.replace(**overrides) if overrides else self.defaults

    # --------------------------------------------------------------- pipeline use
    def __call__(self, doc: Doc) -> Doc:
        return next(iter(self.pipe([doc])))

    def pipe(self, docs: Iterable[Doc], *, batch_size: int = 32) -> Iterator[Doc]:
        """All prompts of a batch are decoded together (one LM step per position for the batch)."""
        lm = self._lm()
        for batch in minibatch(docs, size=batch_size):
            results = generate(lm, [self._prompt_ids(lm, d) for d in batch], self.defaults,
                               detokenize=detokenize_text)
            for doc, generations in zip(batch, results):
                doc._.generations = [self._as_dict(g) for g in generations]
                yield doc

    @staticmethod
    def _as_dict(generation) -> Dict[str, Any]:
        words, spaces = detokenize(generation.tokens)
        return {"text": detokenize_text(generation.tokens), "words": words, "spaces": spaces,
                **generation.to_dict()}

    # --------------------------------------------------------------- Python API
    def generate(self, prompts: Union[str, Doc, Iterable[Union[str, Doc]]], **overrides: Any) -> List[List[Doc]]:
        """Continuations of each prompt as Docs (words with correct ``whitespace_``); each
        continuation's ``doc._.generation`` holds its token log-probs, score and finish reason."""
        if isinstance(prompts, (str, Doc)):
            prompts = [prompts]
        lm = self._lm()
        config = self._config(overrides)
        ids = [self._prompt_ids(lm, p) for p in prompts]
        if not ids:
            return []
        results = generate(lm, ids, config, detokenize=detokenize_text)
        output = []
        for generations in results:
            docs = []
            for g in generations:
                info = self._as_dict(g)
                doc = Doc(self.nlp.vocab, words=info.pop("words"), spaces=info.pop("spaces"))
                doc._.generation = info
                docs.append(doc)
            output.append(docs)
        return output

    def stream(self, prompt: Union[str, Doc], **overrides: Any) -> Iterator[str]:
        """Text pieces as tokens are decided; joined they give the first continuation's text
        (each piece carries the space that belongs before its token)."""
        lm = self._lm()
        tokens: List[str] = []
        emitted = ""
        for event in stream(lm, self._prompt_ids(lm, prompt), self._config(overrides),
                            detokenize=detokenize_text):
            tokens.append(event.token)
            text = detokenize_text(tokens)
            piece, emitted = text[len(emitted):], text
            yield piece
