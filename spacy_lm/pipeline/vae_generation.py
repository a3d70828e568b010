"""Generation from a `sentence_vae`: sampling from the prior, reconstruction and interpolation.

All go through the one decoder (:mod:`spacy_lm.decoding`) with the VAE's decoder conditioned
on latent codes (:class:`spacy_lm.pipeline.conditioned_lm.ConditionedLM`, z in the state):
greedy by default, any :class:`~spacy_lm.decoding.GenerationConfig` setting by keyword.
"""
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple, Union

import numpy
from spacy.tokens import Doc

from ..checks import check_setting, is_count
from ..decoding import Generation, GenerationConfig, generate
from ..errors import Errors
from ..text.detokenize import detokenize_text
from ..text.vocab import TokenVocab
from ..types import LatentLMModel
from .conditioned_lm import ConditionedLM


class VAEGenerationMixin:
    """Needs ``name``, ``cfg`` (``max_length``), ``model`` (:class:`spacy_lm.types.LatentLMModel`),
    ``latent_size``, ``encode`` and ``_require_initialized``."""

    name: str
    cfg: Dict[str, Any]
    model: LatentLMModel
    latent_size: int
    _require_initialized: Callable[[], TokenVocab]
    encode: Callable[..., Tuple[numpy.ndarray, numpy.ndarray]]

    def decoder(self, z: Any) -> ConditionedLM:
        """The decoder conditioned on latent codes ``z`` ``(n, nZ)``: a language model for
        :func:`spacy_lm.decoding.generate` with ``n`` prompts (row ``i`` decodes from ``z[i]``)."""
        vocab = self._require_initialized()
        z = numpy.asarray(z, dtype="float32")
        if z.ndim != 2 or z.shape[1] != self.latent_size or not numpy.isfinite(z).all():
            raise ValueError(Errors.E123.format(name=self.name, shape=tuple(z.shape), nZ=self.latent_size))
        start = self.model.start_state(self.model.ops.asarray(z))
        return ConditionedLM(self.model, vocab, start, len(z), name=self.name, conditions="latent codes",
                             batch_error=Errors.E124)

    def generate_from(self, z: Any, prompts: Optional[Sequence[Sequence[int]]] = None,
                      **settings: Any) -> List[List[Generation]]:
        """Decode from each row of ``z`` with the one decoder; ``settings`` are GenerationConfig's
        (default: greedy, up to ``max_length`` tokens)."""
        decoder = self.decoder(z)
        config = GenerationConfig(max_new_tokens=self.cfg["max_length"]).replace(**settings)
        prompts = [[] for _ in range(decoder.n_conditions)] if prompts is None else prompts
        return generate(decoder, prompts, config, detokenize=detokenize_text)

    def _texts(self, generations: List[List[Generation]]) -> List[str]:
        return [detokenize_text(g[0].tokens) for g in generations]

    def sample(self, n: int = 1, *, seed: int = 0, **settings: Any) -> List[str]:
        """``n`` sentences from the prior: z ~ N(0, I) (seeded), decoded greedily by default;
        with ``do_sample=True`` the tokens are drawn too, from ``seed`` unless given one."""
        check_setting(is_count(n, 1), "n", "an integer >= 1", n)
        check_setting(is_count(seed, 0), "seed", "an integer >= 0", seed)
        if settings.get("do_sample") and settings.get("seed") is None:
            settings["seed"] = seed
        z = numpy.random.default_rng(seed).standard_normal((n, self.latent_size))
        return self._texts(self.generate_from(z, **settings))

    def reconstruct(self, texts: Iterable[Union[str, Doc]], **settings: Any) -> List[str]:
        """Each text decoded from its posterior mean."""
        means, _ = self.encode(texts)
        return self._texts(self.generate_from(means, **settings)) if len(means) else []

    def interpolate(self, start: Union[str, Doc], end: Union[str, Doc], n_steps: int = 8,
                    **settings: Any) -> List[Tuple[float, str]]:
        """Homotopy between two sentences: ``n_steps`` points z = (1 - t) z_start + t z_end
        (t from 0 to 1, both ends included, posterior means), each decoded."""
        check_setting(is_count(n_steps, 2), "n_steps", "an integer >= 2", n_steps)
        means, _ = self.encode([start, end])
        ts = numpy.linspace(0.0, 1.0, n_steps)
        z = (1.0 - ts)[:, None] * means[0] + ts[:, None] * means[1]
        return list(zip(ts.tolist(), self._texts(self.generate_from(z, **settings))))
