"""ARPA files in and out: ours are read back to the same float32 tables, lmplz's are read as
they are (``<unk>``, ``</s>``, ``<s>`` mapped to our ids)."""
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy

from ..errors import Errors
from .model import BOS_LOG10, NGramModel


def _fmt(values: numpy.ndarray) -> List[str]:
    """float32 values as the shortest decimal text that reads back to the same float32."""
    return [numpy.format_float_positional(v, unique=True, trim="-") if v != BOS_LOG10 else "-99"
            for v in values.astype("float32")]


def write_arpa(model: NGramModel, strings: Sequence[str], path: Union[str, Path], *,
               bos: str = "<s>", eos_index: Optional[int] = None, eos: str = "</s>") -> None:
    """Write the model as an ARPA file. ``strings`` names ids 0..n_vocab-1; ``eos_index`` is
    renamed ``eos`` (our ``<eos>`` is ARPA's ``</s>``) and id n_vocab is ``bos``."""
    names = list(strings) + [bos]
    if eos_index is not None:
        names[eos_index] = eos
    if len(set(names)) != len(names):
        raise ValueError(Errors.E011.format(path=path, reason="the vocabulary has duplicate names "
                                            f"(a literal '{bos}' or '{eos}' token?)"))
    names_arr = numpy.asarray(names, dtype=object)
    with open(path, "w", encoding="utf-8") as out:
        out.write("\n\\data\\\n")
        for k, n in enumerate(model.sizes(), start=1):
            out.write(f"ngram {k}={n}\n")
        for k in range(1, model.order + 1):
            out.write(f"\n\\{k}-grams:\n")
            ids = model.ngram_ids(k)
            text = [" ".join(row) for row in names_arr[ids].tolist()] if k > 1 else names
            probs = _fmt(model.logprob[k - 1])
            if k < model.order:
                bos_ = _fmt(model.backoff[k - 1])
                out.writelines(f"{p}\t{t}\t{b}\n" for p, t, b in zip(probs, text, bos_))
            else:
                out.writelines(f"{p}\t{t}\n" for p, t in zip(probs, text))
        out.write("\n\\end\\\n")


def read_arpa(path: Union[str, Path], *, unk: str = "<unk>", bos: str = "<s>", eos: str = "</s>",
              specials: Tuple[str, str] = ("<unk>", "<eos>")) -> Tuple[List[str], NGramModel]:
    """Read an ARPA file (ours or lmplz's). Returns (strings, model): ids 0 and 1 are
    ``specials`` (``unk`` and ``eos`` of the file), words follow in file order, ``bos`` is
    the internal id n_vocab. A missing ``<unk>`` gets log10 prob -99."""
    path = Path(path)

    def fail(reason: str) -> ValueError:
        return ValueError(Errors.E011.format(path=path, reason=reason))

    if not path.exists():
        raise fail("file not found")
    with open(path, encoding="utf-8") as handle:
        text = handle.read()
    if "\\data\\" not in text:
        raise fail("no \\data\\ header")
    head, _, body = text.partition("\\data\\")
    sections = body.split("\n\\")
    declared: Dict[int, int] = {}
    for line in sections[0].splitlines():
        line = line.strip()
        if line.startswith("ngram "):
            k, _, n = line[6:].partition("=")
            declared[int(k)] = int(n)
    if not declared or sorted(declared) != list(range(1, len(declared) + 1)):
        raise fail(f"bad ngram counts in the header: {declared}")
    order = len(declared)
    rows: Dict[int, List[List[str]]] = {}
    for section in sections[1:]:
        title, _, content = section.partition("\n")
        title = title.strip()
        if title.startswith("end\\"):
            break
        if not title.endswith("-grams:"):
            raise fail(f"unexpected section '\\{title}'")
        k = int(title[: -len("-grams:")])
        rows[k] = [line.split() for line in content.splitlines() if line.strip()]
        if len(rows[k]) != declared.get(k, -1):
            raise fail(f"order {k}: header says {declared.get(k)} n-grams, found {len(rows[k])}")
    # ---- vocabulary from the unigrams
    uni = rows.get(1, [])
    words = [r[1] for r in uni]
    if len(set(words)) != len(words):
        raise fail("duplicate unigrams")
    if eos not in words or bos not in words:
        raise fail(f"the unigrams lack '{eos}' or '{bos}'")
    strings = list(specials) + [w for w in words if w not in (unk, eos, bos)]
    n_vocab = len(strings)
    index = {w: i for i, w in enumerate(strings)}
    index[unk], index[eos], index[bos] = 0, 1, n_vocab
    logprob1 = numpy.full(n_vocab + 1, BOS_LOG10, dtype="float32")
    backoff1 = numpy.zeros(n_vocab + 1, dtype="float32")
    for r in uni:
        i = index[r[1]]
        logprob1[i] = float(r[0])
        if len(r) > 2:
            backoff1[i] = float(r[2])
    model = NGramModel(n_vocab=n_vocab, keys=[numpy.arange(n_vocab + 1, dtype="uint64")],
                       logprob=[logprob1], backoff=[backoff1] if order > 1 else [])
    base = numpy.uint64(n_vocab + 1)
    for k in range(2, order + 1):
        data = rows.get(k, [])
        try:
            ids = numpy.asarray([[index[w] for w in r[1 : k + 1]] for r in data], dtype="int64").reshape(-1, k)
        except KeyError as err:
            raise fail(f"order {k}: word {err} is not among the unigrams") from err
        lp = numpy.asarray([float(r[0]) for r in data], dtype="float32")
        bo = numpy.asarray([float(r[k + 1]) if len(r) > k + 1 else 0.0 for r in data], dtype="float32")
        prefix = ids[:, 0]
        for j in range(2, k):
            key = prefix.astype("uint64") * base + ids[:, j - 1].astype("uint64")
            table = model.keys[j - 1]
            pos = numpy.minimum(numpy.searchsorted(table, key), max(len(table) - 1, 0))
            if len(key) and (len(table) == 0 or not numpy.all(table[pos] == key)):
                raise fail(f"order {k}: some n-grams have no {k - 1}-gram prefix in the file")
            prefix = pos.astype("int64")
        key = prefix.astype("uint64") * base + ids[:, k - 1].astype("uint64")
        order_ = numpy.argsort(key, kind="stable")
        key = key[order_]
        if len(key) > 1 and not numpy.all(key[1:] > key[:-1]):
            raise fail(f"order {k}: duplicate n-grams")
        model.keys.append(key)
        model.logprob.append(lp[order_])
        if k < order:
            model.backoff.append(bo[order_])
    model.validate()
    return strings, model
