"""Sentence streams for the n-gram tests, and log-probs by brute force over growing contexts."""
import numpy

from spacy_lm.ngram import sentence_stream

UNK, EOS = 0, 1


def make_stream(sentences, n_vocab):
    """Sentences of ids (without </s>) as a sentence stream, as the component builds it."""
    inputs, targets = [], []
    for s in sentences:
        targets += list(s) + [EOS]
        inputs += [EOS] + list(s)
    return sentence_stream(numpy.asarray(inputs), numpy.asarray(targets), EOS, n_vocab)


def random_sentences(n, n_vocab, seed=0, max_len=9):
    rng = numpy.random.default_rng(seed)
    return [list(rng.zipf(1.6, size=rng.integers(0, max_len)).clip(2, n_vocab - 1)) for _ in range(n)]


def brute_log10(model, sentence):
    """log10 p of each token of one sentence via next_log10 over growing contexts."""
    width = max(1, model.order - 1)
    history = [model.bos_id]
    out = []
    for token in list(sentence) + [EOS]:
        ctx = history[-width:]
        row = numpy.asarray([[-1] * (width - len(ctx)) + ctx])
        out.append(model.next_log10(row)[0, token])
        history.append(token)
    return numpy.asarray(out)
