"""Plain-English reasons a technician can read aloud, written from the flagged rows' columns.

Written in Python on the (small) flagged rows, one vectorised pass per rule_id, so that dates and
numbers read the same whatever backend computed them: dates ISO, values without spurious trailing
zeros ("120", "1.5"), intervals in weeks when they are whole weeks.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from rxwatch.engine.api import RESULT_COLUMNS
from rxwatch.rules.catalogue import Catalogue
from rxwatch.rules.model import Rule, Test, Threshold

OP_WORDS = {"<": "below", "<=": "at or below", ">": "above", ">=": "at or above"}


def number_text(values: pa.Array | pa.ChunkedArray) -> pd.Series:
    """Shortest text that reads back as the same number: 120.0 → "120", 1.5 → "1.5"."""
    return pd.Series(pc.cast(values, pa.string()).to_pylist(), dtype=object)


def _num(x: float) -> str:
    return f"{x:g}" if abs(x) < 1e15 else str(x)


def _label(text: str) -> str:
    """Capitalise a label for the start of a sentence, leaving "eGFR" and "HbA1c" alone."""
    if len(text) > 1 and text[0].islower() and not text[1].isupper():
        return text[0].upper() + text[1:]
    return text


def interval_text(days: pd.Series) -> pd.Series:
    d = days.astype("int64")
    weeks = d // 7
    out = d.astype(str) + " days"
    whole = (d % 7 == 0) & (d > 7)
    out[whole] = weeks[whole].astype(str) + " weeks (" + d[whole].astype(str) + " days)"
    out[d == 7] = "week (7 days)"
    out[d == 1] = "day"
    return out


def _overdue_text(n: pd.Series) -> pd.Series:
    n = n.astype("int64")
    out = n.astype(str) + " days overdue"
    out[n == 1] = "1 day overdue"
    out[n == 0] = "due today"
    return out


def _monitoring(df: pd.DataFrame, rule: Rule, test: Test) -> pd.Series:
    title = test.title
    has_last = df.last_date_s.notna()
    head = pd.Series(f"No {title} on record", index=df.index)
    head[has_last] = f"Last {title} " + df.last_date_s[has_last]
    every = "due every " + interval_text(df.interval_days)
    every = every.where(
        ~df.initiation.fillna(False).astype(bool), every + " while starting treatment"
    )
    if test.interval is not None:
        crcl = df.crcl.round(1)
        known = crcl.notna()
        note = pd.Series("", index=df.index)
        note[known] = " (CrCl " + crcl[known].map("{:.1f}".format) + " mL/min)"
        every = every + note
    tail = pd.Series("", index=df.index)
    od = (df.status == "overdue") & has_last
    tail[od] = "; " + _overdue_text(df.days_overdue[od])
    ds = df.status == "due_soon"
    tail[ds] = "; next due " + df.due_date_s[ds]
    reason = head + "; " + every + tail
    if test.interval is not None:
        missing = df.cg_missing.notna()
        lead = (
            "CrCl could not be computed (no "
            + df.cg_missing[missing]
            + " recorded); "
            + title
            + " due every "
            + df.interval_days[missing].astype("int64").astype(str)
            + " days; "
        )
        head_l = head[missing].str.slice(0, 1).str.lower() + head[missing].str.slice(1)
        reason[missing] = lead + head_l + tail[missing]
    oor = df.status == "out_of_range"
    for k, th in enumerate(test.thresholds):
        m = oor & (df.threshold == k)
        if m.any():
            reason[m] = _out_of_range(df[m], th)
    return reason


def _out_of_range(df: pd.DataFrame, th: Threshold) -> pd.Series:
    value = df.last_value.round(1).map("{:.1f}".format) if th.analyte == "crcl" else df.value_s
    unit = f" {th.unit}" if th.unit else ""
    return (
        f"{_label(th.label)} "
        + value
        + " on "
        + df.last_date_s
        + f" ({OP_WORDS[th.op]} {_num(th.value)}{unit})"
    )


def _alert(df: pd.DataFrame, rule: Rule) -> pd.Series:
    base = (rule.reason or rule.title).rstrip(". ")
    reason = pd.Series(base, index=df.index)
    has = df.last_date_s.notna()
    if rule.kind == "safety_alert":
        reason[has] = base + "; latest issue " + df.last_date_s[has]
    else:
        has &= df.value_s.notna()
        reason[has] = base + "; latest value " + df.value_s[has] + " on " + df.last_date_s[has]
    return reason


def write_reasons(rows: pa.Table, catalogue: Catalogue) -> pa.Table:
    """The results table (RESULT_COLUMNS) from the engine's flagged rows."""
    df = rows.to_pandas(date_as_object=True)
    df["last_date_s"] = pd.Series(pc.cast(rows["last_date"], pa.string()).to_pylist(), dtype=object)
    df["due_date_s"] = pd.Series(pc.cast(rows["due_date"], pa.string()).to_pylist(), dtype=object)
    df["value_s"] = number_text(rows["last_value"])
    reason = pd.Series(np.full(len(df), None, dtype=object), index=df.index)
    last_value = df.last_value.copy()
    tests = {
        f"{r.id}.{t.id}": (r, t) for r in catalogue.rules if r.kind == "monitoring" for t in r.tests
    }
    for rule_id, idx in df.groupby("rule_id").groups.items():
        part = df.loc[idx]
        if rule_id in tests:
            rule, test = tests[rule_id]
            reason[idx] = _monitoring(part, rule, test)
            for k, th in enumerate(test.thresholds):
                if th.analyte == "crcl":
                    m = (part.status == "out_of_range") & (part.threshold == k)
                    last_value[m[m].index] = part.last_value[m].round(1)
        else:
            reason[idx] = _alert(part, catalogue.rule(rule_id))
    out = rows.select([c for c in RESULT_COLUMNS if c not in ("reason", "last_value")])
    out = out.add_column(4, "reason", pa.array(reason.tolist(), pa.string()))
    out = out.add_column(6, "last_value", pa.array(last_value, pa.float64(), from_pandas=True))
    return out.select(list(RESULT_COLUMNS))
