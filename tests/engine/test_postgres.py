"""The same search on PostgreSQL as on DuckDB: the same three files, byte for byte.

``RXWATCH_TEST_POSTGRES_URL`` names a database the test may fill with temporary tables (for example
``postgres://postgres@localhost:5432/rx``). Without it the test starts a throwaway server of its
own from Debian's ``postgresql`` package (``make test`` installs it where missing): a new cluster
in a temporary folder, on a free local port, trusted, stopped and deleted at the end. It skips
only where neither is to be had.
"""

from __future__ import annotations

import datetime as dt
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from rxwatch.engine.search import search_extract
from rxwatch.synth.population import generate

URL = os.environ.get("RXWATCH_TEST_POSTGRES_URL")
AS_OF = dt.date(2026, 11, 23)


def _server_programs() -> Path | None:
    """The folder of ``initdb`` and ``pg_ctl``: on PATH, or where Debian puts them."""
    if found := shutil.which("initdb"):
        return Path(found).parent
    installed = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parts[-3])
    )
    return installed[-1].parent if installed else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    if URL:
        yield URL
        return
    programs = _server_programs()
    if programs is None:
        pytest.skip("no PostgreSQL: set RXWATCH_TEST_POSTGRES_URL or install postgresql")
    as_user: list[str] = []
    folder = Path(tempfile.mkdtemp(prefix="rxwatch-pg-"))
    if os.geteuid() == 0:  # the server refuses to run as root: run it as Debian's postgres user
        try:
            owner = pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root and there is no postgres user to run the server as")
        os.chown(folder, owner.pw_uid, owner.pw_gid)
        as_user = ["runuser", "-u", "postgres", "--"]
    data, log, port = folder / "data", folder / "server.log", _free_port()

    def run(*args: str) -> None:
        done = subprocess.run([*as_user, *args], capture_output=True, text=True, check=False)
        if done.returncode != 0:
            server_log = log.read_text() if log.exists() else ""
            raise RuntimeError(f"{args[0]} failed:\n{done.stdout}{done.stderr}{server_log}")

    try:
        run(str(programs / "initdb"), "-D", str(data), "-A", "trust", "-U", "rx", "--no-sync")
        options = f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off"
        run(str(programs / "pg_ctl"), "-D", str(data), "-l", str(log), "-o", options, "-w", "start")
        try:
            yield f"postgres://rx@127.0.0.1:{port}/postgres"
        finally:
            run(str(programs / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def test_postgres_gives_duckdbs_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, postgres_url: str
) -> None:
    pytest.importorskip("psycopg", reason="the postgres extra is not installed")
    monkeypatch.setenv("RXWATCH_POSTGRES_URL", postgres_url)
    extract = tmp_path / "extract"
    generate(out=extract, patients=3000, practices=3, seed=11, fmt="csv", as_of=AS_OF)
    files = ("results.csv", "indicators.csv", "specialist_monitored.csv")
    out = {}
    for backend in ("duckdb", "postgres"):
        search_extract(extract, as_of=AS_OF, out=tmp_path / backend, backend=backend)
        out[backend] = {f: (tmp_path / backend / f).read_bytes() for f in files}
    assert out["duckdb"]["results.csv"].count(b"\n") > 10  # the population flags someone
    assert out["postgres"] == out["duckdb"]
