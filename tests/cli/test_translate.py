"""`spacy lm translate MODEL [TEXT|-]` on a tiny trained translator: the command prints what the
Python API (``Translator.translate_docs``, ``Translator.stream``) returns, ``translate_lines``
(the library function under it), the ``--attention`` HTML view, ``find_translator_component``,
and bad input as one coded line on stderr with exit code 1."""
import json
import math

import numpy
import pytest
import spacy
from spacy.training import Example
from thinc.api import Adam, fix_random_seed
from typer.testing import CliRunner

from spacy_lm.cli import lm_app
from spacy_lm.cli.translate import stream_pieces, translate_lines
from spacy_lm.extensions import install_translation_extensions
from spacy_lm.pipeline_lookup import find_translator_component

PAIRS = [("ein hund läuft", "a dog runs"), ("eine katze schläft", "a cat sleeps"),
         ("ein mann isst brot", "a man eats bread"), ("eine frau liest ein buch", "a woman reads a book"),
         ("der hund schläft", "the dog sleeps"), ("die katze isst", "the cat eats")]
SOURCES = [source for source, _ in PAIRS]
TINY = {"min_freq": 1, "model": {"embed_size": 8, "encoder_width": 16, "decoder_width": 16, "dropout": 0.0}}


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory):
    """(saved translator pipeline, the same loaded back, a saved pipeline without a translator)."""
    fix_random_seed(0)
    install_translation_extensions()
    nlp = spacy.blank("de")
    nlp.add_pipe("translator", config=TINY)
    examples = []
    for source, target in PAIRS:
        doc = nlp.make_doc(source)
        reference = doc.copy()
        reference._.translation = target
        examples.append(Example(doc, reference))
    nlp.initialize(lambda: examples)
    optimizer = Adam(0.03)
    for _ in range(80):
        nlp.update(examples, sgd=optimizer)
    root = tmp_path_factory.mktemp("translate_cli")
    path = root / "translator"
    nlp.to_disk(path)
    other = spacy.blank("de")
    other.add_pipe("sentencizer")
    other.to_disk(root / "no_translator")
    return path, spacy.load(path), root / "no_translator"


@pytest.fixture(scope="module")
def translator(pipeline):
    return pipeline[1].get_pipe("translator")


def invoke(args, **kwargs):
    return CliRunner().invoke(lm_app, ["translate", *map(str, args)], **kwargs)


def ok(result):
    assert result.exit_code == 0, result.output
    return result.stdout


def one_line_error(result, code: str) -> str:
    """Exit 1, no traceback, one line on stderr starting with ``Error: [code]``."""
    assert result.exit_code == 1, result.output
    assert not isinstance(result.exception, Exception) or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"Error: [{code}]"), result.stderr
    return lines[0]


def test_the_tiny_translator_learned_the_pairs(translator):
    # the CLI checks below compare against the API; this makes sure the API says something real
    assert translator.translate(SOURCES) == [target for _, target in PAIRS]


# ---- TEXT, stdin, --json ---------------------------------------------------------------------


def test_text_argument_prints_its_translation(pipeline, translator):
    out = ok(invoke([pipeline[0], "eine frau liest ein buch"]))
    assert out == "a woman reads a book\n"
    assert out == translator.translate(["eine frau liest ein buch"])[0] + "\n"


@pytest.mark.parametrize("dash", [True, False], ids=["dash", "omitted"])
def test_stdin_gives_one_translation_per_line_empty_lines_kept(pipeline, translator, dash):
    lines = [SOURCES[0], "", SOURCES[5], SOURCES[3]]
    args = [pipeline[0]] + (["-"] if dash else [])
    out = ok(invoke(args, input="\n".join(lines) + "\n"))
    assert out.split("\n")[:-1] == translator.translate(lines)
    assert out == "a dog runs\n\nthe cat eats\na woman reads a book\n"


def test_json_has_the_fields_of_translate_docs(pipeline, translator):
    out = ok(invoke([pipeline[0], "--json"], input=f"{SOURCES[1]}\n{SOURCES[2]}\n"))
    records = [json.loads(line) for line in out.splitlines()]
    assert len(records) == 2
    for source, record in zip(SOURCES[1:3], records):
        expected = translator.translate_docs([translator.tokenizer(source)])[0]
        assert set(record) == {"source", "translation", "tokens", "logprobs", "score"}  # no alternatives for 1
        assert record["source"] == source
        assert record["translation"] == expected["text"] and record["tokens"] == expected["tokens"]
        assert record["logprobs"] == pytest.approx(expected["logprobs"])
        assert len(record["logprobs"]) == len(record["tokens"])
        assert record["score"] == pytest.approx(expected["score"])
        assert all(lp <= 0 for lp in record["logprobs"]) and math.isfinite(record["score"])
    assert [r["translation"] for r in records] == ["a cat sleeps", "a man eats bread"]


def test_beams_return_alternatives(pipeline, translator):
    source = SOURCES[0]
    out = ok(invoke([pipeline[0], source, "--num-beams", "3", "--num-return", "2", "--json"]))
    record = json.loads(out)
    expected = translator.translate_docs([translator.tokenizer(source)], num_beams=3, num_return_sequences=2)[0]
    assert len(record["alternatives"]) == 2 and record["alternatives"] == expected["alternatives"]
    assert record["alternatives"][0] == record["translation"] == "a dog runs"
    assert record["alternatives"][1] != record["alternatives"][0]
    # plain output: the alternatives of a source on its line, tab-separated
    plain = ok(invoke([pipeline[0], source, "--num-beams", "3", "--num-return", "2"]))
    assert plain == "\t".join(record["alternatives"]) + "\n"


def test_decoding_options_reach_the_decoder(pipeline, translator):
    source = SOURCES[3]
    out = ok(invoke([pipeline[0], source, "--max-new-tokens", "2", "--json"]))
    assert json.loads(out)["tokens"] == ["a", "woman"]  # cut at 2 tokens
    sampled = [ok(invoke([pipeline[0], source, "--sample", "--seed", "3", "--json"])) for _ in range(2)]
    assert sampled[0] == sampled[1]
    expected = translator.translate_docs([translator.tokenizer(source)], do_sample=True, seed=3)[0]
    assert json.loads(sampled[0])["logprobs"] == pytest.approx(expected["logprobs"])
    # "a" twice in "a woman reads a book": a ban of repeated unigrams changes the output
    banned = json.loads(ok(invoke([pipeline[0], source, "--no-repeat-ngram-size", "1", "--json"])))
    assert banned["tokens"].count("a") == 1
    expected = translator.translate_docs([translator.tokenizer(source)], no_repeat_ngram_size=1)[0]
    assert banned["tokens"] == expected["tokens"]
    # beam scores: the summed log-prob over length ** length_penalty
    beams = [pipeline[0], source, "--num-beams", "2", "--json"]
    summed = json.loads(ok(invoke([*beams, "--length-penalty", "0"])))["score"]
    doc = translator.tokenizer(source)
    assert summed == pytest.approx(translator.translate_docs([doc], num_beams=2, length_penalty=0.0)[0]["score"])
    assert summed != pytest.approx(json.loads(ok(invoke([*beams, "--length-penalty", "1"])))["score"])


# ---- --stream ---------------------------------------------------------------------------------


def test_stream_prints_the_same_translations(pipeline):
    lines = [SOURCES[3], "", SOURCES[2]]
    stdin = "\n".join(lines) + "\n"
    plain = ok(invoke([pipeline[0]], input=stdin))
    streamed = ok(invoke([pipeline[0], "--stream"], input=stdin))
    assert streamed == plain == "a woman reads a book\n\na man eats bread\n"
    beams = ["--num-beams", "3"]
    assert ok(invoke([pipeline[0], SOURCES[0], "--stream", *beams])) == ok(invoke([pipeline[0], SOURCES[0], *beams]))


def test_stream_pieces_carry_their_spaces(pipeline, translator):
    nlp = pipeline[1]
    pieces = list(stream_pieces(translator, nlp.make_doc(SOURCES[3])))
    assert pieces == ["a", " woman", " reads", " a", " book"]
    assert list(stream_pieces(translator, nlp.make_doc(""))) == []


# ---- --attention ------------------------------------------------------------------------------


def test_attention_writes_an_html_view(pipeline, tmp_path):
    html_path = tmp_path / "attention.html"
    sources = ["ein hund läuft", "die <katze> & isst"]
    result = invoke([pipeline[0], "--attention", html_path], input="\n".join(sources) + "\n")
    out = ok(result)
    assert out.splitlines() == ok(invoke([pipeline[0]], input="\n".join(sources) + "\n")).splitlines()
    assert str(html_path) in result.stderr
    page = html_path.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and page.count('class="slm-attn"') == 2
    for token in ["ein", "hund", "läuft", "die", "katze", "isst"]:
        assert f'<th class="src">{token}</th>' in page
    assert '<th class="src">&lt;</th>' in page and '<th class="src">&amp;</th>' in page
    assert "<katze>" not in page
    # one row per output token of each translation
    records = [json.loads(line) for line in ok(invoke([pipeline[0], "--json"], input="\n".join(sources))).splitlines()]
    assert page.count('class="out-row"') == sum(len(r["tokens"]) for r in records)


def test_translate_lines_gives_attention_of_the_right_shape(pipeline, translator):
    nlp = pipeline[1]
    items = translate_lines(nlp, [SOURCES[4], ""], attention=True)
    assert translator.cfg["store_attention"] is False  # restored
    first, empty = items
    assert first["translation"] == "the dog sleeps" and first["source_tokens"] == ["der", "hund", "schläft"]
    weights = first["attention"]
    assert len(weights) == len(first["tokens"]) and all(len(row) == 4 for row in weights)
    assert all(sum(row) == pytest.approx(1.0, abs=1e-4) for row in weights)
    # the same weights as the decoder's attention read by a teacher-forced pass over the output
    lm = translator.source_lm([nlp.make_doc(SOURCES[4])])
    expected = lm.attention([[translator.lm_vocab.id_of(t) for t in first["tokens"]]])[0]
    assert numpy.allclose(weights, expected, atol=1e-6)
    assert empty == {"source": "", "translation": "", "tokens": [], "logprobs": [], "score": 0.0,
                     "source_tokens": [], "attention": []}
    assert "attention" not in translate_lines(nlp, [SOURCES[4]])[0]


# ---- finding the component and bad input --------------------------------------------------------


def test_find_translator_component(pipeline):
    nlp, other = pipeline[1], spacy.load(pipeline[2])
    assert find_translator_component(nlp) == find_translator_component(nlp, "translator") == "translator"
    with pytest.raises(ValueError, match=r"E041.*translator.*sentencizer"):
        find_translator_component(other)
    with pytest.raises(ValueError, match=r"E040.*'tagger'"):
        find_translator_component(other, "tagger")
    with pytest.raises(ValueError, match=r"E136.*'sentencizer'.*sentencizer component"):
        find_translator_component(other, "sentencizer")


@pytest.mark.parametrize("args,code,text", [
    (["{missing}", "ein hund"], "E050", "Can't find model"),
    (["{other}", "ein hund"], "E041", "no translator component"),
    (["{other}", "ein hund", "-c", "sentencizer"], "E136", "is not a translator"),
    (["{path}", "ein hund", "-c", "nope"], "E040", "No component 'nope'"),
    (["{path}", "ein hund", "--num-beams", "0"], "E085", "--num-beams must be an integer >= 1, got 0"),
    (["{path}", "ein hund", "--num-beams", "2", "--num-return", "3"], "E085",
     "--num-return must be at most --num-beams (2)"),
    (["{path}", "ein hund", "--num-return", "2"], "E085", "--num-return must be at most --num-beams (1)"),
    (["{path}", "ein hund", "--num-return", "0"], "E085", "--num-return must be an integer >= 1"),
    (["{path}", "ein hund", "--sample", "--num-beams", "2"], "E085", "--sample must be used with --num-beams 1"),
    (["{path}", "ein hund", "--seed", "-1"], "E085", "--seed must be an integer >= 0"),
    (["{path}", "ein hund", "--max-new-tokens", "0"], "E085", "--max-new-tokens must be an integer >= 1"),
    (["{path}", "ein hund", "--no-repeat-ngram-size", "-1"], "E085", "--no-repeat-ngram-size must be"),
    (["{path}", "ein hund", "--stream", "--json"], "E085", "--stream must be used without --json"),
    (["{path}", "ein hund", "--attention", "{missing}/a.html"], "E085", "--attention must be a file in an existing"),
], ids=["missing-model", "no-translator", "not-a-translator", "unknown-component", "beams-0", "return-gt-beams",
        "return-greedy", "return-0", "beam-sampling", "seed-neg", "max-new-0", "ngram-neg", "stream-json",
        "attention-dir"])
def test_bad_input_is_one_line_with_exit_1(pipeline, tmp_path, args, code, text):
    fill = {"path": pipeline[0], "other": pipeline[2], "missing": tmp_path / "no-such-pipeline"}
    line = one_line_error(invoke([a.format(**fill) for a in args]), code)
    assert text in line


def test_stdin_that_is_not_utf8_is_one_line(pipeline):
    for extra in ([], ["--stream"], ["--json"]):
        line = one_line_error(invoke([pipeline[0], "-", *extra], input=b"ok\n\xff\xfe\n"), "E250")
        assert "stdin is not UTF-8 text: line 2 has byte 0xff (offset 3 of stdin)" in line
