"""`spacy_lm.LexiconSentiment.v1`: zero-shot sentiment from a valence lexicon and rules.

    List[Doc] → List[Floats1d]: each token's rule-adjusted valence (see text/sentiment_lexicon.py)

No parameters: the `sentiment_scorer` component turns the valences into doc, sentence and
token scores. The same model is the lexicon prior of `spacy_lm.SentimentLSTM.v1`.

The lexicon is read when the `sentiment_scorer` component is made (``read_lexicons``: a
missing `vaderSentiment` or a bad TSV file fails at ``add_pipe``, not at the first doc) and is
then kept in ``attrs["lexicon"]`` (a plain ``{word: valence}`` dict), so it is saved with the
pipeline: a saved pipeline loads and runs where its TSV file is not.
"""
from pathlib import Path
from typing import Callable, Dict, List, Tuple

from spacy.tokens import Doc
from spacy.util import registry
from thinc.api import Model
from thinc.types import Floats1d

from ..text.sentiment_lexicon import SentimentRules, load_lexicon, token_valences

KIND_ATTR = "sentiment_kind"


@registry.architectures("spacy_lm.LexiconSentiment.v1")
def build_lexicon_sentiment(
    lexicon: str = "vader",
    negation: float = -0.74,
    negation_window: int = 4,
    booster: float = 0.293,
    contrast_before: float = 0.5,
    contrast_after: float = 1.5,
    alpha: float = 15.0,
) -> Model[List[Doc], List[Floats1d]]:
    """lexicon: "vader" (from the `vaderSentiment` package) or a path to a ``word<TAB>valence`` TSV file.
    negation: factor on a negated word; negation_window: tokens a negator reaches (same clause).
    booster: valence an intensifier adds (a dampener removes); contrast_before / contrast_after:
    factors on words before / after "but". alpha: squashing constant, polarity = S / sqrt(S² + alpha).
    """
    rules = SentimentRules(negation=negation, negation_window=negation_window, booster=booster,
                           contrast_before=contrast_before, contrast_after=contrast_after, alpha=alpha)
    return Model(
        "lexicon_sentiment",
        _forward,
        init=_init,
        attrs={KIND_ATTR: "lexicon", "lexicon_source": lexicon, "lexicon": None, "rules": rules.to_dict()},
    )


def get_lexicon(model: Model) -> Dict[str, float]:
    """The model's lexicon, read from its source on first use."""
    if model.attrs.get("lexicon") is None:
        model.attrs["lexicon"] = load_lexicon(model.attrs["lexicon_source"])
    return model.attrs["lexicon"]


def read_lexicons(model: Model) -> None:
    """Read the lexicon of every LexiconSentiment.v1 node of ``model`` now: E014 / E015 here.
    A TSV path that does not exist is left for ``initialize`` (which raises E015) or for
    ``from_disk``: a saved pipeline carries its lexicon, so it loads where the file is not."""
    for node in model.walk():
        if node.attrs.get(KIND_ATTR) != "lexicon" or node.attrs.get("lexicon") is not None:
            continue
        source = node.attrs["lexicon_source"]
        if source == "vader" or Path(source).exists():
            get_lexicon(node)


def get_rules(model: Model) -> SentimentRules:
    return SentimentRules(**model.attrs["rules"])


def _init(model: Model, X=None, Y=None) -> None:
    get_lexicon(model)


def _forward(model: Model, docs: List[Doc], is_train: bool) -> Tuple[List[Floats1d], Callable]:
    lexicon = get_lexicon(model)
    rules = get_rules(model)
    ops = model.ops
    scores = [ops.asarray1f(token_valences(doc, lexicon, rules)) if len(doc) else ops.alloc1f(0) for doc in docs]
    return scores, lambda d_scores: []
