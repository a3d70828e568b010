"""Corpus text files: missing paths, bad UTF-8 and damaged .gz are coded errors (E061, E062)."""
import pytest
from spacy.vocab import Vocab

from spacy_lm.corpora.plain_text import create_plain_text_reader, read_plain_text_docs
from .samples import gz


def test_reader_path_errors_are_coded(tmp_path):
    from spacy_lm.corpora.labelled import create_textcat_reader

    for make in (create_plain_text_reader, create_textcat_reader):
        with pytest.raises(ValueError, match=r"\[E061\] spacy_lm\.\w+\.v1 needs a path.*paths\.train"):
            make(None)
    with pytest.raises(ValueError, match=r"\[E062\].*nope\.txt: no such file"):
        read_plain_text_docs(tmp_path / "nope.txt", Vocab())
    with pytest.raises(ValueError, match=r"\[E062\].*is a directory"):
        read_plain_text_docs(tmp_path, Vocab())


@pytest.mark.parametrize("name,data,expected", [
    ("bin.txt", b"fine line\nalso fine\n\x89PNG\r\n", r"line 3: not UTF-8 text \(byte 0x89 at offset 0\); "
     r"expected a UTF-8 text file, optionally \.gz"),
    ("latin1.txt.gz", gz(b"ok\ncaf\xe9\n"), r"line 2: not UTF-8 text \(byte 0xe9 at offset 3\)"),
    ("plain.gz", b"the cat sat\n", r"its name ends in \.gz but it is not gzip data"),
    ("cut.gz", gz("".join(f"line {i} of many\n" for i in range(3000)).encode())[:2000],
     r"line \d+: the gzip data end early \(a truncated file\)"),
], ids=["binary", "latin1-gz", "not-gzip", "truncated-gz"])
def test_unreadable_text_files_are_e062_with_the_line(tmp_path, nlp, name, data, expected):
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(ValueError, match=rf"E062\] Cannot read the text corpus .*{name}: {expected}"):
        list(read_plain_text_docs(path, nlp.vocab, eos_marker="<eos>"))


def test_read_text_lines_keeps_text_mode_lines(tmp_path):
    from spacy_lm.corpora.files import read_text_lines

    path = tmp_path / "mixed.txt"
    path.write_bytes("a\r\nb\rc\nd".encode("utf-8"))
    assert list(read_text_lines(path)) == ["a\n", "b\n", "c\n", "d"]  # universal newlines, as before
