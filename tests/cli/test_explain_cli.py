"""`spacy lm explain MODEL "text" --html out.html`."""
import json

import pytest
from typer.testing import CliRunner

from spacy_lm.cli import lm_app

from ..sentiment_fixtures import trained_sentiment_nlp, write_lexicon


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    root = tmp_path_factory.mktemp("explain")
    nlp = trained_sentiment_nlp(write_lexicon(root / "lex.tsv"), attribution_steps=0)
    nlp.to_disk(root / "pipeline")
    return root


def test_explain_writes_html_and_json(saved):
    out = saved / "out.html"
    result = CliRunner().invoke(lm_app, ["explain", str(saved / "pipeline"), "I like it. I hate it.",
                                                         "--html", str(out), "--json", "--steps", "16"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert [t for t, _ in data["tokens"]] == ["I", "like", "it", ".", "I", "hate", "it", "."]
    assert all(v is not None for _, v in data["tokens"])  # forced on although attribution_steps = 0
    assert len(data["sentences"]) == 2
    assert abs(sum(v for _, v in data["tokens"]) + data["base"] - data["polarity"]) < 0.02
    assert "slm-legend" in out.read_text(encoding="utf-8")
    text = CliRunner().invoke(lm_app, ["explain", str(saved / "pipeline"), "I hate it"])
    assert text.exit_code == 0 and text.output.startswith("polarity ")
