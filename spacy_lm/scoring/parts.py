"""Part files: each range's rows and rejects, written by the worker that scored it, merged by the
driver into the shard's files once every range of the shard is back.

A part's name is fixed by (shard, range index) and it is written atomically (a temporary name
unique to the writing process, then a rename), so a range scored twice (a worker died after
writing, and the range was retried) replaces its part rather than adding one. Parts live in
``parts/`` of the output folder; a run deletes what an interrupted run left there before it
starts, and the merge reads only the parts of this run's ranges, in range order."""
import os
import shutil
from pathlib import Path
from typing import List, Sequence, Tuple

from ..errors import Errors
from .output import shard_schema, write_rows
from .settings import Record

PARTS = "parts"


def part_base(out_dir: Path, output_name: str, index: int) -> str:
    """Where range ``index`` of the shard written to ``output_name`` puts its parts."""
    return str(out_dir / PARTS / f"{output_name}.{index:05d}")


def part_paths(base: str, output_format: str) -> Tuple[Path, Path]:
    """The rows part and the rejects part of a range."""
    return Path(f"{base}.{output_format}"), Path(f"{base}.rejects.jsonl")


def write_part(rows: List[Record], path: Path, output_format: str) -> None:
    """``write_rows`` under a name unique to this process, then renamed to ``path``."""
    tmp = path.with_name(f"{path.name}.{os.getpid()}.part")
    write_rows(rows, tmp, output_format)
    os.replace(tmp, path)


def clear_parts(out_dir: Path, keep: bool = True) -> None:
    """Remove the parts an interrupted run left behind (and the folder too unless ``keep``)."""
    shutil.rmtree(out_dir / PARTS, ignore_errors=True)
    if keep:
        (out_dir / PARTS).mkdir(parents=True, exist_ok=True)


def remove_parts(paths: Sequence[Path]) -> None:
    for path in paths:
        path.unlink(missing_ok=True)


def merge_parts(parts: Sequence[Path], path: Path, output_format: str) -> None:
    """The parts, in order, as one file at ``path`` (atomically): one part renamed, JSONL by
    bytes, Parquet as one table whose schema unifies the parts' (a field that is None
    throughout one part takes the type it has in the others; None throughout the shard, the
    ``string`` of ``output.shard_schema``, so that every shard of a run has one schema)."""
    if len(parts) == 1 and (output_format == "jsonl" or not _has_null_fields(parts[0])):
        os.replace(parts[0], path)
        return
    tmp = path.with_name(path.name + ".tmp")
    if output_format == "jsonl":
        with tmp.open("wb") as out:
            for part in parts:
                with part.open("rb") as file_:
                    shutil.copyfileobj(file_, out, 1 << 20)
    else:
        _merge_parquet(parts, tmp, path)
    os.replace(tmp, path)


def _merge_parquet(parts: Sequence[Path], tmp: Path, path: Path) -> None:
    import pyarrow
    import pyarrow.parquet

    try:
        schema = shard_schema(pyarrow.unify_schemas([pyarrow.parquet.read_schema(part) for part in parts],
                                                    promote_options="permissive"))
        with pyarrow.parquet.ParquetWriter(tmp, schema) as writer:
            for part in parts:
                writer.write_table(_conform(pyarrow, pyarrow.parquet.read_table(part), schema))
    except (pyarrow.ArrowInvalid, pyarrow.ArrowTypeError, pyarrow.ArrowNotImplementedError) as err:
        tmp.unlink(missing_ok=True)
        raise ValueError(Errors.E162.format(path=path, reason=" ".join(str(err).split()))) from err


def _has_null_fields(part: Path) -> bool:
    import pyarrow
    import pyarrow.parquet

    return any(pyarrow.types.is_null(field.type) for field in pyarrow.parquet.read_schema(part))


def _conform(pyarrow, table, schema):  # type: ignore[no-untyped-def]
    """``table`` with ``schema``'s columns, in its order (a missing one as nulls), cast to its types."""
    columns = [table.column(field.name).cast(field.type) if field.name in table.column_names
               else pyarrow.nulls(len(table), field.type) for field in schema]
    return pyarrow.Table.from_arrays(columns, schema=schema)
