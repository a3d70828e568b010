"""Tiny sentiment data and pipelines, made in the tests (no downloads, no shared data)."""
import spacy
from spacy.training import Example
from thinc.api import Adam, fix_random_seed

LEXICON_TSV = "like\t2.0\nhate\t-2.7\ngreat\t3.1\nawful\t-2.0\nboring\t-1.3\ngood\t1.9\nbad\t-2.5\n"
TRAIN = [("I like it a lot", "POS"), ("I hate it", "NEG"), ("what a great film", "POS"),
         ("awful and boring", "NEG"), ("a film", "POS"), ("a lot of it", "NEG")]
TOK2VEC = {"@architectures": "spacy.MultiHashEmbed.v2", "width": 12, "attrs": ["NORM", "PREFIX"],
           "rows": [200, 100], "include_static_vectors": False}


def write_lexicon(path) -> str:
    path.write_text(LEXICON_TSV, encoding="utf-8")
    return str(path)


def trained_sentiment_nlp(lexicon_path: str, steps: int = 10, attribution_steps: int = 16):
    """A blank English pipeline (sentencizer + sentiment_scorer with SentimentLSTM.v1) trained a little."""
    fix_random_seed(0)
    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer")
    model = {"@architectures": "spacy_lm.SentimentLSTM.v1", "tok2vec": TOK2VEC, "width": 8, "depth": 1,
             "dropout": 0.0, "lexicon": {"@architectures": "spacy_lm.LexiconSentiment.v1", "lexicon": lexicon_path}}
    nlp.add_pipe("sentiment_scorer", config={"model": model, "attribution_steps": attribution_steps})
    examples = [Example.from_dict(nlp.make_doc(t), {"cats": {"POS": float(y == "POS"), "NEG": float(y == "NEG")}})
                for t, y in TRAIN]
    nlp.initialize(lambda: examples)
    optimizer = Adam(0.02)
    for _ in range(steps):
        nlp.update(examples, sgd=optimizer)
    return nlp
