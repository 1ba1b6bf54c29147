"""What a search returns: the contract DESIGN.md fixes for results.csv and indicators.csv.

The engine (``rxwatch.engine.search``) produces a ``SearchResult``; the CLI writes it as CSV, the web
app turns it into monitoring cases, the scorecard reads its indicators. Nothing here imports Django.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pyarrow as pa

RESULT_COLUMNS = (
    "practice",
    "patient_id",
    "rule_id",
    "status",  # overdue | due_soon | out_of_range | safety_alert | missed_diagnosis
    "reason",  # plain English a technician can read aloud
    "last_date",  # date of the last test (monitoring), the evidence (alerts)
    "last_value",  # the value behind an out_of_range / missed_diagnosis row
    "due_date",  # last test + interval, when there is a last test
    "days_overdue",  # T − due_date, on overdue rows with a last test
)
INDICATOR_COLUMNS = ("practice", "indicator_id", "numerator", "denominator")
SPECIALIST_COLUMNS = ("practice", "patient_id", "rule_id", "last_issue_date")


@dataclass(frozen=True)
class SearchResult:
    as_of: dt.date
    results: pa.Table  # RESULT_COLUMNS, sorted by practice, patient_id, rule_id
    indicators: pa.Table  # INDICATOR_COLUMNS, sorted by practice, indicator_id
    specialist_monitored: pa.Table  # SPECIALIST_COLUMNS (clozapine)
    backend: str
