"""The files a `spacy lm score` run writes per input shard: its rows (Parquet or JSONL) and its
rejects (JSONL, with a ``reason``), written atomically so that a file there is always complete,
named uniquely even when two inputs share a name, and read back with ``read_rows``.

Parquet shards of one run read as one table (``pyarrow.dataset``, ``datasets``, Spark): our fields
(``ROW_FIELDS``) have fixed types in every shard (``ARROW_TYPES``), even in a shard with no row or
where a field is None throughout (no buckets, no prefilter, no ``url``); an input field that is
None throughout a shard is a ``string`` column there rather than Arrow's ``null`` type, and one
with values keeps the type Arrow infers from them (a field holding numbers in one shard and only
None in another still differs: cast it when reading, or write JSONL). ``write_rows`` gives our
fields their types and leaves an all-None input field ``null`` (a range's part: the merge takes
its type from the other parts); ``shard_schema`` is the rule for the finished shard, applied by
parts.merge_parts to the parts' unified schema."""
import json
import os
from pathlib import Path
from typing import Any, Dict, List, Sequence, Tuple

from ..errors import Errors
from .settings import ROW_FIELDS, Record

# The Arrow types of our fields, the same in every shard.
ARROW_TYPES = {"id": "string", "url": "string", "bucket": "string", "perplexity": "double", "logprob": "double",
               "n_tokens": "int64", "n_predicted": "int64", "prefilter_perplexity": "double"}


def shard_names(sources: Sequence[str], output_format: str) -> List[Tuple[str, str]]:
    """Output and rejects file names per input, unique even when two inputs share a name."""
    names = []
    for index, source in enumerate(sources):
        stem = Path(source.split("@")[0]).name if not source.startswith("hf:") else source[3:]
        stem = "".join(c if c.isalnum() or c in "-_." else "_" for c in stem)[:80]
        base = f"{index:05d}-{stem}"
        names.append((f"{base}.{output_format}", f"rejects/{base}.jsonl"))
    return names


def write_rows(rows: List[Record], path: Path, output_format: str) -> None:
    """Write atomically (a temporary name, then a rename): a file there is always complete.
    Parquet: our fields with their ``ARROW_TYPES``, input fields as Arrow infers them (``null``
    for one None throughout)."""
    tmp = path.with_name(path.name + ".tmp")
    if output_format == "jsonl":
        with tmp.open("w", encoding="utf-8") as file_:
            for row in rows:
                file_.write(json.dumps(row, ensure_ascii=False, default=_jsonable) + "\n")
    else:
        _write_parquet(rows, tmp, path)
    os.replace(tmp, path)


def _write_parquet(rows: List[Record], tmp: Path, path: Path) -> None:
    import pyarrow
    import pyarrow.parquet

    names: Dict[str, None] = dict.fromkeys(ROW_FIELDS)
    for row in rows:
        names.update(dict.fromkeys(row))
    try:
        columns = [pyarrow.array([row.get(name) for row in rows], type=_our_type(pyarrow, name)) for name in names]
    except (pyarrow.ArrowInvalid, pyarrow.ArrowTypeError) as err:
        raise ValueError(Errors.E162.format(path=path, reason=" ".join(str(err).split()))) from err
    pyarrow.parquet.write_table(pyarrow.Table.from_arrays(columns, names=list(names)), tmp)


def _our_type(pyarrow: Any, name: str) -> Any:
    """The Arrow type of our field ``name``; None (inferred) for an input field."""
    return pyarrow.type_for_alias(ARROW_TYPES[name]) if name in ARROW_TYPES else None


def shard_schema(schema: Any) -> Any:
    """``schema`` (a ``pyarrow.Schema``, e.g. of merged parts) as a shard file has it: our fields
    with their ``ARROW_TYPES``, and an input field of type ``null`` (None throughout) as
    ``string``, so that every shard of a run has one schema for them."""
    import pyarrow

    fields = []
    for field in schema:
        if field.name in ARROW_TYPES:
            field = field.with_type(_our_type(pyarrow, field.name))
        elif pyarrow.types.is_null(field.type):
            field = field.with_type(pyarrow.string())
        fields.append(field)
    return pyarrow.schema(fields, metadata=schema.metadata)


def _jsonable(value: Any) -> Any:
    """JSONL for what JSON lacks (dates, bytes, arrays from Parquet or datasets inputs)."""
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if hasattr(value, "tolist"):
        return value.tolist()
    return str(value)


def read_rows(path: Path) -> List[Record]:
    """Rows of a file ``write_rows`` wrote (tests, the summary, users checking a shard)."""
    path = Path(path)
    if path.suffix == ".jsonl":
        with path.open(encoding="utf-8") as file_:
            return [json.loads(line) for line in file_]
    import pyarrow.parquet

    return pyarrow.parquet.read_table(path).to_pylist()
