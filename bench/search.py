"""Benchmark of the weekly search: prints figures, asserts nothing about time.

    .venv/bin/python bench/search.py                       # 100k and 1M patients, Spark check
    .venv/bin/python bench/search.py --sizes 100000 --no-spark

For each size it builds a population in a DuckDB file (once; reused from ``--workdir``), then runs each
measured step in its own subprocess so that each has its own peak memory (the child reports its
``VmHWM``, ``peak_rss_mb``). The search and the floor run ``--repeat`` times (3),
interleaved, and their medians are compared: one run of each on a shared machine varies by ±10 %.

* ``search``: the full catalogue through ``run_search`` on DuckDB;
* ``floor``: a plain DuckDB scan computing the latest event per (patient, code), the least any search
  must do; the ratio search / floor is printed (and, for reference, the same over medications too);
* ``pandas`` (100k only): a straightforward pandas implementation of three rules, and the engine on
  the same three rules;
* ``spark``: at a small size, PySpark local output compared with DuckDB's, cell for cell.

Populations come from ``rxwatch.synth.population.generate`` when it is installed (``--data synth``),
else from a quick SQL generator here (``--data sql``) that draws codes from the catalogue's codelists
plus codes in no codelist, ~15 issues and ~37 events per patient.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
AS_OF = dt.date(2026, 11, 23)
FIXTURE_RULES = ROOT / "tests" / "engine" / "fixtures" / "rules"
FIXTURE_CODELISTS = ROOT / "tests" / "engine" / "fixtures" / "codelists"
PANDAS_RULES = ("methotrexate", "pincer.gi_p3a", "missed_dx.diabetes")


# --- the catalogue ------------------------------------------------------------------------------


def load_bench_catalogue():
    """The shipped catalogue, or the engine's test fixtures while the shipped one is not there."""
    from rxwatch.rules.catalogue import SHIPPED_DIR, load_catalogue

    if any(SHIPPED_DIR.glob("*.yaml")):
        return load_catalogue(), "shipped"
    return load_catalogue(FIXTURE_CODELISTS, FIXTURE_RULES), "engine test fixtures"


# --- building a population -----------------------------------------------------------------------


def generate_sql(path: Path, patients: int, practices: int, seed: int) -> None:
    """A quick synthetic population straight into a DuckDB file (no real person is represented)."""
    import duckdb

    from rxwatch.engine.facts import gather_needs

    catalogue, _ = load_bench_catalogue()
    needs = gather_needs(catalogue)
    drug_codes = sorted(catalogue.codes(*needs.drugs))
    value_names = set().union(*needs.values.values()) if needs.values else set()
    value_codes = sorted(catalogue.codes(*value_names))
    event_codes = sorted(catalogue.codes(*needs.events) - set(value_codes))
    noise = [str(900_000_000 + i) for i in range(200)]  # in no codelist
    tmp = path.with_suffix(".tmp")
    tmp.unlink(missing_ok=True)
    con = duckdb.connect(str(tmp))
    con.execute("SET threads = 2")
    con.execute("SET enable_progress_bar = false")
    con.execute("CREATE TABLE drug_codes (i INTEGER, code VARCHAR)")
    con.executemany(
        "INSERT INTO drug_codes VALUES (?, ?)",
        list(enumerate(drug_codes + noise[: len(drug_codes) // 3 + 1])),
    )
    ev = (
        [(c, True) for c in value_codes] * 3
        + [(c, False) for c in event_codes]
        + [(c, False) for c in noise]
    )
    con.execute("CREATE TABLE event_codes (i INTEGER, code VARCHAR, has_value BOOLEAN)")
    con.executemany(
        "INSERT INTO event_codes VALUES (?, ?, ?)", [(i, c, v) for i, (c, v) in enumerate(ev)]
    )
    nd = con.execute("SELECT count(*) FROM drug_codes").fetchone()[0]
    ne = len(ev)
    t = AS_OF.isoformat()
    s = seed
    con.execute("CREATE TABLE practices (ods_code VARCHAR, name VARCHAR, pcn VARCHAR)")
    con.execute(
        f"INSERT INTO practices SELECT 'A' || lpad(i::VARCHAR, 5, '0'), 'Practice ' || i, NULL "
        f"FROM range({practices}) r(i)"
    )
    con.execute(f"""
        CREATE TABLE patients AS
        SELECT 'P' || lpad(i::VARCHAR, 9, '0') AS patient_id,
               'A' || lpad((i % {practices})::VARCHAR, 5, '0') AS practice,
               DATE '1925-01-01' + CAST(hash(i, {s}, 1) % 36000 AS INTEGER) AS date_of_birth,
               CASE WHEN hash(i, {s}, 2) % 100 < 49 THEN 'F'
                    WHEN hash(i, {s}, 2) % 100 < 99 THEN 'M' ELSE 'U' END AS sex,
               NULL::VARCHAR AS nhs_number,
               CASE WHEN hash(i, {s}, 3) % 100 < 1
                    THEN DATE '{t}' - CAST(hash(i, {s}, 4) % 900 AS INTEGER) END AS date_of_death,
               CASE WHEN hash(i, {s}, 5) % 100 < 2
                    THEN DATE '{t}' - CAST(hash(i, {s}, 6) % 900 AS INTEGER) END
                    AS registration_end
        FROM range({patients}) r(i)
    """)
    # ~15 issues a patient: three drugs, five issues each, over two years
    con.execute(f"""
        CREATE TABLE medications AS
        SELECT 'P' || lpad((j // 15)::VARCHAR, 9, '0') AS patient_id,
               DATE '{t}' - CAST(hash(j, {s}, 7) % 730 AS INTEGER) AS issue_date,
               d.code AS dmd_code, NULL::VARCHAR AS name, 28.0::DOUBLE AS quantity,
               28::INTEGER AS days_supply
        FROM range({patients * 15}) r(j)
        JOIN drug_codes d ON d.i = CAST(hash(j // 15, (j % 15) // 5, {s}, 8) % {nd} AS INTEGER)
    """)
    # ~37 events a patient: groups of three of one code over four years; results carry values
    con.execute(f"""
        CREATE TABLE events AS
        SELECT 'P' || lpad((j // 37)::VARCHAR, 9, '0') AS patient_id,
               DATE '{t}' - CAST(hash(j, {s}, 9) % 1460 AS INTEGER) AS date,
               e.code AS snomed_code, NULL::VARCHAR AS term,
               CASE WHEN e.has_value THEN CAST(hash(j, {s}, 10) % 2000 AS DOUBLE) / 10 END
                   AS value,
               NULL::VARCHAR AS unit,
               CASE WHEN e.has_value AND hash(j, {s}, 11) % 100 = 0 THEN '>' END AS comparator
        FROM range({patients * 37}) r(j)
        JOIN event_codes e ON e.i = CAST(hash(j // 37, (j % 37) // 3, {s}, 12) % {ne} AS INTEGER)
    """)
    for name in ("drug_codes", "event_codes"):
        con.execute(f"DROP TABLE {name}")
    con.execute("CHECKPOINT")
    con.close()
    tmp.rename(path)


def generate_synth(path: Path, patients: int, practices: int, seed: int) -> None:
    """The project's synthetic population (Parquet extract) copied into a DuckDB file."""
    import duckdb

    from rxwatch.extract.schema import TABLES
    from rxwatch.synth.population import generate

    out = path.with_suffix(".parquet.d")
    generate(out=out, patients=patients, practices=practices, seed=seed, fmt="parquet", as_of=AS_OF)
    tmp = path.with_suffix(".tmp")
    tmp.unlink(missing_ok=True)
    con = duckdb.connect(str(tmp))
    con.execute("SET enable_progress_bar = false")
    for t in TABLES:
        src = out / f"{t.name}.parquet"
        cols = ", ".join(f'"{c}"' for c in t.column_names)
        con.execute(
            f"CREATE TABLE {t.name} AS SELECT {cols} FROM read_parquet('{src}/**', "
            f"union_by_name = true)"
            if src.is_dir()
            else f"CREATE TABLE {t.name} AS SELECT {cols} FROM read_parquet('{src}')"
        )
    con.close()
    tmp.rename(path)


def synth_available() -> bool:
    try:
        import rxwatch.synth.population  # noqa: F401
    except ImportError:
        return False
    return True


# --- the measured steps (each in its own process) ------------------------------------------------


def _open(path: str):
    import duckdb

    con = duckdb.connect(path, read_only=True)
    con.execute("SET threads = 2")
    con.execute("SET enable_progress_bar = false")
    return con


def step_search(path: str, rules: str | None = None) -> dict:
    import ibis

    from rxwatch.engine.search import run_search

    catalogue, _ = load_bench_catalogue()
    if rules:
        catalogue = catalogue.select(rules.split(","))
    con = ibis.duckdb.from_connection(_open(path))
    started = time.perf_counter()
    result = run_search(con, as_of=AS_OF, catalogue=catalogue)
    seconds = time.perf_counter() - started
    return {
        "seconds": seconds,
        "rows": result.results.num_rows,
        "indicators": result.indicators.num_rows,
    }


def step_floor(path: str, tables: str = "events") -> dict:
    """The latest record per patient and code, one pass per table (events; or events and
    medications, the two tables every search reads). ``max(latest)`` is read so that the latest
    dates are computed: with ``count(*)`` alone DuckDB drops the unused ``max`` and only counts
    the groups."""
    con = _open(path)
    started = time.perf_counter()
    n = con.execute(
        "SELECT count(*), max(latest) FROM (SELECT patient_id, snomed_code, max(date) AS latest "
        "FROM events GROUP BY patient_id, snomed_code)"
    ).fetchone()[0]
    if tables == "both":
        n += con.execute(
            "SELECT count(*), max(latest) FROM (SELECT patient_id, dmd_code, max(issue_date) AS latest "
            "FROM medications GROUP BY patient_id, dmd_code)"
        ).fetchone()[0]
    return {"seconds": time.perf_counter() - started, "groups": n}


def step_counts(path: str) -> dict:
    con = _open(path)
    q = {
        t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
        for t in ("patients", "medications", "events")
    }
    return q


def step_pandas(path: str) -> dict:
    """Three rules the straightforward pandas way: load the tables, filter, merge, group."""
    import pandas as pd

    catalogue, _ = load_bench_catalogue()
    con = _open(path)
    started = time.perf_counter()
    pts = con.execute("SELECT * FROM patients").df()
    meds = con.execute("SELECT * FROM medications").df()
    evs = con.execute("SELECT * FROM events").df()
    loaded = time.perf_counter()
    T = pd.Timestamp(AS_OF)
    for c in ("date_of_birth", "date_of_death", "registration_end"):
        pts[c] = pd.to_datetime(pts[c])
    meds["issue_date"] = pd.to_datetime(meds["issue_date"])
    evs["date"] = pd.to_datetime(evs["date"])
    pop = pts[
        (pts.date_of_death.isna() | (pts.date_of_death > T))
        & (pts.registration_end.isna() | (pts.registration_end > T))
    ].copy()
    before = (pop.date_of_birth.dt.month * 100 + pop.date_of_birth.dt.day) > (
        AS_OF.month * 100 + AS_OF.day
    )
    pop["age"] = AS_OF.year - pop.date_of_birth.dt.year - before.astype(int)
    meds = meds[meds.issue_date <= T]
    evs = evs[evs.date <= T]
    codes = {n: catalogue.codelists[n].codes for n in catalogue.codelists}

    def issues(name):
        return meds[meds.dmd_code.isin(codes[name])]

    def events(name):
        return evs[evs.snomed_code.isin(codes[name])]

    flagged = 0
    # methotrexate.fbc: overdue by phase
    mtx = issues("methotrexate").groupby("patient_id").issue_date.agg(["min", "max"])
    mtx = mtx[mtx["max"] > T - pd.Timedelta(days=90)]
    mtx = mtx[mtx.index.isin(pop.patient_id)]
    days = (T - mtx["min"]).dt.days
    interval = pd.Series(84, index=mtx.index).where(days > 133, 28).where(days > 42, 14)
    last = events("fbc").groupby("patient_id").date.max().reindex(mtx.index)
    overdue = last.isna() | (last <= T - pd.to_timedelta(interval, unit="D"))
    flagged += int(overdue.sum())
    # pincer.gi_p3a: 65 and over, recent NSAID, no recent PPI
    recent = meds[meds.issue_date > T - pd.Timedelta(days=90)]
    nsaid = set(recent[recent.dmd_code.isin(codes["nsaid-oral"])].patient_id)
    ppi = set(recent[recent.dmd_code.isin(codes["ppi"])].patient_id)
    old = pop[pop.age >= 65]
    flagged += int((old.patient_id.isin(nsaid) & ~old.patient_id.isin(ppi)).sum())
    # missed_dx.diabetes: latest HbA1c ≥ 48 (any value of the latest date), no diabetes ever
    h = events("hba1c").dropna(subset=["value"])
    latest = h.groupby("patient_id").date.transform("max")
    h = h[h.date == latest].groupby("patient_id").value.max()
    dm = set(events("diabetes").patient_id)
    hit = h[(h >= 48) & ~h.index.isin(dm) & h.index.isin(pop.patient_id)]
    flagged += len(hit)
    done = time.perf_counter()
    return {"seconds": done - loaded, "load_seconds": loaded - started, "rows": flagged}


def step_spark(path: str) -> dict:
    """The same search on PySpark local and on DuckDB: are the outputs identical?"""
    import ibis

    from rxwatch.engine.backends import connect
    from rxwatch.engine.search import run_search

    catalogue, _ = load_bench_catalogue()
    duck = _open(path)
    a = run_search(ibis.duckdb.from_connection(duck), as_of=AS_OF, catalogue=catalogue)
    started = time.perf_counter()
    con = connect("pyspark", duckdb_con=duck)
    loaded = time.perf_counter()
    b = run_search(con, as_of=AS_OF, catalogue=catalogue)
    done = time.perf_counter()
    out = {
        "start_and_load_seconds": loaded - started,
        "seconds": done - loaded,
        "rows": a.results.num_rows,
    }
    for name in ("results", "indicators", "specialist_monitored"):
        x, y = getattr(a, name), getattr(b, name)
        out[f"{name}_identical"] = x.equals(y)
        if not x.equals(y):
            xs = {json.dumps(r, default=str) for r in x.to_pylist()}
            ys = {json.dumps(r, default=str) for r in y.to_pylist()}
            out[f"{name}_only_duckdb"] = len(xs - ys)
            out[f"{name}_only_spark"] = len(ys - xs)
    return out


STEPS = {
    "search": step_search,
    "floor": step_floor,
    "pandas": step_pandas,
    "spark": step_spark,
    "counts": step_counts,
}


def peak_rss_mb() -> float:
    """This process's own peak resident memory. Not ``ru_maxrss``: Linux carries it over from the
    parent through fork and exec, so a step started after the parent built a population reported
    the parent's peak (1.7 GB for a floor whose own peak is 1.2 GB). ``VmHWM`` is the peak of this
    address space alone."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:  # not Linux
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(name: str, args: list[str]) -> None:
    result = STEPS[name](*args)
    result["peak_rss_mb"] = peak_rss_mb()
    print("RESULT " + json.dumps(result))


def run_step(name: str, *args: str) -> dict:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    proc = subprocess.run(
        [sys.executable, __file__, "_step", name, *args],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT ") :])
    sys.stderr.write(proc.stdout[-3000:] + proc.stderr[-3000:])
    raise SystemExit(f"step {name} failed")


def repeated(steps: list[tuple[str, ...]], repeat: int) -> list[dict]:
    """Each step run ``repeat`` times, interleaved (search, floor, search, floor…) so that a slow
    spell of a shared machine falls on all of them: each gives its median time (``seconds``), its
    fastest and slowest (``range``) and its largest peak memory."""
    runs: list[list[dict]] = [[] for _ in steps]
    for _ in range(repeat):
        for i, step in enumerate(steps):
            runs[i].append(run_step(*step))
    out = []
    for results in runs:
        times = sorted(r["seconds"] for r in results)
        summary = dict(results[0])  # the counts, the same in every run
        summary["seconds"] = statistics.median(times)
        summary["range"] = (times[0], times[-1])
        summary["peak_rss_mb"] = max(r["peak_rss_mb"] for r in results)
        out.append(summary)
    return out


def _spread(r: dict) -> str:
    lo, hi = r["range"]
    return f" (median; {lo:.2f}–{hi:.2f} s)" if hi > lo else ""


# --- the report ----------------------------------------------------------------------------------


def population(workdir: Path, patients: int, data: str) -> Path:
    path = workdir / f"population-{data}-{patients}.duckdb"
    if not path.exists():
        practices = max(1, patients // 8000)
        started = time.perf_counter()
        (generate_synth if data == "synth" else generate_sql)(path, patients, practices, 1)
        print(f"  built {path.name} in {time.perf_counter() - started:.1f} s")
    return path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--sizes", default="100000,1000000")
    ap.add_argument("--spark-size", type=int, default=3000)
    ap.add_argument("--no-spark", action="store_true")
    ap.add_argument("--data", choices=["auto", "synth", "sql"], default="auto")
    ap.add_argument("--workdir", type=Path, default=ROOT / "var" / "bench")
    ap.add_argument(
        "--repeat", type=int, default=3, help="runs of the search and the floor (median printed)"
    )
    opts = ap.parse_args()
    data = opts.data if opts.data != "auto" else ("synth" if synth_available() else "sql")
    opts.workdir.mkdir(parents=True, exist_ok=True)
    _, which = load_bench_catalogue()
    print(
        f"RxWatch search benchmark: catalogue = {which}, data = {data}, as of {AS_OF}, "
        f"{os.cpu_count()} cores"
    )
    for n in (int(s) for s in opts.sizes.split(",")):
        print(f"\n{n:,} patients")
        path = str(population(opts.workdir, n, data))
        c = run_step("counts", path)
        per = (c["medications"] + c["events"]) / c["patients"]
        print(
            f"  data: {c['medications']:,} issues + {c['events']:,} events "
            f"= {per:.1f} rows per patient"
        )
        s, f, b = repeated(
            [("search", path), ("floor", path), ("floor", path, "both")], opts.repeat
        )
        print(
            f"  search (full catalogue, DuckDB): {s['seconds']:.2f} s{_spread(s)}, "
            f"peak RSS {s['peak_rss_mb']:,.0f} MB, {s['rows']:,} flagged rows, "
            f"{s['indicators']:,} indicator rows"
        )
        print(
            f"  floor (latest event per patient and code, plain DuckDB): {f['seconds']:.2f} s"
            f"{_spread(f)}, "
            f"peak RSS {f['peak_rss_mb']:,.0f} MB, {f['groups']:,} groups"
        )
        print(f"  ratio search / floor: {s['seconds'] / f['seconds']:.2f}×")
        print(
            f"  (floor over events and medications: {b['seconds']:.2f} s{_spread(b)}, "
            f"{b['groups']:,} groups;"
            f" ratio {s['seconds'] / b['seconds']:.2f}×)"
        )
        if n <= 100_000:
            catalogue, _ = load_bench_catalogue()
            present = [r for r in PANDAS_RULES if r in {x.id for x in catalogue.rules}]
            e = run_step("search", path, ",".join(present))
            p = run_step("pandas", path)
            print(f"  three rules ({', '.join(present)}):")
            print(
                f"    engine (DuckDB): {e['seconds']:.2f} s, peak RSS {e['peak_rss_mb']:,.0f} MB, "
                f"{e['rows']:,} rows"
            )
            print(
                f"    pandas: {p['seconds']:.2f} s after {p['load_seconds']:.2f} s loading, "
                f"peak RSS {p['peak_rss_mb']:,.0f} MB, {p['rows']:,} rows (overdue only)"
            )
    if not opts.no_spark:
        n = opts.spark_size
        print(f"\nPySpark local vs DuckDB, {n:,} patients")
        path = str(population(opts.workdir, n, data))
        r = run_step("spark", path)
        print(
            f"  Spark start + load {r['start_and_load_seconds']:.1f} s, search {r['seconds']:.1f} s, "
            f"peak RSS (driver) {r['peak_rss_mb']:,.0f} MB"
        )
        for name in ("results", "indicators", "specialist_monitored"):
            same = r[f"{name}_identical"]
            extra = (
                ""
                if same
                else (
                    f" ({r[f'{name}_only_duckdb']} rows only in DuckDB, "
                    f"{r[f'{name}_only_spark']} only in Spark)"
                )
            )
            print(f"  {name}: {'identical' if same else 'DIFFERENT'}{extra}")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "_step":
        child(sys.argv[2], sys.argv[3:])
    else:
        main()
