"""The files a `spacy lm score` run writes per input shard: its rows (Parquet or JSONL) and its
rejects (JSONL, with a ``reason``), written atomically so that a file there is always complete,
named uniquely even when two inputs share a name, and read back with ``read_rows``."""
import json
import os
from pathlib import Path
from typing import Any, Dict, List, Sequence, Tuple

from ..errors import Errors
from .settings import ROW_FIELDS, Record


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
    """Write atomically (a temporary name, then a rename): a file there is always complete."""
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
    columns = {name: [row.get(name) for row in rows] for name in names}
    try:
        table = pyarrow.table(columns)
    except (pyarrow.ArrowInvalid, pyarrow.ArrowTypeError) as err:
        raise ValueError(Errors.E162.format(path=path, reason=" ".join(str(err).split()))) from err
    pyarrow.parquet.write_table(table, tmp)


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
