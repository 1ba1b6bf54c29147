"""What a search returns: the contract DESIGN.md fixes for results.csv and indicators.csv.

The engine (``rxwatch.engine.search``) produces a ``SearchResult``; the CLI writes it as CSV, the web
app turns it into monitoring cases, the scorecard reads its indicators. Nothing here imports Django.

Row meanings (the catalogue, ../shared/clinical/catalogue.md, is the spec; these fix what it leaves open):

* ``overdue``: ``last_date`` = last test (null if none); ``due_date`` = last test + interval (null if
  none); ``days_overdue`` = T − due_date (null if no last test); ``last_value`` null.
* ``due_soon``: ``last_date``, ``due_date`` set; ``days_overdue`` and ``last_value`` null.
* ``out_of_range``: ``last_date`` and ``last_value`` = the breaching value and its date (the first
  threshold of the test, in rule-file order, that breaches; among values sharing the latest date, the
  one that breaches: the lowest for ``<``/``<=``, the highest for ``>``/``>=``); ``due_date`` set;
  ``days_overdue`` null. For the DOAC ``crcl`` threshold, ``last_value`` is the CrCl (1 decimal place)
  and ``last_date`` the date of the creatinine used.
* ``safety_alert``: ``last_date`` = the latest issue in (T − 90, T] of any drug codelist the rule's hazard
  names, else of any its at-risk group names; other columns null.
* ``missed_diagnosis``: ``last_date`` / ``last_value`` = the latest value that triggered it (ties: the
  one meeting the condition).
* one row per (practice, patient_id, rule_id); a test that is both overdue and out of range is overdue.
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

# The Arrow types of the three tables: every producer (each backend) casts to them, and every
# consumer (the web sync, the scorecards, tests building results by hand) can rely on them.
RESULT_SCHEMA = pa.schema(
    [
        ("practice", pa.string()),
        ("patient_id", pa.string()),
        ("rule_id", pa.string()),
        ("status", pa.string()),
        ("reason", pa.string()),
        ("last_date", pa.date32()),
        ("last_value", pa.float64()),
        ("due_date", pa.date32()),
        ("days_overdue", pa.int64()),
    ]
)
INDICATOR_SCHEMA = pa.schema(
    [
        ("practice", pa.string()),
        ("indicator_id", pa.string()),
        ("numerator", pa.int64()),
        ("denominator", pa.int64()),
    ]
)
SPECIALIST_SCHEMA = pa.schema(
    [
        ("practice", pa.string()),
        ("patient_id", pa.string()),
        ("rule_id", pa.string()),
        ("last_issue_date", pa.date32()),
    ]
)


@dataclass(frozen=True)
class SearchResult:
    as_of: dt.date
    results: pa.Table  # RESULT_COLUMNS, sorted by practice, patient_id, rule_id
    indicators: pa.Table  # INDICATOR_COLUMNS, sorted by practice, indicator_id
    specialist_monitored: pa.Table  # SPECIALIST_COLUMNS (clozapine)
    backend: str
