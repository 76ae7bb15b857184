"""Helpers shared by management commands: the data directory, progress bars, errors."""

from __future__ import annotations

import getpass
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import CommandError
from tqdm import tqdm

from .importers import ImportRejected


def data_dir(option: str | None) -> Path:
    """The data directory: the command's option, else OPENCOMMISSIONING_DATA_DIR."""
    path = Path(option) if option else settings.OPENCOMMISSIONING_DATA_DIR
    if path is None:
        raise CommandError(
            "No data directory: set OPENCOMMISSIONING_DATA_DIR (or pass --data-dir) to the "
            "folder holding the public data files."
        )
    if not path.is_dir():
        raise CommandError(f"The data directory {path} does not exist.")
    return path


def progress_bar(items: Iterable[Any], label: str, total: int | None) -> Iterable[Any]:
    return tqdm(items, desc=label, total=total, unit="row", file=sys.stderr, mininterval=0.5, leave=False)


def rejected(error: ImportRejected, limit: int = 200) -> CommandError:
    """A CommandError listing every problem (up to ``limit``; the count is always given)."""
    lines = [f"Nothing was imported: {len(error.problems)} problem(s) found."]
    lines += [f"  - {p}" for p in error.problems[:limit]]
    if len(error.problems) > limit:
        lines.append(f"  … and {len(error.problems) - limit} more.")
    return CommandError("\n".join(lines))


def operator_label() -> str:
    try:
        return f"command line ({getpass.getuser()})"
    except Exception:  # no login name in some containers
        return "command line"
