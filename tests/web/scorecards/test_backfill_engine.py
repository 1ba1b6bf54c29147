"""End to end: a backfill over a real (small, synthetic) clinical store gives scorecard numbers equal
to the search's indicators.csv for the same as-of date."""

from __future__ import annotations

import csv
import datetime as dt

import pytest
from click.testing import CliRunner

from rxwatch.cli import main
from rxwatch.web.organisations.models import Organisation, Practice
from rxwatch.web.scorecards import services
from rxwatch.web.scorecards.backfill import backfill_store

AS_OF = dt.date(2026, 6, 30)


@pytest.fixture(scope="session")
def clinical(tmp_path_factory):
    """A 300-patient synthetic extract of two practices, imported into a clinical store."""
    from rxwatch.extract.store import import_extract

    root = tmp_path_factory.mktemp("scorecard-store")
    runner = CliRunner()
    out = runner.invoke(
        main,
        ["synth", "--patients", "300", "--practices", "2", "--out", str(root / "extract"),
         "--as-of", AS_OF.isoformat()],
    )  # fmt: skip
    assert out.exit_code == 0, out.output
    import_extract(root / "store.duckdb", root / "extract")
    out = runner.invoke(
        main,
        ["search", str(root / "extract"), "--as-of", AS_OF.isoformat(), "--out",
         str(root / "search")],
    )  # fmt: skip
    assert out.exit_code == 0, out.output
    with open(root / "search" / "indicators.csv", newline="") as f:
        indicators = list(csv.DictReader(f))
    return root / "store.duckdb", indicators


def test_scorecard_equals_the_searchs_indicators_csv(clinical, db):
    store, indicators = clinical
    org = Organisation.objects.create(code="NEW", name="New organisation")
    practices = sorted({r["practice"] for r in indicators})
    for ods in practices:
        Practice.objects.create(organisation=org, ods_code=ods, name=ods)
    runs = backfill_store(store=store, months=1, today=dt.date(2026, 7, 5))
    assert [r.as_of for r in runs] == [AS_OF]
    cards = services.practice_scorecards(
        list(Practice.objects.order_by("ods_code")), services.month_start(AS_OF)
    )
    got = {
        (card.practice.ods_code, row.indicator.id): (row.current.numerator, row.current.denominator)
        for card in cards
        for row in row_list(card)
        if row.current.count
    }
    want = {
        (r["practice"], r["indicator_id"]): (int(r["numerator"]), int(r["denominator"]))
        for r in indicators
    }
    assert len(want) > 10
    assert got == want


def row_list(card):
    for row in card.rows:
        assert row.current.count is None or row.current.count.as_of == AS_OF
        yield row
