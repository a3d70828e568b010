"""The `translator` component: training on parallel examples, decoding through the one decoder
(greedy, beam, stream), annotations that survive DocBin, unknown-word replacement, bounded
outputs, save/load, and clear errors. Tiny models trained here (a second or two)."""
import pytest
import spacy
import srsly
from spacy.tokens import DocBin
from spacy.training import Example
from thinc.api import Adam, fix_random_seed

from spacy_lm.extensions import install_translation_extensions
from spacy_lm.types import is_language_model

PAIRS = [("ein hund läuft", "a dog runs"), ("eine katze schläft", "a cat sleeps"),
         ("ein mann isst brot", "a man eats bread"), ("eine frau liest ein buch", "a woman reads a book"),
         ("der hund schläft", "the dog sleeps"), ("die katze isst", "the cat eats")]
CONFIG = {"min_freq": 1, "model": {"embed_size": 16, "encoder_width": 16, "decoder_width": 24, "dropout": 0.0}}


def make_examples(nlp, pairs=PAIRS):
    install_translation_extensions()
    examples = []
    for source, target in pairs:
        doc = nlp.make_doc(source)
        reference = doc.copy()
        reference._.translation = target
        examples.append(Example(doc, reference))
    return examples


def make_translator(config=None, pairs=PAIRS):
    fix_random_seed(0)
    nlp = spacy.blank("de")
    translator = nlp.add_pipe("translator", config={**CONFIG, **(config or {})})
    examples = make_examples(nlp, pairs)
    nlp.initialize(lambda: examples)
    return nlp, translator, examples


def train(nlp, examples, steps=60, learn_rate=0.03):
    optimizer = Adam(learn_rate)
    return [nlp.update(examples, sgd=optimizer, losses={})["translator"] for _ in range(steps)]


@pytest.fixture(scope="module")
def trained():
    nlp, translator, examples = make_translator({"store_attention": True})
    losses = train(nlp, examples)
    return nlp, translator, examples, losses


def test_training_learns_the_pairs(trained):
    nlp, translator, examples, losses = trained
    assert losses[-1] < 0.1 * losses[0]
    assert translator.translate([s for s, _ in PAIRS]) == [t for _, t in PAIRS]
    scores = nlp.evaluate(examples)
    assert scores["translation_bleu"] > 0.99 and scores["translation_tok_bleu"] > 0.99
    assert 1.0 <= scores["translation_perplexity"] < 1.5


def test_annotations_are_plain_values_that_survive_docbin_and_pipe(trained):
    nlp, translator, _, _ = trained
    texts = [s for s, _ in PAIRS]
    piped = list(nlp.pipe(texts, batch_size=2))
    for text, doc in zip(texts, piped):
        alone = nlp(text)
        assert doc._.translation == alone._.translation
        assert doc._.translation_logprobs == pytest.approx(alone._.translation_logprobs, abs=1e-5)
    doc = piped[3]
    assert doc._.translation == "a woman reads a book"
    assert len(doc._.translation_tokens) == len(doc._.translation_logprobs) == 5
    assert all(lp <= 0 for lp in doc._.translation_logprobs)
    attention = doc._.translation_attention
    assert len(attention) == 5 and all(len(row) == len(doc) + 1 for row in attention)
    assert all(abs(sum(row) - 1.0) < 1e-4 for row in attention)
    restored = list(DocBin(docs=piped, store_user_data=True).get_docs(nlp.vocab))
    assert [d._.translation for d in restored] == [d._.translation for d in piped]
    assert [list(row) for row in restored[3]._.translation_attention] == attention  # msgpack gives tuples


def test_translator_is_a_language_model_for_the_one_decoder(trained):
    nlp, translator, _, _ = trained
    lm = translator.source_lm([nlp.make_doc("ein hund läuft")])
    assert is_language_model(lm)
    greedy = translator.translate(["ein hund läuft"])[0]
    assert translator.translate(["ein hund läuft"], num_beams=4)[0] == greedy
    assert " ".join(translator.stream("ein hund läuft")) == greedy
    beams = translator.translate_docs([nlp.make_doc("ein hund läuft")], num_beams=4, num_return_sequences=3)[0]
    assert len(beams["alternatives"]) == 3 and beams["alternatives"][0] == greedy
    with pytest.raises(ValueError, match="E134"):
        lm.initial_state(2)


def test_target_prefix_is_continued(trained):
    nlp, translator, _, _ = trained
    lm = translator.source_lm([nlp.make_doc("eine frau liest ein buch")])
    from spacy_lm.decoding import GenerationConfig, generate

    prefix = [translator.lm_vocab.id_of(t) for t in ["a", "woman"]]
    out = generate(lm, [prefix], GenerationConfig(max_new_tokens=10))[0][0]
    assert out.tokens == ["reads", "a", "book"]


def test_empty_source_gives_an_empty_translation(trained):
    nlp, translator, _, _ = trained
    doc = nlp("")
    assert doc._.translation == "" and doc._.translation_tokens == []
    assert translator.translate(["", "ein hund läuft"]) == ["", "a dog runs"]


def test_unknown_source_words_are_copied_by_attention():
    cities = ["berlin", "paris", "rom", "wien", "prag", "oslo", "madrid", "lima"]
    # each city once: with min_freq 2 every city is <unk> on both sides, "ich sehe" / "i see" are known
    pairs = [(f"ich sehe {c}", f"i see {c}") for c in cities]
    outputs, attention = {}, {}
    for replace_unk in (True, False):
        nlp, translator, examples = make_translator({"min_freq": 2, "replace_unk": replace_unk,
                                                     "store_attention": True}, pairs)
        assert "berlin" not in translator.lm_vocab and "i" in translator.lm_vocab
        train(nlp, examples, steps=60)
        doc = nlp("ich sehe zürich")
        outputs[replace_unk], attention[replace_unk] = doc._.translation, doc._.translation_attention
        assert " ".join(translator.stream("ich sehe zürich")) == doc._.translation
        beams = translator.translate_docs([doc], num_beams=2, num_return_sequences=2)[0]
        assert beams["alternatives"][0] == beams["text"]
    assert outputs[False] == "i see <unk>"
    # the <unk> becomes the source token the model attended to most while producing it
    row = attention[True][2][:3]
    assert outputs[True] == "i see " + ["ich", "sehe", "zürich"][row.index(max(row))]


def test_outputs_are_bounded_for_sources_longer_than_any_training_pair(trained):
    nlp, translator, _, _ = trained
    long_source = " ".join(["hund"] * 300)
    out = translator.translate_docs([nlp.make_doc(long_source)])[0]
    assert len(out["tokens"]) <= translator.cfg["max_length"]
    short = translator.translate_docs([nlp.make_doc("hund")])[0]
    assert len(short["tokens"]) <= 1.5 * 2 + 10


def test_save_and_load_give_identical_translations(trained, tmp_path):
    nlp, translator, _, _ = trained
    nlp.to_disk(tmp_path / "model")
    loaded = spacy.load(tmp_path / "model")
    texts = [s for s, _ in PAIRS]
    assert [d._.translation for d in loaded.pipe(texts)] == [d._.translation for d in nlp.pipe(texts)]
    again = spacy.blank("de").add_pipe("translator", config=CONFIG)
    again.from_bytes(translator.to_bytes())
    assert again.translate(texts) == translator.translate(texts)


def test_a_mismatched_source_vocabulary_is_refused(trained, tmp_path):
    nlp, translator, _, _ = trained
    translator.to_disk(tmp_path / "t")
    other_nlp, other, _ = make_translator(pairs=[("x y", "z")])
    (tmp_path / "t" / "source_vocab").write_bytes(other.source_vocab.to_bytes())
    with pytest.raises(ValueError, match="E034"):
        spacy.blank("de").add_pipe("translator", config=CONFIG).from_disk(tmp_path / "t")


def test_clear_errors():
    nlp = spacy.blank("de")
    translator = nlp.add_pipe("translator", config=CONFIG)
    with pytest.raises(ValueError, match="E005"):
        translator.translate(["ein hund"])
    install_translation_extensions()
    doc = nlp.make_doc("ein hund")
    with pytest.raises(ValueError, match="E132"):
        nlp.initialize(lambda: [Example(doc, doc.copy())])
    with pytest.raises(ValueError, match="target_lang"):
        spacy.blank("de").add_pipe("translator", config={**CONFIG, "target_lang": "xx-nonsense"})
    with pytest.raises(ValueError, match="length_ratio"):
        spacy.blank("de").add_pipe("translator", config={**CONFIG, "length_ratio": 0})
    trained_nlp, trained_translator, _ = make_translator()
    with pytest.raises(TypeError, match="E135"):
        trained_translator.translate([42])


def test_flipped_model_bytes_are_a_damaged_file_named(trained, tmp_path):
    """Flipped weight bytes load as other weights: the digest in cfg refuses them (E230)."""
    _, translator, _, _ = trained
    translator.to_disk(tmp_path / "t")
    model_file = tmp_path / "t" / "model"
    data = model_file.read_bytes()
    middle = len(data) // 2
    model_file.write_bytes(data[:middle] + bytes(b ^ 0xFF for b in data[middle : middle + 4]) + data[middle + 4 :])
    fresh = spacy.blank("de").add_pipe("translator", config={**CONFIG, "store_attention": True})
    with pytest.raises(ValueError, match=r"\[E230\] 'translator': the file 'model' in .* is damaged"):
        fresh.from_disk(tmp_path / "t")
    assert not fresh.is_initialized
    msg = srsly.msgpack_loads(translator.to_bytes())
    msg["source_vocab"] = msg["source_vocab"][:-3] + b"xyz"
    with pytest.raises(ValueError, match=r"\[E230\] 'translator': the file 'source_vocab' in bytes is damaged"):
        fresh.from_bytes(srsly.msgpack_dumps(msg))


def edit_component(path, **settings):
    from thinc.api import Config

    config = Config().from_disk(path / "config.cfg")
    config["components"]["translator"].update(settings)
    config.to_disk(path / "config.cfg")


def test_edited_decoding_settings_are_the_configs(trained, tmp_path):
    """store_attention / replace_unk / length_ratio / max_length edited in config.cfg used to be
    overwritten by the saved cfg; now the config decides them (issue #30)."""
    nlp, translator, _, _ = trained
    nlp.to_disk(tmp_path / "model")
    edit_component(tmp_path / "model", store_attention=False, replace_unk=False, length_ratio=0.5, max_length=2)
    loaded = spacy.load(tmp_path / "model")
    other = loaded.get_pipe("translator")
    assert {k: other.cfg[k] for k in ("store_attention", "replace_unk", "length_ratio", "max_length")} == \
        {"store_attention": False, "replace_unk": False, "length_ratio": 0.5, "max_length": 2}
    assert nlp("ein mann isst brot")._.translation_attention is not None
    doc = loaded("ein mann isst brot")
    assert doc._.translation_attention is None
    assert len(doc._.translation_tokens) <= 2 < len(nlp("ein mann isst brot")._.translation_tokens)
    assert other._bound(20) == 2 and other._bound(1) == 2
    edit_component(tmp_path / "model", max_length=100)
    assert spacy.load(tmp_path / "model").get_pipe("translator")._bound(40) == 30  # 0.5 * 40 + 10


def test_an_edited_target_language_is_named(trained, tmp_path):
    nlp, _, _, _ = trained
    nlp.to_disk(tmp_path / "model")
    edit_component(tmp_path / "model", target_lang="fr")
    with pytest.raises(ValueError, match=r"\[E035\] 'translator': config.cfg says components.translator.target_lang "
                                         r"= \"fr\" but the saved weights have target_lang \"en\""):
        spacy.load(tmp_path / "model")


@pytest.mark.parametrize("drop", [1.0, 1.5, float("nan")])
def test_a_dropout_outside_0_1_is_refused(drop):
    nlp, translator, examples = make_translator()
    with pytest.raises(ValueError, match=r"\[E231\] 'translator': dropout must be a number in \[0, 1\)"):
        nlp.update(examples, drop=drop, sgd=Adam(0.01))
    assert "translator" in nlp.update(examples, drop=0.5, losses={})
