"""Where RxWatch keeps its data: one data directory, overridable by environment variables."""

from __future__ import annotations

import os
from pathlib import Path


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
