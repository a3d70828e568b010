"""The data of bias probes: term files and template files (built-in ones in spacy_lm/data/bias).

A *term file* is one category (gender, names, nationality, ...): ``group<TAB>term`` lines, ``#``
comments, and a ``#! paired`` directive when the i-th terms of the groups are counterfactual
pairs (he/she). A *template file* lists neutral sentences with one ``{term}`` slot, optionally in
sets (``set<TAB>template``) and with ``#! contrast SET_A SET_B`` directives (compare the group
difference in one set with that in another). Every term fills every template (:func:`fill`).
"""
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Tuple, Union

from ..corpora.files import read_text_lines
from ..errors import Errors

DATA_DIR = Path(__file__).parent.parent / "data" / "bias"
TEMPLATE_SUFFIX = "_templates"
PAIRED_DIRECTIVE = "#! paired"
CONTRAST_DIRECTIVE = "#! contrast"
SLOT = "{term}"
ALL_TEMPLATES = "all"
TEMPLATE_FILES = {"textcat": "classifier_templates.txt", "sentiment": "classifier_templates.txt",
                  "lm": "lm_templates.txt"}
PathLike = Union[str, Path]


@dataclass
class TermList:
    """One category: ``groups`` maps each group (in file order) to its terms; in a paired list
    the i-th terms of all groups are counterfactual versions of one another."""
    category: str
    groups: Dict[str, List[str]]
    paired: bool
    path: str

    def keywords(self) -> Dict[str, List[str]]:
        """Per group, the lower-cased words of its terms that no other group uses (so "my", "friend"
        and "the" mark nobody): what a doc must contain to fall in the group's slice."""
        words = {g: {w.lower() for t in terms for w in t.split()} for g, terms in self.groups.items()}
        return {g: sorted(w for w in own if not any(w in words[o] for o in words if o != g))
                for g, own in words.items()}


def read_term_file(path: PathLike) -> TermList:
    """A term file: ``#`` comments, blank lines, a ``#! paired`` directive, ``group<TAB>term`` lines."""
    path = Path(path)
    groups: Dict[str, List[str]] = {}
    paired = False
    for n, line in enumerate(read_text_lines(path), 1):
        line = line.rstrip("\r\n")
        if line.strip() == PAIRED_DIRECTIVE:
            paired = True
            continue
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        cells = line.split("\t")
        if len(cells) != 2 or not cells[0].strip() or not cells[1].strip():
            raise ValueError(Errors.E191.format(path=path, line=n, reason=f"{line!r} is not group<TAB>term"))
        if SLOT in cells[1]:
            raise ValueError(Errors.E191.format(path=path, line=n, reason=f"the term {cells[1]!r} holds {SLOT}"))
        groups.setdefault(cells[0].strip(), []).append(" ".join(cells[1].split()))
    if len(groups) < 2:
        raise ValueError(Errors.E192.format(path=path, reason=f"it gives {len(groups)} group(s) {list(groups)}"))
    sizes = {g: len(t) for g, t in groups.items()}
    if paired and len(set(sizes.values())) != 1:
        raise ValueError(Errors.E192.format(path=path, reason=f"a paired file needs as many terms in every "
                                            f"group, got {sizes}"))
    return TermList(path.stem, groups, paired, str(path))


def builtin_term_files() -> List[Path]:
    """The term files shipped in spacy_lm/data/bias (every .txt that is not a template file)."""
    return sorted(p for p in DATA_DIR.glob("*.txt") if not p.stem.endswith(TEMPLATE_SUFFIX))


def load_term_lists(term_files: Iterable[PathLike] = (), categories: Optional[Iterable[str]] = None,
                    builtin: bool = True) -> Dict[str, TermList]:
    """The built-in term lists (if ``builtin``) and the user's files (a file named like a built-in
    category replaces it), restricted to ``categories`` when given (E190 for an unknown one)."""
    lists = {t.category: t for t in map(read_term_file, builtin_term_files() if builtin else [])}
    lists.update((t.category, t) for t in map(read_term_file, term_files))
    if categories is None:
        return lists
    wanted = list(dict.fromkeys(categories))
    for name in wanted:
        if name not in lists:
            raise ValueError(Errors.E190.format(name=name, names=sorted(lists)))
    return {name: lists[name] for name in wanted}


def read_templates(path: PathLike) -> List[Tuple[str, str]]:
    """(set, template) per line: ``template`` (set "all") or ``set<TAB>template``, with ``{term}``
    exactly once (E193); ``#`` lines are comments (E194 if nothing else)."""
    path = Path(path)
    templates = []
    for n, line in enumerate(read_text_lines(path), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        name, _, text = line.strip().rpartition("\t")
        text = " ".join(text.split())
        if text.count(SLOT) != 1 or SLOT in name:
            raise ValueError(Errors.E193.format(path=path, line=n, template=line.strip(), n=line.count(SLOT)))
        templates.append((name.strip() or ALL_TEMPLATES, text))
    if not templates:
        raise ValueError(Errors.E194.format(path=path))
    return templates


def read_template_contrasts(path: PathLike) -> List[Tuple[str, str]]:
    """The ``#! contrast SET_A SET_B`` directives of a template file (E203 if malformed)."""
    contrasts = []
    for n, line in enumerate(read_text_lines(Path(path)), 1):
        if line.strip().startswith(CONTRAST_DIRECTIVE):
            names = line.strip()[len(CONTRAST_DIRECTIVE):].split()
            if len(names) != 2 or names[0] == names[1]:
                raise ValueError(Errors.E203.format(path=path, line=n, text=line.strip()))
            contrasts.append((names[0], names[1]))
    return contrasts


def load_template_contrasts(kind: str, template_files: Iterable[PathLike] = (),
                            sets: Optional[Dict[str, List[str]]] = None) -> List[Tuple[str, str]]:
    """The set contrasts the template files declare (the built-in file's when none is given);
    E204 for a contrast naming a set no file has."""
    files = list(template_files) or [DATA_DIR / TEMPLATE_FILES[kind]]
    found = list(dict.fromkeys(c for f in files for c in read_template_contrasts(f)))
    for a, b in found:
        if sets is not None and (a not in sets or b not in sets):
            raise ValueError(Errors.E204.format(a=a, b=b, sets=sorted(sets)))
    return found


def load_templates(kind: str, template_files: Iterable[PathLike] = ()) -> Dict[str, List[str]]:
    """Template set → its templates: the user's files, or the built-in ones for this kind of target."""
    files = list(template_files) or [DATA_DIR / TEMPLATE_FILES[kind]]
    sets: Dict[str, List[str]] = {}
    for name, text in dict.fromkeys(t for f in files for t in read_templates(f)):
        sets.setdefault(name, []).append(text)
    return sets


def fill(template: str, term: str) -> str:
    """The template with its ``{term}`` slot filled."""
    return template.replace(SLOT, term)
