"""Several processes appending to the audit trail at once still make one intact chain (SQLite:
IMMEDIATE transactions; PostgreSQL: an advisory lock). Runs in subprocesses on a real database file,
outside pytest-django's test database."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

SCRIPT = textwrap.dedent(
    """
    import multiprocessing as mp
    import sys


    def worker(k):
        from rxwatch.web.bootstrap import setup

        setup()
        from django.db import transaction

        from rxwatch.web.audit import chain

        for i in range(100):
            with transaction.atomic():
                chain.record(action="concurrency.test", object_type="w", object_id=f"{k}-{i}")


    if __name__ == "__main__":
        from rxwatch.web.bootstrap import setup

        setup(migrate=True)
        from django.db import connections

        connections.close_all()
        procs = [mp.get_context("spawn").Process(target=worker, args=(k,)) for k in range(3)]
        for p in procs:
            p.start()
        for p in procs:
            p.join()
        from rxwatch.web.audit.chain import verify_chain

        print([p.exitcode for p in procs], verify_chain().summary())
    """
)


@pytest.mark.slow
def test_concurrent_appends_keep_the_chain_intact(tmp_path):
    script = tmp_path / "append_from_three_processes.py"
    script.write_text(SCRIPT)
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "PYTEST_VERSION")}
    env.update(
        RXWATCH_DATA_DIR=str(tmp_path / "data"),
        RXWATCH_DEBUG="1",
        DJANGO_SETTINGS_MODULE="rxwatch.web.settings",
    )
    out = subprocess.run(
        [sys.executable, str(script)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.startswith("[0, 0, 0] OK: 300 audit events, chain intact"), out.stdout
