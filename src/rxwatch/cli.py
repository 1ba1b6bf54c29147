"""The ``rxwatch`` command. Thin: parse arguments, call a domain function, print a short summary.

Domain modules are imported inside each command so that ``rxwatch --help`` stays fast and so that the
clinical commands never load Django.
"""

from __future__ import annotations

import datetime as dt
import logging
import sys
from pathlib import Path

import click

from rxwatch.errors import RxWatchError

log = logging.getLogger("rxwatch")


def _out_of_memory() -> tuple[type[BaseException], ...]:
    """Evaluated only once an exception is on its way: ``--help`` does not import DuckDB."""
    import duckdb

    return (MemoryError, duckdb.OutOfMemoryException)


def _date(_ctx: click.Context, _param: click.Parameter, value: str | None) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError as exc:
        raise click.BadParameter(f"{value!r} is not a date in the form YYYY-MM-DD") from exc


class _Group(click.Group):
    """Turns RxWatchError into its message and exit code, never a traceback."""

    def invoke(self, ctx: click.Context):  # type: ignore[override]
        try:
            return super().invoke(ctx)
        except RxWatchError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(exc.exit_code)
        except _out_of_memory() as exc:
            # DuckDB's message names sizes and settings, never data. Imports and searches write
            # in one transaction, so nothing was half-stored.
            detail = str(exc).splitlines()[0] if str(exc) else "MemoryError"
            click.echo(
                f"error: out of memory ({detail}). Imports and searches are all or nothing: "
                "nothing was half-written. Free memory or use a larger machine.",
                err=True,
            )
            sys.exit(1)


@click.group(cls=_Group)
@click.option("-v", "--verbose", is_flag=True, help="Log progress to standard error.")
@click.version_option(package_name="rxwatch")
def main(verbose: bool) -> None:
    """RxWatch: high-risk drug monitoring for GP practices, PCNs and federations."""
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


# --- clinical data ---------------------------------------------------------------------------------


@main.command()
@click.option("--patients", type=click.IntRange(min=1), default=10_000, show_default=True)
@click.option("--practices", type=click.IntRange(min=1), default=3, show_default=True)
@click.option("--seed", type=int, default=1, show_default=True)
@click.option("--out", type=click.Path(path_type=Path), required=True)
@click.option("--format", "fmt", type=click.Choice(["csv", "parquet", "fhir"]), default="csv")
@click.option(
    "--as-of", callback=_date, help="The date the population is built for (default today)."
)
def synth(
    patients: int, practices: int, seed: int, out: Path, fmt: str, as_of: dt.date | None
) -> None:
    """Write a seeded synthetic population as an extract (no real person is represented)."""
    from rxwatch.synth.population import generate

    summary = generate(
        out=out,
        patients=patients,
        practices=practices,
        seed=seed,
        fmt=fmt,
        as_of=as_of or dt.date.today(),
    )
    click.echo(summary)


@main.command("import")
@click.argument("extract_dir", type=click.Path(exists=True, path_type=Path))
@click.option(
    "--store", type=click.Path(path_type=Path), help="Clinical store (default from settings)."
)
@click.option("--practice", help="ODS code of the practice a FHIR extract comes from.")
def import_(extract_dir: Path, store: Path | None, practice: str | None) -> None:
    """Validate an extract and replace each of its practices' snapshots in the clinical store."""
    from rxwatch.config import store_path
    from rxwatch.extract.store import import_extract

    record = import_extract(store or store_path(), extract_dir, practice=practice)
    click.echo(record.summary_and_notes())


@main.command("imports")
@click.option(
    "--store", type=click.Path(path_type=Path), help="Clinical store (default from settings)."
)
def imports_(store: Path | None) -> None:
    """List every import that changed the clinical store, newest first, one line each."""
    from rxwatch.config import store_path
    from rxwatch.extract.store import describe_imports

    click.echo(describe_imports(store or store_path()))


@main.command("export-fhir")
@click.option(
    "--store", type=click.Path(path_type=Path), help="Clinical store (default from settings)."
)
@click.option(
    "--extract",
    "extract_dir",
    type=click.Path(exists=True, path_type=Path),
    help="Export an extract directory instead of the store.",
)
@click.option("--out", type=click.Path(path_type=Path), required=True)
def export_fhir(store: Path | None, extract_dir: Path | None, out: Path) -> None:
    """Write the clinical store (or an extract) as FHIR R4 UK Core NDJSON."""
    from rxwatch.config import store_path
    from rxwatch.extract.fhir import export_ndjson

    click.echo(
        export_ndjson(
            out=out, store=None if extract_dir else (store or store_path()), extract_dir=extract_dir
        )
    )


@main.command()
@click.argument("extract_dir", type=click.Path(exists=True, path_type=Path))
@click.option("--as-of", callback=_date, required=True)
@click.option("--out", type=click.Path(path_type=Path), required=True)
@click.option(
    "--codelists",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Directory of OpenCodelists CSVs replacing shipped codelists by file stem.",
)
@click.option(
    "--backend",
    type=click.Choice(["duckdb", "pyspark", "postgres"]),
    default="duckdb",
    show_default=True,
)
@click.option("--practice", help="ODS code of the practice a FHIR extract comes from.")
def search(
    extract_dir: Path,
    as_of: dt.date,
    out: Path,
    codelists: Path | None,
    backend: str,
    practice: str | None,
) -> None:
    """Stateless search of an extract directory: writes results.csv and indicators.csv."""
    from rxwatch.engine.search import search_extract

    summary = search_extract(
        extract_dir,
        as_of=as_of,
        out=out,
        codelists_dir=codelists,
        backend=backend,
        practice=practice,
    )
    click.echo(summary)


# --- rules ----------------------------------------------------------------------------------------


@main.group()
def rules() -> None:
    """The rule catalogue in words, with sources and codelists."""


@rules.command("list")
@click.option("--codelists", type=click.Path(exists=True, file_okay=False, path_type=Path))
def rules_list(codelists: Path | None) -> None:
    """One line per rule: id, kind, title."""
    from rxwatch.rules.describe import describe_catalogue

    click.echo(describe_catalogue(codelists_dir=codelists))


@rules.command("show")
@click.argument("rule_id")
@click.option("--codelists", type=click.Path(exists=True, file_okay=False, path_type=Path))
def rules_show(rule_id: str, codelists: Path | None) -> None:
    """A rule in words: who it applies to, each test and interval, thresholds, sources, codelists."""
    from rxwatch.rules.describe import describe_rule

    click.echo(describe_rule(rule_id, codelists_dir=codelists))


# --- the workflow app (Django) ---------------------------------------------------------------------


@main.command("run-search")
@click.option("--as-of", callback=_date, help="The date to search as of (default today).")
@click.option(
    "--store", type=click.Path(path_type=Path), help="Clinical store (default from settings)."
)
@click.option(
    "--codelists",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Directory of OpenCodelists CSVs replacing shipped codelists by file stem "
    "(default: RXWATCH_CODELISTS).",
)
@click.option(
    "--organisation", help="Code of the organisation new practices join (default: the only one)."
)
def run_search_cmd(
    as_of: dt.date | None, store: Path | None, codelists: Path | None, organisation: str | None
) -> None:
    """The weekly search over the clinical store: opens, updates and closes monitoring cases."""
    from rxwatch.config import store_path
    from rxwatch.web.bootstrap import setup

    setup(migrate=True)
    from rxwatch.web.cases.weekly import run_weekly_search

    run = run_weekly_search(
        store=store or store_path(),
        as_of=as_of or dt.date.today(),
        codelists_dir=codelists,
        organisation=organisation,
    )
    click.echo(
        f"Search of {run.as_of}: {run.flagged} flagged; {run.opened} cases opened, {run.updated} "
        f"updated, {run.closed} closed, {run.held} held (suppressed or recently decided)"
        + (f"; {run.skipped} rows skipped (practices not set up)" if run.skipped else "")
        + "."
    )


@main.group()
def audit() -> None:
    """The audit trail."""


@audit.command("verify")
def audit_verify() -> None:
    """Check the audit trail's hash chain: OK with the event count, or the first broken event."""
    from rxwatch.web.bootstrap import setup

    setup()
    from rxwatch.web.audit.chain import verify_chain

    report = verify_chain()
    click.echo(report.summary(), err=not report.ok)
    if not report.ok:
        sys.exit(1)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=8000, show_default=True, envvar="PORT")
def serve(host: str, port: int) -> None:
    """Serve the web app (migrating the workflow database first). For production, run
    rxwatch.web.wsgi under a WSGI server behind TLS instead."""
    from rxwatch.web.bootstrap import setup

    setup(migrate=True)
    from django.core.management import call_command

    call_command("runserver", f"{host}:{port}", use_reloader=False, insecure_serving=True)


@main.group()
def report() -> None:
    """Reports: the monthly audit summary."""


@report.command("monthly")
@click.option("--month", required=True, help="The month, YYYY-MM.")
@click.option("--practice", help="ODS code of one practice.")
@click.option("--pcn", help="A PCN (code, name or id): its practices.")
@click.option("--organisation", help="An organisation's code: its practices (default: all).")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True)
def report_monthly(
    month: str, practice: str | None, pcn: str | None, organisation: str | None, out: Path
) -> None:
    """Write the monthly audit summary PDF for a practice, a PCN or an organisation."""
    from rxwatch.web.bootstrap import setup

    setup()
    from rxwatch.web.reports.commands import monthly_pdf

    click.echo(
        monthly_pdf(month=month, out=out, practice=practice, pcn=pcn, organisation=organisation)
    )


@main.group()
def scorecard() -> None:
    """Scorecards."""


@scorecard.command("backfill")
@click.option(
    "--store", type=click.Path(path_type=Path), help="Clinical store (default from settings)."
)
@click.option("--months", type=click.IntRange(1, 36), default=12, show_default=True)
@click.option("--force", is_flag=True, help="Run again for month-ends already backfilled.")
@click.option(
    "--codelists",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Directory of OpenCodelists CSVs replacing shipped codelists by file stem"
    " (default: RXWATCH_CODELISTS).",
)
def scorecard_backfill(
    store: Path | None, months: int, force: bool, codelists: Path | None
) -> None:
    """Search the clinical store as of each past month-end (indicators only, no cases), so the
    scorecards show a year of history from day one."""
    from rxwatch.web.bootstrap import setup

    setup(migrate=True)
    from rxwatch.web.reports.commands import backfill

    click.echo(backfill(store=store, months=months, force=force, codelists=codelists))


if __name__ == "__main__":  # pragma: no cover
    main()
