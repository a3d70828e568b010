"""The `qa` component's LM features at initialization: which trained `lstm_lm` components the
reader's frozen `spacy_lm.LMFeatures` copy, and the copy.

The forward LM comes from ``[initialize.components.qa] lm_pipeline``, the backward one (for
`spacy_lm.LMFeatures.v2` with ``backward = true``) from ``lm_backward_pipeline``: in each
pipeline, the first language model that reads in that direction (one pipeline may hold both).
The features read one id array, so the two LMs must share their vocabulary (E317): two LMs
pre-trained on one corpus with the same attr, min_freq and max_size do. After loading, the qa
pipeline needs neither: the weights and the vocabulary are saved inside the component.
"""
from dataclasses import dataclass
from typing import Any, Dict, Optional

from spacy.language import Language

from ..errors import Errors
from ..pipeline_lookup import find_lm_component
from ..text.vocab import TokenVocab
from ..types import SpanReaderModel


@dataclass
class FeatureLMs:
    """The LM components whose encoders the features copy, and the paths they came from."""

    forward: Any
    path: str
    backward: Optional[Any] = None
    backward_path: Optional[str] = None

    @property
    def vocab(self) -> TokenVocab:
        """The vocabulary the features' ids are in (both LMs have it)."""
        return self.forward.lm_vocab


def feature_lms(name: str, model: SpanReaderModel, lm_pipeline: Optional[str],
                lm_backward_pipeline: Optional[str]) -> Optional[FeatureLMs]:
    """The LMs the model's features need (None without LM features), checked: E274 / E315 for a
    missing pipeline, E318 for a backward one the model does not read, E316 for an LM of the
    wrong direction, E317 for two vocabularies."""
    wants_backward = bool(getattr(model, "has_backward_lm_features", False))
    if lm_backward_pipeline is not None and not wants_backward:
        raise ValueError(Errors.E318.format(name=name))
    if not model.has_lm_features:
        return None
    if lm_pipeline is None:
        raise ValueError(Errors.E274.format(name=name))
    if wants_backward and lm_backward_pipeline is None:
        raise ValueError(Errors.E315.format(name=name))
    loaded: Dict[str, Language] = {}
    lms = FeatureLMs(_pretrained_lm(name, str(lm_pipeline), "lm_pipeline", False, loaded), str(lm_pipeline))
    if wants_backward:
        lms.backward_path = str(lm_backward_pipeline)
        lms.backward = _pretrained_lm(name, lms.backward_path, "lm_backward_pipeline", True, loaded)
        forward_vocab, backward_vocab = lms.forward.lm_vocab, lms.backward.lm_vocab
        if forward_vocab.attr != backward_vocab.attr or forward_vocab.checksum != backward_vocab.checksum:
            raise ValueError(Errors.E317.format(name=name, path=lms.path, backward_path=lms.backward_path,
                                                size=len(forward_vocab), backward_size=len(backward_vocab),
                                                attr=forward_vocab.attr, backward_attr=backward_vocab.attr))
    return lms


def copy_encoders(name: str, model: SpanReaderModel, lms: FeatureLMs) -> None:
    """Copy each LM's embedding and recurrent stack into the features (their ``nV`` already set);
    E275 when the features' settings are not the LM's."""
    copies = [(lms.forward, lms.path, False)]
    if lms.backward is not None:
        copies.append((lms.backward, lms.backward_path, True))
    for lm, path, backward in copies:
        weights = (lm.model.get_ref("embedding").to_bytes(), lm.model.get_ref("rnn").to_bytes())
        try:
            if backward:
                model.load_lm_features(*weights, backward=True)
            else:
                model.load_lm_features(*weights)
        except Exception as err:
            raise ValueError(Errors.E275.format(name=name, path=path, error=str(err).splitlines()[0])) from None


def _pretrained_lm(name: str, path: str, setting: str, backward: bool, loaded: Dict[str, Language]) -> Any:
    """The first language model of the pipeline at ``path`` that reads in the wanted direction."""
    import spacy

    if path not in loaded:
        loaded[path] = spacy.load(path)
    lm_nlp = loaded[path]
    find_lm_component(lm_nlp)  # E041 when it has no language model at all
    lms = [(pipe_name, pipe) for pipe_name, pipe in lm_nlp.pipeline
           if hasattr(pipe, "initial_state") and hasattr(pipe, "step")]
    for _, pipe in lms:
        if bool(getattr(pipe, "backward", False)) == backward:
            return pipe
    found = ", ".join(f"{pipe_name} ({'backward' if getattr(pipe, 'backward', False) else 'forward'})"
                      for pipe_name, pipe in lms)
    raise ValueError(Errors.E316.format(name=name, setting=setting, path=path, found=found,
                                        expected="backward" if backward else "forward"))
