"""Where RxWatch keeps its data: one data directory, overridable by environment variables."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rxwatch.rules.catalogue import Catalogue


def data_dir() -> Path:
    """``$RXWATCH_DATA_DIR``, else ``$XDG_DATA_HOME/rxwatch`` (``~/.local/share/rxwatch``)."""
    if env := os.environ.get("RXWATCH_DATA_DIR"):
        return Path(env)
    xdg = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(xdg) / "rxwatch"


def store_path() -> Path:
    """The clinical store (DuckDB file): ``$RXWATCH_STORE``, else ``<data dir>/clinical.duckdb``."""
    if env := os.environ.get("RXWATCH_STORE"):
        return Path(env)
    return data_dir() / "clinical.duckdb"


def codelists_dir() -> Path | None:
    """An organisation's own codelists (``$RXWATCH_CODELISTS``), as ``rxwatch search --codelists``
    takes them; None when the shipped lists are used."""
    folder = os.environ.get("RXWATCH_CODELISTS")
    return Path(folder) if folder else None


def organisation_catalogue(override: Path | None = None) -> Catalogue:
    """The rule catalogue an organisation works with: the shipped rules over its own codelists
    (``override``, e.g. ``--codelists``; else ``$RXWATCH_CODELISTS``; else the shipped lists). One
    place, so that the weekly search, the backfill, the scorecards and the CQC pack count the same
    patients."""
    from rxwatch.rules.catalogue import load_catalogue

    return load_catalogue(codelists_dir=override or codelists_dir())
