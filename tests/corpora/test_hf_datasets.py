"""spacy_lm.HFDataset.v1: local files offline, fields, limits, the missing extra."""
import json

import pytest
import spacy
from spacy.util import registry

from spacy_lm.corpora.hf_datasets import create_hf_dataset_reader
from .samples import N_LINES, words


def test_hf_text_file(txt, ws_nlp, offline):
    reader = create_hf_dataset_reader("text", data_files=str(txt), cache_dir=offline)
    examples = list(reader(ws_nlp))
    assert len(examples) == N_LINES
    assert words(examples)[0] == ["=", "Valkyria", "<unk>", "@-@", "3", "="]
    assert [len(eg.reference) for eg in examples] == [6, 0, 8, 0, 5, 2]
    # Second epoch reuses the loaded dataset and gives the same result.
    assert words(reader(ws_nlp)) == words(examples)


def test_hf_uses_pipeline_tokenizer(txt, nlp, offline):
    reader = create_hf_dataset_reader("text", data_files=str(txt), cache_dir=offline, limit=1)
    (eg,) = list(reader(nlp))
    assert "<unk>" not in [t.text for t in eg.reference]  # spaCy's tokenizer splits it


def test_hf_skip_empty_and_limit(txt, ws_nlp, offline):
    reader = create_hf_dataset_reader(
        "text", data_files=str(txt), cache_dir=offline, skip_empty=True
    )
    assert [len(eg.reference) for eg in reader(ws_nlp)] == [6, 8, 5, 2]
    reader = create_hf_dataset_reader(
        "text", data_files=str(txt), cache_dir=offline, skip_empty=True, limit=3
    )
    assert [len(eg.reference) for eg in reader(ws_nlp)] == [6, 8, 5]
    reader = create_hf_dataset_reader("text", data_files=str(txt), cache_dir=offline, limit=2)
    assert [len(eg.reference) for eg in reader(ws_nlp)] == [6, 0]


def test_hf_jsonl_strips_trailing_newlines(tmp_path, ws_nlp, offline):
    path = tmp_path / "data.jsonl"
    records = [
        {"body": " = Valkyria <unk> = \n", "id": 1},
        {"body": "\n", "id": 2},
        {"body": "a b c\r\n", "id": 3},
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    reader = create_hf_dataset_reader(
        "json", data_files=str(path), text_field="body", cache_dir=offline
    )
    examples = list(reader(ws_nlp))
    assert words(examples) == [["=", "Valkyria", "<unk>", "="], [], ["a", "b", "c"]]
    reader = create_hf_dataset_reader(
        "json", data_files=str(path), text_field="body", cache_dir=offline, skip_empty=True
    )
    assert len(list(reader(ws_nlp))) == 2
    # The default tokenizer sees no trailing newline either.
    reader = create_hf_dataset_reader(
        "json", data_files=str(path), text_field="body", cache_dir=offline, limit=1
    )
    (eg,) = list(reader(spacy.blank("en")))
    assert eg.reference[-1].text == "="


def test_hf_parquet_and_streaming(tmp_path, ws_nlp, offline):
    import datasets

    path = tmp_path / "data.parquet"
    datasets.Dataset.from_dict(
        {"text": ["p q", "", "r <unk> s"], "n": [1, 2, 3]}
    ).to_parquet(str(path))
    for streaming in (False, True):
        reader = create_hf_dataset_reader(
            "parquet", data_files=str(path), cache_dir=offline, streaming=streaming
        )
        assert words(reader(ws_nlp)) == [["p", "q"], [], ["r", "<unk>", "s"]]


def test_hf_data_files_dict_split(txt, ws_nlp, offline):
    reader = create_hf_dataset_reader(
        "text", data_files={"validation": str(txt)}, split="validation", cache_dir=offline
    )
    assert len(list(reader(ws_nlp))) == N_LINES


@pytest.mark.parametrize("streaming", [False, True])
def test_hf_missing_field(tmp_path, ws_nlp, offline, streaming):
    path = tmp_path / "data.jsonl"
    path.write_text('{"body": "a b", "id": 1}\n', encoding="utf-8")
    reader = create_hf_dataset_reader(
        "json", data_files=str(path), cache_dir=offline, streaming=streaming
    )
    with pytest.raises(ValueError, match=r"\[E064\].*('text'.*body.*id|'text'.*id.*body)"):
        list(reader(ws_nlp))


def test_hf_non_string_value(tmp_path, ws_nlp, offline):
    path = tmp_path / "data.jsonl"
    path.write_text('{"text": 5}\n{"text": 6}\n', encoding="utf-8")
    reader = create_hf_dataset_reader("json", data_files=str(path), cache_dir=offline)
    with pytest.raises(TypeError, match=r"\[E065\].*'text'.*int"):
        list(reader(ws_nlp))


def test_hf_through_registry_is_lazy(tmp_path):
    # Creating the reader must not touch the (here missing) data or import-heavy work.
    factory = registry.readers.get("spacy_lm.HFDataset.v1")
    assert factory is create_hf_dataset_reader
    reader = factory("text", data_files=str(tmp_path / "absent.txt"))
    assert callable(reader)


def test_missing_datasets_names_the_extra(monkeypatch):
    import builtins

    from spacy_lm.corpora.hf_datasets import load_hf_dataset

    real_import = builtins.__import__

    def no_datasets(name, *args, **kwargs):
        if name == "datasets" or name.startswith("datasets."):
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_datasets)
    with pytest.raises(ImportError, match=r'\[E063\] spacy_lm.HFDataset.v1 .*pip install "spacy-lm\[datasets\]"'):
        load_hf_dataset("text", data_files="x.txt")
