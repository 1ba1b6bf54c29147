"""``make demo``: a synthetic organisation, the weekly search, and the app, with no manual steps.

Each step is skipped when its output already exists for the same parameters, so a second ``make demo``
starts serving in seconds. The weekly searches are the app's (``rxwatch.web.demo`` replays a year of
them into the workflow store, the last one as of ``--as-of``), so none runs here. No real person is represented: the population is synthetic.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import sys
import time
from pathlib import Path

DEMO_PATIENTS = 50_000
DEMO_PRACTICES = 10
DEMO_SEED = 2026


def _step(title: str) -> float:
    print(f"\n== {title}", flush=True)
    return time.perf_counter()


def _done(t0: float, what: str) -> None:
    print(f"   {what} ({time.perf_counter() - t0:.1f} s)", flush=True)


def build(out: Path, *, as_of: dt.date, patients: int, practices: int, seed: int) -> Path:
    """Synthesise and import (once per parameters); returns the clinical store."""
    from rxwatch.extract.store import import_extract
    from rxwatch.synth.population import generate

    out.mkdir(parents=True, exist_ok=True)
    params = {
        "patients": patients,
        "practices": practices,
        "seed": seed,
        "as_of": as_of.isoformat(),
    }
    stamp = out / "demo.json"
    extract = out / "extract"
    store = Path(os.environ.get("RXWATCH_STORE") or out / "clinical.duckdb")
    os.environ["RXWATCH_STORE"] = str(store)

    fresh = not (stamp.exists() and json.loads(stamp.read_text()) == params and store.exists())
    if fresh:
        shutil.rmtree(extract, ignore_errors=True)
        store.unlink(missing_ok=True)
        t0 = _step(f"Synthetic population: {patients:,} patients in {practices} practices")
        print(
            "   "
            + str(
                generate(
                    out=extract,
                    patients=patients,
                    practices=practices,
                    seed=seed,
                    fmt="csv",
                    as_of=as_of,
                )
            )
        )
        _done(t0, f"written to {extract}")

        t0 = _step("Import into the clinical store")
        print("   " + import_extract(store, extract).summary())
        _done(t0, f"store {store}")
        stamp.write_text(json.dumps(params))
    else:
        print(f"Demo data for {params} already built in {out}; reusing it.")
    return store


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("var/demo"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", 8000)))
    parser.add_argument("--as-of", type=dt.date.fromisoformat, default=dt.date.today())
    parser.add_argument("--patients", type=int, default=DEMO_PATIENTS)
    parser.add_argument("--practices", type=int, default=DEMO_PRACTICES)
    parser.add_argument("--seed", type=int, default=DEMO_SEED)
    parser.add_argument("--no-serve", action="store_true", help="Build the demo and stop.")
    args = parser.parse_args(argv)

    from rxwatch.errors import RxWatchError

    try:
        build(
            args.out,
            as_of=args.as_of,
            patients=args.patients,
            practices=args.practices,
            seed=args.seed,
        )
    except RxWatchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code

    try:
        from rxwatch.web import demo as web_demo  # the workflow app, once it exists
    except ImportError:
        print("\nThe workflow app is not part of this build yet; the demo stops after the import.")
        return 0
    return web_demo.run(out=args.out, as_of=args.as_of, port=args.port, serve=not args.no_serve)


if __name__ == "__main__":
    sys.exit(main())
