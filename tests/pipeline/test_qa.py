"""The `qa` component: it learns to answer, writes doc._.answers and doc.spans["answers"], answers
long contexts through windows, save/load and nlp.pipe (also with n_process=2) give identical
answers, LM features from a trained lstm_lm (forward, and forward + backward with
spacy_lm.LMFeatures.v2), and clear errors for bad input. Tiny models and data made here
(tests/qa_fixtures.py)."""
import shutil

import numpy
import pytest
import spacy
import srsly
from thinc.api import Adam, fix_random_seed

from spacy_lm.corpora.squad import squad_examples
from spacy_lm.extensions import QA_SPANS_KEY
from spacy_lm.pipeline.qa_rows import Row, reader_batch, reader_input, window_features
from tests.qa_fixtures import squad_records

CONFIG = {"min_freq": 1, "model": {"width": 16, "depth": 1, "embed_size": 16, "dropout": 0.0}}


def make_qa(config=None, records=None, lm_pipeline=None, lm_backward_pipeline=None):
    fix_random_seed(0)
    nlp = spacy.blank("en")
    qa = nlp.add_pipe("qa", config={**CONFIG, **(config or {})})
    examples = list(squad_examples(nlp, records or squad_records(24)))
    kwargs = {} if lm_pipeline is None else {"lm_pipeline": str(lm_pipeline)}
    if lm_backward_pipeline is not None:
        kwargs["lm_backward_pipeline"] = str(lm_backward_pipeline)
    qa.initialize(lambda: examples, nlp=nlp, **kwargs)
    return nlp, qa, examples


def train(nlp, examples, steps=40, learn_rate=0.02):
    optimizer = Adam(learn_rate)
    losses = []
    for _ in range(steps):
        for i in range(0, len(examples), 6):
            step = nlp.update(examples[i: i + 6], sgd=optimizer, losses={})
        losses.append(step["qa"])
    return losses


@pytest.fixture(scope="module")
def trained():
    nlp, qa, examples = make_qa()
    losses = train(nlp, examples)
    return nlp, qa, examples, losses


def questions_doc(nlp, record):
    doc = nlp.make_doc(record["context"])
    doc._.questions = [{"id": q["id"], "text": q["question"]} for q in record["qas"]]
    return doc


def test_training_learns_to_answer(trained):
    nlp, qa, examples, losses = trained
    assert losses[-1] < 0.2 * losses[0]
    scores = nlp.evaluate(examples)
    assert scores["qa_em"] > 0.9 and scores["qa_f1"] > 0.9
    held_out = squad_records(6, seed=7)
    answered = [qa.answer(q["question"], r["context"])[0][0]["text"] for r in held_out for q in r["qas"]]
    expected = [q["answers"][0]["text"] for r in held_out for q in r["qas"]]
    assert sum(a == e for a, e in zip(answered, expected)) >= 0.8 * len(expected)


def test_annotations_answers_and_spans(trained):
    nlp, qa, examples, _ = trained
    record = squad_records(3, seed=3)[0]
    doc = nlp(questions_doc(nlp, record))
    assert [a["id"] for a in doc._.answers] == [q["id"] for q in record["qas"]]
    group = doc.spans[QA_SPANS_KEY]
    assert [span.label_ for span in group] == [q["id"] for q in record["qas"]]
    assert len(group.attrs["scores"]) == len(group)
    for answer, span, score in zip(doc._.answers, group, group.attrs["scores"]):
        assert answer["text"] == span.text == record["context"][answer["start_char"]: answer["end_char"]]
        assert 0.0 < answer["score"] == score <= 1.0
    # a doc without questions gets an empty result, not an error
    empty = nlp("Alice lives in Paris.")
    assert empty._.answers == [] and len(empty.spans[QA_SPANS_KEY]) == 0


def test_answer_top_k_is_sorted_and_distinct(trained):
    nlp, qa, _, _ = trained
    context = "Alice lives in Paris. Bob works in Rome."
    [answers] = qa.answer(["Where does Bob work?"], context, top_k=5)
    assert len(answers) == 5
    scores = [a["score"] for a in answers]
    assert scores == sorted(scores, reverse=True)
    assert len({(a["start_char"], a["end_char"]) for a in answers}) == 5
    assert answers[0]["text"] == "Rome"
    both = qa.answer(["Where does Alice live?", "Where does Bob work?"], [context, context])
    assert [a[0]["text"] for a in both] == ["Paris", "Rome"]


def test_span_probabilities_peak_at_the_answer(trained):
    nlp, qa, _, _ = trained
    doc, start_p, end_p = qa.span_probabilities("Where does Bob work?", "Alice lives in Paris. Bob works in Rome.")
    assert start_p.shape == end_p.shape == (len(doc),)
    assert doc[int(start_p.argmax())].text == "Rome" and doc[int(end_p.argmax())].text == "Rome"
    assert 0.99 < start_p.sum() <= 1.0 + 1e-5


def test_long_context_is_read_in_windows(trained):
    nlp, qa, _, _ = trained
    filler = " ".join(["Grace lives in Oslo."] * 60)  # 300 tokens before the answer
    context = filler + " Bob works in Rome."
    qa.cfg["max_length"], qa.cfg["stride"] = 40, 16
    try:
        [answers] = qa.answer("Where does Bob work?", context)
    finally:
        qa.cfg["max_length"], qa.cfg["stride"] = 400, 128
    assert answers[0]["text"] == "Rome" and answers[0]["start_char"] == context.rindex("Rome")


def test_a_context_of_100000_tokens_gets_an_answer(trained):
    nlp, qa, _, _ = trained
    context = " ".join(["Grace lives in Oslo."] * 20000) + " Bob works in Rome."  # 100,005 tokens
    [answers] = qa.answer("Where does Bob work?", context)
    assert answers[0]["text"] == "Rome"


def test_pipe_equals_call_and_two_processes(trained):
    nlp, qa, _, _ = trained
    records = squad_records(5, seed=11)
    one = [nlp(questions_doc(nlp, r))._.answers for r in records]
    piped = [d._.answers for d in nlp.pipe([questions_doc(nlp, r) for r in records], batch_size=2)]
    assert piped == one
    texts = [(r["context"], {"qs": [q["question"] for q in r["qas"]]}) for r in records]

    def with_questions(pairs):
        for text, ctx in pairs:
            doc = nlp.make_doc(text)
            doc._.questions = ctx["qs"]
            yield doc

    two = [d._.answers for d in nlp.pipe(with_questions(texts), n_process=2, batch_size=2)]
    assert [[a["text"] for a in d] for d in two] == [[a["text"] for a in d] for d in one]


def test_save_load_gives_identical_answers(trained, tmp_path):
    nlp, qa, _, _ = trained
    nlp.to_disk(tmp_path / "qa")
    loaded = spacy.load(tmp_path / "qa")
    records = squad_records(4, seed=5)
    assert [loaded(questions_doc(loaded, r))._.answers for r in records] == \
        [nlp(questions_doc(nlp, r))._.answers for r in records]
    again = spacy.blank("en")
    again.add_pipe("qa", config=CONFIG).from_bytes(qa.to_bytes())
    assert again.get_pipe("qa").answer("Where does Bob work?", "Bob works in Rome.") == \
        qa.answer("Where does Bob work?", "Bob works in Rome.")


def test_question_without_known_words_gets_a_defined_answer(trained):
    nlp, qa, _, _ = trained
    [answers] = qa.answer("Zyzzyva quux?", "Alice lives in Paris.")
    assert len(answers) == 1 and 0.0 <= answers[0]["score"] <= 1.0
    assert answers[0]["text"] in "Alice lives in Paris."


@pytest.mark.parametrize("question,context,code", [
    ("   ", "Alice lives in Paris.", "E271"), ("Where?", "   ", "E271"), ("", "Alice lives in Paris.", "E271"),
])
def test_empty_question_or_context_is_a_clear_error(trained, question, context, code):
    nlp, qa, _, _ = trained
    with pytest.raises(ValueError, match=code):
        qa.answer(question, context)


def test_bad_questions_and_counts_are_clear_errors(trained):
    nlp, qa, _, _ = trained
    doc = nlp.make_doc("Alice lives in Paris.")
    doc._.questions = 42
    with pytest.raises(TypeError, match="E270"):
        nlp(doc)
    with pytest.raises(ValueError, match="E272"):
        qa.answer(["Where?", "Who?"], ["a b", "c d", "e f"])
    with pytest.raises(ValueError, match="E009"):
        qa.answer("Where does Bob work?", "Bob works in Rome.", top_k=0)


def test_uninitialized_and_bad_settings():
    nlp = spacy.blank("en")
    qa = nlp.add_pipe("qa", config=CONFIG)
    with pytest.raises(ValueError, match="E005"):
        qa.answer("Where?", "Here.")
    for setting, value in (("stride", 0), ("max_answer_length", 0), ("stride", 500)):
        with pytest.raises(ValueError, match="E009"):
            spacy.blank("en").add_pipe("qa", config={**CONFIG, setting: value})


def test_lm_features_from_a_trained_lstm_lm(tmp_path):
    fix_random_seed(0)
    lm_nlp = spacy.blank("en")
    lm_nlp.add_pipe("lstm_lm", config={"attr": "LOWER", "model": {"width": 8, "depth": 1}})
    lm_examples = [eg for eg in squad_examples(lm_nlp, squad_records(8))]
    lm_nlp.initialize(lambda: lm_examples)
    lm_nlp.to_disk(tmp_path / "lm")
    lm_features = {"@architectures": "spacy_lm.LMFeatures.v1", "enabled": True, "width": 8, "depth": 1}
    config = {"model": {**CONFIG["model"], "lm_features": lm_features}}
    nlp, qa, examples = make_qa(config, lm_pipeline=tmp_path / "lm")
    assert qa.lm_features_vocab.strings == lm_nlp.get_pipe("lstm_lm").lm_vocab.strings
    lm_encoder = lm_nlp.get_pipe("lstm_lm").model.get_ref("rnn")
    copied = qa.model.get_ref("lm_features").get_ref("rnn")
    assert all((copied.get_param(n) == lm_encoder.get_param(n)).all() for n in lm_encoder.param_names)
    losses = train(nlp, examples, steps=15)
    assert losses[-1] < 0.5 * losses[0]
    assert (copied.get_param(lm_encoder.param_names[0]) == lm_encoder.get_param(lm_encoder.param_names[0])).all()
    nlp.to_disk(tmp_path / "qa")
    loaded = spacy.load(tmp_path / "qa")
    context = "Alice lives in Paris. Bob works in Rome."
    assert loaded.get_pipe("qa").answer("Where does Bob work?", context) == qa.answer("Where does Bob work?", context)
    with pytest.raises(ValueError, match="E274"):
        make_qa(config)
    wrong = {"model": {**CONFIG["model"], "lm_features": {**lm_features, "width": 12}}}
    with pytest.raises(ValueError, match="E275"):
        make_qa(wrong, lm_pipeline=tmp_path / "lm")


BILM_FEATURES = {"@architectures": "spacy_lm.LMFeatures.v2", "enabled": True, "width": 8, "depth": 1,
                 "backward": True}
BILM_CONFIG = {"model": {**CONFIG["model"], "lm_features": BILM_FEATURES}}


def lm_pipeline(directions, width=8, max_size=None):
    """An initialized pipeline of tiny lstm_lm components, one per direction given."""
    fix_random_seed(0)
    nlp = spacy.blank("en")
    for direction in directions:
        name = "lstm_lm" if direction == "forward" else "lstm_lm_backward"
        nlp.add_pipe("lstm_lm", name=name, config={"attr": "LOWER", "direction": direction, "max_size": max_size,
                                                   "model": {"width": width, "depth": 1}})
    examples = list(squad_examples(nlp, squad_records(8)))
    nlp.initialize(lambda: examples)
    return nlp


@pytest.fixture(scope="module")
def lms():
    """Two LMs of one vocabulary (forward, backward), both in one pipeline, and two backward LMs
    that do not fit: another width, another vocabulary."""
    return {"forward": lm_pipeline(["forward"]), "backward": lm_pipeline(["backward"]),
            "both": lm_pipeline(["forward", "backward"]), "wide_backward": lm_pipeline(["backward"], width=12),
            "other_vocab_backward": lm_pipeline(["backward"], max_size=12)}


def save_lms(lms, where, *names):
    where.mkdir(parents=True, exist_ok=True)
    for name in names:
        lms[name].to_disk(where / name)
    return [where / name for name in names]


def test_bilm_features_are_each_lms_own_states(lms, tmp_path):
    """In a padded batch (two contexts of different lengths), each context's features are the
    forward LM's states then the backward LM's, as `encode_docs` gives them for that doc."""
    forward_path, backward_path = save_lms(lms, tmp_path, "forward", "backward")
    nlp, qa, _ = make_qa(BILM_CONFIG, lm_pipeline=forward_path, lm_backward_pipeline=backward_path)
    assert qa.lm_features_vocab.strings == lms["backward"].get_pipe("lstm_lm_backward").lm_vocab.strings
    question = reader_input(nlp.make_doc("Where does Bob work?"), qa.lm_vocab, qa.lm_features_vocab)
    docs = [nlp.make_doc(text) for text in ("Carol was born in Oslo.", "Alice lives in Paris. Bob works in Rome.")]
    contexts = [reader_input(doc, qa.lm_vocab, qa.lm_features_vocab) for doc in docs]
    rows = [Row(question, context, 0, len(context.ids)) for context in contexts]
    batch, order = reader_batch(qa.model.ops, rows, [window_features(row) for row in rows])
    assert len(set(batch.context_lengths.tolist())) == 2
    features, _ = qa.model.get_ref("lm_features")((batch.lm_context_ids, batch.context_lengths), False)
    assert features.shape[-1] == 16
    for column, i in enumerate(order):
        n, positions = len(contexts[i].ids), contexts[i].positions
        forward = lms["forward"].get_pipe("lstm_lm").encode_docs([docs[i]])[0][positions]
        backward = lms["backward"].get_pipe("lstm_lm_backward").encode_docs([docs[i]])[0][positions]
        numpy.testing.assert_allclose(features[:n, column, :8], forward, rtol=1e-5, atol=1e-5)
        numpy.testing.assert_allclose(features[:n, column, 8:], backward, rtol=1e-5, atol=1e-5)


def test_bilm_features_train_and_load_without_the_lms(lms, tmp_path):
    forward_path, backward_path = save_lms(lms, tmp_path / "lms", "forward", "backward")
    nlp, qa, examples = make_qa(BILM_CONFIG, lm_pipeline=forward_path, lm_backward_pipeline=backward_path)
    features = qa.model.get_ref("lm_features")
    params = [(node, name) for node in features.walk() for name in node.param_names]
    frozen = [node.get_param(name).copy() for node, name in params]
    losses = train(nlp, examples, steps=10)
    assert losses[-1] < 0.5 * losses[0]
    assert all((node.get_param(name) == value).all() for (node, name), value in zip(params, frozen))
    shutil.rmtree(tmp_path / "lms")  # loading needs neither LM pipeline: the weights are in qa
    nlp.to_disk(tmp_path / "qa")
    loaded = spacy.load(tmp_path / "qa")
    questions, context = ["Where does Bob work?", "Where does Alice live?"], "Alice lives in Paris. Bob works in Rome."
    expected = qa.answer(questions, context, top_k=3)
    assert loaded.get_pipe("qa").answer(questions, context, top_k=3) == expected
    again = spacy.blank("en")
    again.add_pipe("qa", config={**CONFIG, **BILM_CONFIG}).from_bytes(qa.to_bytes())
    assert again.get_pipe("qa").answer(questions, context, top_k=3) == expected


def test_bilm_features_from_one_pipeline_holding_both_lms(lms, tmp_path):
    [both] = save_lms(lms, tmp_path, "both")
    _, qa, _ = make_qa(BILM_CONFIG, lm_pipeline=both, lm_backward_pipeline=both)
    features = qa.model.get_ref("lm_features")
    for component, prefix in (("lstm_lm", ""), ("lstm_lm_backward", "backward_")):
        lm_rnn = lms["both"].get_pipe(component).model.get_ref("rnn")
        copied = features.get_ref(prefix + "rnn")
        assert all((copied.get_param(n) == lm_rnn.get_param(n)).all() for n in lm_rnn.param_names)


def test_bilm_features_errors(lms, tmp_path):
    paths = dict(zip(["forward", "backward", "wide_backward", "other_vocab_backward"],
                     save_lms(lms, tmp_path, "forward", "backward", "wide_backward", "other_vocab_backward")))
    with pytest.raises(ValueError, match="E315"):  # backward features, no backward LM
        make_qa(BILM_CONFIG, lm_pipeline=paths["forward"])
    with pytest.raises(ValueError, match="E274"):
        make_qa(BILM_CONFIG, lm_backward_pipeline=paths["backward"])
    with pytest.raises(ValueError, match="E316.*lm_backward_pipeline.*no backward lstm_lm"):
        make_qa(BILM_CONFIG, lm_pipeline=paths["forward"], lm_backward_pipeline=paths["forward"])
    with pytest.raises(ValueError, match="E316.*lm_pipeline.*no forward lstm_lm"):
        make_qa(BILM_CONFIG, lm_pipeline=paths["backward"], lm_backward_pipeline=paths["backward"])
    with pytest.raises(ValueError, match="E275.*wide_backward"):  # the backward LM's width is not the features'
        make_qa(BILM_CONFIG, lm_pipeline=paths["forward"], lm_backward_pipeline=paths["wide_backward"])
    with pytest.raises(ValueError, match="E317"):
        make_qa(BILM_CONFIG, lm_pipeline=paths["forward"], lm_backward_pipeline=paths["other_vocab_backward"])
    v1 = {"model": {**CONFIG["model"], "lm_features": {**BILM_FEATURES, "@architectures": "spacy_lm.LMFeatures.v1"}}}
    v1["model"]["lm_features"].pop("backward")
    with pytest.raises(ValueError, match="E318"):  # a backward LM the model does not read
        make_qa(v1, lm_pipeline=paths["forward"], lm_backward_pipeline=paths["backward"])
    with pytest.raises(ValueError, match="E316"):  # v1 reads a forward LM only
        make_qa(v1, lm_pipeline=paths["backward"])


def test_spacy_evaluate_on_a_docbin_of_reference_docs(trained, tmp_path):
    """`spacy evaluate` rebuilds predicted docs from text (dropping doc._.questions): the component
    asks them the reference's questions, so the CLI scores a DocBin as nlp.evaluate scores the corpus."""
    from spacy.cli.evaluate import evaluate
    from spacy.tokens import DocBin

    nlp, qa, examples, _ = trained
    nlp.to_disk(tmp_path / "qa")
    DocBin(store_user_data=True, docs=[eg.reference for eg in examples]).to_disk(tmp_path / "dev.spacy")
    scores = evaluate(tmp_path / "qa", tmp_path / "dev.spacy")
    expected = nlp.evaluate(examples)
    assert scores["qa_f1"] == pytest.approx(expected["qa_f1"]) and scores["qa_em"] == pytest.approx(expected["qa_em"])
    assert scores["qa_f1"] > 0.9 and scores["qa_questions"] == expected["qa_questions"] > 0


def test_shipped_config_trains_on_separate_small_train_and_dev_files(tmp_path):
    """configs/qa.cfg as a user runs it on another corpus: two files of a few articles each, read
    whole (no article is held out unless asked), trained and evaluated by spacy train."""
    from pathlib import Path

    from spacy.cli.train import train as spacy_train

    from tests.qa_fixtures import write_squad

    config = Path(__file__).resolve().parents[2] / "configs" / "qa.cfg"
    train_file = write_squad(tmp_path / "train.json.gz", squad_records(12, seed=1))  # 3 articles
    dev_file = write_squad(tmp_path / "dev.json", squad_records(4, seed=2))
    overrides = {"paths.train": str(train_file), "paths.dev": str(dev_file), "training.max_steps": 4,
                 "training.eval_frequency": 2, "components.qa.model.width": 8, "components.qa.model.embed_size": 8}
    spacy_train(config, tmp_path / "out", overrides=overrides)
    nlp = spacy.load(tmp_path / "out" / "model-last")  # (holding out 20 articles of 3 left none: E003)
    assert 0.0 <= srsly.read_json(tmp_path / "out" / "model-best" / "meta.json")["performance"]["qa_f1"] <= 1.0
    assert nlp.get_pipe("qa").answer("Where does Bob work?", "Bob works in Rome.")[0][0]["text"]
