"""A WikiText-like sample file and small helpers shared by the corpus reader tests."""
import gzip
from pathlib import Path

# WikiText-like: a leading space, a blank line, a heading, a line of several spaces,
# no trailing newline at the end.
LINES = [
    " = Valkyria <unk> @-@ 3 = ",
    "",
    " Senjō no Valkyria 3 : <unk> Chronicles III ",
    "   ",
    " = = Gameplay = = ",
    "the end",
]
TEXT = "\n".join(LINES)
N_WORDS = sum(len(line.split()) for line in LINES)  # 6 + 0 + 8 + 0 + 5 + 2 = 21
N_LINES = len(LINES)


def gz(data: bytes) -> bytes:
    return gzip.compress(data)


def words(examples):
    return [[t.text for t in eg.reference] for eg in examples]


# A slice of a real enwiki pages-articles dump (see tests/data/README.md) and its articles.
WIKI_DUMP = Path(__file__).resolve().parent.parent / "data" / "enwiki-table-markup.xml.bz2"
PAGES = [
    "Economy of Estonia", "Constructive vote of no confidence", "List of Prison Break characters",
    "Academy Award for Best Production Design", "Brahui language",
]
