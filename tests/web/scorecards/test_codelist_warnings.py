"""An indicator that depends on a local codelist nobody supplied (valproate-ppp ships empty) is
below target by construction (HAZ-103/HAZ-104): the pages say so next to it, and the organisation
page does not choose it by default while another indicator needs attention."""

from __future__ import annotations

import datetime as dt

import pytest

from rxwatch.web.scorecards import services

from .conftest import make_run

Q = "?month=2026-06"
VALPROATE_WARNING = (
    "Codelist valproate-ppp was not supplied: no patient can have the record, so every patient "
    "on valproate is counted. Supply the organisation&#x27;s list with --codelists."
)


pytestmark = pytest.mark.usefixtures("fresh_catalogue")


def test_indicators_know_their_unsupplied_codelists():
    cat = services.indicator_catalogue()
    assert cat["valproate.ppp"].unsupplied_codelists == ("valproate-ppp",)
    assert cat["amiodarone.tft"].unsupplied_codelists == ("secondary-care-monitoring",)
    assert "no patient is excluded by it" in cat["amiodarone.tft"].codelist_warnings[0][1]
    assert cat["pincer.gi_p3a"].unsupplied_codelists == ()


def test_a_supplied_codelist_has_no_warning(tmp_path, monkeypatch):
    (tmp_path / "valproate-ppp.csv").write_text("code,term\n318980005,A code\n")
    monkeypatch.setenv("RXWATCH_CODELISTS", str(tmp_path))
    services.indicator_catalogue.cache_clear()
    assert services.indicator_catalogue()["valproate.ppp"].codelist_warnings == ()


def test_practice_page_warns_next_to_the_indicator(client, manager_a, valproate):
    client.force_login(manager_a)
    body = client.get("/scorecards/" + Q).content.decode()
    assert 'class="nhsuk-warning-callout" data-testid="codelist-warning"' in body
    assert VALPROATE_WARNING in body
    row = body.split('data-indicator="valproate.ppp"')[1].split("</tr>")[0]
    assert "Codelist valproate-ppp not supplied" in row
    gi = body.split('data-indicator="pincer.gi_p3a"')[1].split("</tr>")[0]
    assert "not supplied" not in gi
    assert "4 / 4" in row  # the numbers are kept: the fail-safe reading


def test_organisation_page_does_not_default_to_an_unsupplied_codelist(client, hub_lead, valproate):
    client.force_login(hub_lead)
    body = client.get("/scorecards/organisation/" + Q).content.decode()
    compare = body.split('id="compare"')[1]
    assert compare.startswith(">" + services.indicator("pincer.gi_p3a").title)
    assert VALPROATE_WARNING in body.split('id="compare"')[0]  # by the matrix
    # chosen explicitly, it is shown with its warning
    body = client.get("/scorecards/organisation/" + Q + "&indicator=valproate.ppp").content.decode()
    compare = body.split('id="compare"')[1].split("</h2>")[1].split('data-testid="funnel"')[0]
    assert VALPROATE_WARNING in compare


def test_organisation_page_falls_back_when_nothing_else_needs_attention(
    client, hub_lead, practice_a, practice_b
):
    make_run(
        dt.date(2026, 6, 29),
        {
            "valproate.ppp": {"A81001": (4, 4), "B82002": (3, 3)},
            "pincer.gi_p3a": {"A81001": (0, 30), "B82002": (0, 40)},
        },
    )
    client.force_login(hub_lead)
    body = client.get("/scorecards/organisation/" + Q).content.decode()
    assert body.split('id="compare"')[1].startswith(">" + services.indicator("valproate.ppp").title)


def test_drill_down_warns(client, hub_lead, valproate):
    client.force_login(hub_lead)
    body = client.get(
        "/scorecards/patients/?practice=A81001&indicator=valproate.ppp&month=2026-06"
    ).content.decode()
    assert VALPROATE_WARNING in body
