"""Benchmark: synthetic population → CSV / Parquet, CSV import, FHIR export and FHIR import.

Prints wall time, CPU time and peak memory of each step; asserts nothing. Each step runs as its own
``rxwatch`` process. Peak memory is given two ways: the largest single process (``getrusage``) and
the whole process tree sampled every 0.1 s from /proc (the synth runs worker processes, so the tree is
what the machine has to hold). Steps whose code has not landed print "not available yet".

    python bench/synth_import.py                       # 1M patients, 100 practices
    python bench/synth_import.py --patients 100000 --practices 10 --keep

Targets (issue "Foundation"): synth ≤ 60 s and ≤ 4 GB for 1M patients; CSV import ≥ 1M rows/s;
FHIR NDJSON import ≥ 300k resources/s.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

RXWATCH = [sys.executable, "-m", "rxwatch.cli"]
STEPS = ("synth-csv", "synth-parquet", "import-csv", "export-fhir", "import-fhir")
AS_OF = "2026-11-01"


@dataclass
class Result:
    wall: float
    cpu: float
    rss_max_process: int  # bytes
    rss_tree_peak: int  # bytes, sampled
    returncode: int
    stdout: str
    stderr: str
    load: tuple[float, float] = (0.0, 0.0)  # 1-minute load average before and after the step


def _tree_rss(root: int) -> int:
    """Resident memory of ``root`` and all its descendants (bytes), from /proc."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            ppid, pages = int(fields[1]), int(fields[21])
        except (OSError, IndexError, ValueError):
            continue
        pid = int(entry)
        children.setdefault(ppid, []).append(pid)
        rss[pid] = pages * os.sysconf("SC_PAGE_SIZE")
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        total += rss.get(pid, 0)
        todo.extend(children.get(pid, []))
    return total


TIMEOUT: float | None = None  # seconds per step (--timeout)
MAX_RSS: int | None = None  # bytes (--max-rss-gb): a step whose process tree passes it is stopped


TIME = (
    "/usr/bin/time"  # GNU time: max RSS and CPU of exactly this step's process (and its children)
)


def run(cmd: list[str]) -> Result:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    timed = os.path.exists(TIME)
    if timed:
        cmd = [TIME, "-f", "BENCHTIME %M %U %S", *cmd]
    load_before = os.getloadavg()[0]
    start = time.perf_counter()
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    peak = [0]
    done = threading.Event()

    killed = []

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], _tree_rss(proc.pid))
            if MAX_RSS and peak[0] > MAX_RSS and not killed:
                killed.append(True)  # protect a shared machine: stop the step, report it
                os.killpg(proc.pid, 9)
            done.wait(0.1)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        out, err = proc.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, 9)  # the step and its workers
        out, err = proc.communicate()
        err += f"\ntimed out after {TIMEOUT:.0f} s"
    done.set()
    sampler.join()
    if killed:
        err += f"\nstopped: the process tree passed --max-rss-gb ({MAX_RSS / 1e9:.0f} GB)"
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    largest = after.ru_maxrss * 1024  # fallback: the largest child so far
    lines = err.splitlines()
    if timed and lines and lines[-1].startswith("BENCHTIME "):
        kb, user, system = lines[-1].split()[1:]
        largest, cpu = int(kb) * 1024, float(user) + float(system)
        err = "\n".join(lines[:-1])
    load = (load_before, os.getloadavg()[0])
    return Result(wall, cpu, largest, peak[0], proc.returncode, out, err, load)


def available(module: str, attr: str) -> bool:
    try:
        if importlib.util.find_spec(module) is None:
            return False
        mod = __import__(module, fromlist=[attr])
    except Exception:
        return False
    return hasattr(mod, attr)


def _gb(b: int) -> str:
    return f"{b / 1e9:.2f} GB"


def report(name: str, r: Result, extra: str = "") -> None:
    if r.returncode != 0:
        last = (r.stderr.strip().splitlines() or ["(no message)"])[-1]
        print(f"{name:<34} FAILED (exit {r.returncode}): {last}")
        return
    print(
        f"{name:<34} {r.wall:7.1f} s wall  {r.cpu:7.1f} s cpu  "
        f"peak RSS {_gb(r.rss_tree_peak)} (tree), {_gb(r.rss_max_process)} (largest process)"
        + (f"  {extra}" if extra else "")
        + f"  [load {r.load[0]:.1f} → {r.load[1]:.1f}]"
    )


def _rows(summary: str) -> int:
    """Total rows from the synth summary ("rows: practices 100, patients 1,000,000, …")."""
    part = summary.split("rows:", 1)[1].split(";", 1)[0]
    return sum(int(n.replace(",", "")) for n in re.findall(r"(\d[\d,]*)", part))


def _lines(path: Path) -> int:
    with path.open("rb") as f:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 24), b""))


def _ndjson_lines(d: Path) -> int:
    return sum(_lines(p) for p in d.rglob("*.ndjson"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--patients", type=int, default=1_000_000)
    ap.add_argument("--practices", type=int, default=100)
    ap.add_argument("--tmp", type=Path, help="working directory (default: a new one under /tmp)")
    ap.add_argument("--keep", action="store_true", help="keep the extracts and stores")
    ap.add_argument("--timeout", type=float, help="seconds allowed per step")
    ap.add_argument("--max-rss-gb", type=float, help="stop a step whose processes use more memory")
    ap.add_argument(
        "--steps",
        default=",".join(STEPS),
        help=f"comma-separated subset of {','.join(STEPS)} (later steps need the CSV synth)",
    )
    args = ap.parse_args()
    global TIMEOUT, MAX_RSS
    TIMEOUT = args.timeout
    MAX_RSS = int(args.max_rss_gb * 1e9) if args.max_rss_gb else None
    steps = set(args.steps.split(","))
    work = args.tmp or Path(tempfile.mkdtemp(prefix="rxwatch-bench-", dir="/tmp"))
    work.mkdir(parents=True, exist_ok=True)
    n, p = args.patients, args.practices
    print(f"rxwatch bench: {n:,} patients, {p} practices, {os.cpu_count()} CPUs, work dir {work}")
    print(f"load average at start: {os.getloadavg()[0]:.1f} (other work on the machine skews wall)")
    try:
        base = ["synth", "--patients", str(n), "--practices", str(p), "--seed", "1"]
        base += ["--as-of", AS_OF]
        csv_dir, pq_dir = work / "csv", work / "parquet"
        rows = 0
        if "synth-csv" in steps:
            r = run([*RXWATCH, *base, "--out", str(csv_dir), "--format", "csv"])
            rows = _rows(r.stdout) if r.returncode == 0 else 0
            size = sum(f.stat().st_size for f in csv_dir.glob("*.csv")) if csv_dir.exists() else 0
            report("synth CSV", r, f"{rows:,} rows ({rows / max(n, 1):.1f}/patient), {_gb(size)}")
        elif csv_dir.is_dir():  # reuse an extract from an earlier run (--tmp DIR)
            rows = sum(_lines(f) - 1 for f in csv_dir.glob("*.csv"))
            print(f"{'(reusing CSV extract)':<34} {rows:,} rows in {csv_dir}")
        if "synth-parquet" in steps:
            r = run([*RXWATCH, *base, "--out", str(pq_dir), "--format", "parquet"])
            size = sum(f.stat().st_size for f in pq_dir.glob("*.parquet")) if pq_dir.exists() else 0
            report("synth Parquet", r, _gb(size))

        if "import-csv" in steps:
            if available("rxwatch.extract.store", "import_extract") and rows:
                store = work / "store-csv.duckdb"
                r = run([*RXWATCH, "import", str(csv_dir), "--store", str(store)])
                report("import CSV", r, f"{rows / r.wall:,.0f} rows/s (target ≥ 1,000,000)")
            else:
                print(f"{'import CSV':<34} not available yet")

        fhir_dir = work / "fhir"
        resources = 0
        if "export-fhir" in steps:
            if available("rxwatch.extract.fhir", "export_ndjson") and rows:
                cmd = ["export-fhir", "--extract", str(csv_dir), "--out", str(fhir_dir)]
                r = run([*RXWATCH, *cmd])
                resources = _ndjson_lines(fhir_dir) if r.returncode == 0 else 0
                report("export FHIR NDJSON", r, f"{resources:,} resources")
            else:
                print(f"{'export FHIR NDJSON':<34} not available yet")
        if "import-fhir" in steps:
            if not available("rxwatch.extract.store", "import_extract"):
                print(f"{'import FHIR NDJSON':<34} not available yet")
            elif not resources:
                print(f"{'import FHIR NDJSON':<34} skipped: no FHIR export to import")
            else:
                store = work / "store-fhir.duckdb"
                r = run([*RXWATCH, "import", str(fhir_dir), "--store", str(store)])
                rate = f"{resources / r.wall:,.0f} resources/s (target ≥ 300,000)"
                report("import FHIR NDJSON", r, rate)
    finally:
        if not args.keep and not args.tmp:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
