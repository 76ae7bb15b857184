"""The Parquet store of loaded row-level data, under ``settings.NEEDS_STORE``::

    <store>/<scope>/<table>/load=<id>/part-00000.parquet    one folder per load
    <store>/.staging/<id>/                                  a load being written

The analytics engine reads ``<store>/<scope>`` as a ``DataSource`` folder, so a load is
visible exactly when its folder is in place: it is written under ``.staging`` (which the
engine never reads) and renamed into place as the last step of the load's transaction.
:func:`sweep` removes anything a crash left behind (folders of loads the database does
not record as loaded). See ``docs/decisions/0005-needs-data-store.md``.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterable
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from django.conf import settings

from opencommissioning.analytics.engines import DataSource

SLICE_ROWS = 250_000


def root() -> Path:
    return Path(settings.NEEDS_STORE)


def scope_folder(scope: str) -> Path:
    return root() / scope


def load_folder(scope: str, table: str, load_id: int) -> Path:
    return scope_folder(scope) / table / f"load={load_id}"


def staging_folder(load_id: int) -> Path:
    return root() / ".staging" / str(load_id)


def write_staged(load_id: int, table: pa.Table, progress: Callable[[int], None] | None = None) -> Path:
    """Write ``table`` under the staging folder in slices, calling ``progress(rows)``."""
    return _write_afresh(staging_folder(load_id), table, progress)


def _write_afresh(folder: Path, table: pa.Table, progress: Callable[[int], None] | None = None) -> Path:
    """``table`` as the one Parquet file of an emptied ``folder``, written in slices."""
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    with pq.ParquetWriter(folder / "part-00000.parquet", table.schema) as writer:
        for start in range(0, max(table.num_rows, 1), SLICE_ROWS):
            part = table.slice(start, SLICE_ROWS)
            writer.write_table(part, row_group_size=SLICE_ROWS)
            if progress:
                progress(part.num_rows)
    return folder


def rewrite_folder(new_load_id: int, old_load_id: int) -> Path:
    """Where a correction (load ``new_load_id``) writes an earlier load's rows without the
    slices it replaces, until both are swapped into place together."""
    return root() / ".staging" / f"{new_load_id}-rewrite-{old_load_id}"


def read_load(scope: str, table: str, load_id: int, columns: list[str] | None = None) -> pa.Table:
    import pyarrow.dataset as ds

    folder = load_folder(scope, table, load_id)
    dataset = ds.dataset(folder, format="parquet")
    return dataset.to_table(columns=[c for c in columns if c in dataset.schema.names] if columns else None)


def write_rewrite(new_load_id: int, old_load_id: int, table: pa.Table) -> Path:
    return _write_afresh(rewrite_folder(new_load_id, old_load_id), table)


def swap_rewrite(new_load_id: int, old_load_id: int, scope: str, table: str) -> Path:
    """Put an earlier load's rewritten folder in place of its old one; returns the old
    folder, moved aside (remove it once the transaction has committed)."""
    target = load_folder(scope, table, old_load_id)
    aside = root() / ".staging" / f"{new_load_id}-replaced-{old_load_id}"
    if aside.exists():
        shutil.rmtree(aside)
    target.rename(aside)
    rewrite_folder(new_load_id, old_load_id).rename(target)
    return aside


def publish(load_id: int, scope: str, table: str) -> Path:
    """Move a staged load into place (the engine sees it from now on)."""
    target = load_folder(scope, table, load_id)
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists():
        shutil.rmtree(target)
    staging_folder(load_id).rename(target)
    return target


def _prune_empty(base: Path) -> None:
    for table_folder in base.glob("*/*"):
        if table_folder.parent.name.startswith("."):
            continue  # staging: a load in progress
        if table_folder.is_dir() and not any(table_folder.iterdir()):
            table_folder.rmdir()


def remove(scope: str, table: str, load_id: int) -> None:
    """A load's folder, its staging folder and any rewrites of earlier loads it made."""
    extra = list((root() / ".staging").glob(f"{load_id}-*")) if (root() / ".staging").exists() else []
    for folder in (load_folder(scope, table, load_id), staging_folder(load_id), *extra):
        if folder.exists():
            shutil.rmtree(folder)
    _prune_empty(root())


def discard(folder: Path) -> None:
    if folder.exists():
        shutil.rmtree(folder)


def sweep(loaded: Iterable[tuple[str, str, int]], running: Iterable[int] = ()) -> list[Path]:
    """Remove every load folder that is not in ``loaded`` (scope, table, id) and every
    staging folder but those of ``running`` loads; returns what was removed."""
    keep = {load_folder(s, t, i) for s, t, i in loaded}
    busy = {str(i) for i in running}
    removed: list[Path] = []
    base = root()
    if not base.exists():
        return removed
    for staged in (base / ".staging").glob("*"):
        if staged.name.split("-")[0] not in busy:  # "<id>" or "<id>-rewrite-<old id>" of a running load
            removed.append(staged)
            shutil.rmtree(staged)
    for folder in base.glob("*/*/load=*"):
        if folder not in keep:
            removed.append(folder)
            shutil.rmtree(folder)
    _prune_empty(base)
    return removed


def data_source(scope: str) -> DataSource:
    return DataSource.from_folder(scope_folder(scope))


def read(scope: str, table: str) -> pa.Table | None:
    source = data_source(scope)
    return source.arrow(table) if source.has(table) else None
