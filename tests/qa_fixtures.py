"""Tiny SQuAD-format data made inside the tests: short contexts of facts ("Alice lives in Paris.")
and questions whose answer is one of those facts' last word."""
import gzip
import json
import random
from pathlib import Path
from typing import Any, Dict, List

NAMES = ["Alice", "Bob", "Carol", "Dave", "Erin", "Frank", "Grace", "Heidi"]
PLACES = ["Paris", "Rome", "Berlin", "Madrid", "Oslo", "Vienna", "Lisbon", "Prague"]
FACTS = [("lives in", "Where does {name} live?"), ("works in", "Where does {name} work?"),
         ("was born in", "Where was {name} born?")]


def squad_records(n_paragraphs: int = 12, seed: int = 0, facts_per_paragraph: int = 3) -> List[Dict[str, Any]]:
    """Paragraph records as `read_squad` yields them, answer offsets exact."""
    rng = random.Random(seed)
    records = []
    for p in range(n_paragraphs):
        sentences, qas = [], []
        text = ""
        for f in range(facts_per_paragraph):
            name, place = rng.choice(NAMES), rng.choice(PLACES)
            verb, question = rng.choice(FACTS)
            sentence = f"{name} {verb} {place}."
            start = len(text) + sentence.index(place)
            text += sentence + " "
            qas.append({"id": f"p{p}q{f}", "question": question.format(name=name),
                        "answers": [{"text": place, "answer_start": start}]})
            sentences.append(sentence)
        context = text.strip()
        # a question is answerable only if its name occurs once in the paragraph
        names = [s.split()[0] for s in sentences]
        qas = [qa for qa, s in zip(qas, sentences) if names.count(s.split()[0]) == 1]
        records.append({"title": f"T{p // 4}", "context": context, "qas": qas})
    return records


def write_squad(path: Path, records: List[Dict[str, Any]]) -> Path:
    """An official-layout SQuAD JSON file (gzipped when the name ends in .gz)."""
    articles: Dict[str, List[Dict[str, Any]]] = {}
    for record in records:
        articles.setdefault(record["title"], []).append({"context": record["context"], "qas": record["qas"]})
    data = {"version": "1.1", "data": [{"title": t, "paragraphs": ps} for t, ps in articles.items()]}
    text = json.dumps(data)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".gz":
        with gzip.open(path, "wt", encoding="utf-8") as out:
            out.write(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path
