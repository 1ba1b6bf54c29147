"""Plain-English reasons a technician can read aloud, written from the flagged rows' columns.

Written in Python on the flagged rows with Arrow's vectorised string functions (one pass per rule_id,
no loop over rows), so that dates and numbers read the same whatever backend computed them: dates
ISO, values without spurious trailing zeros ("120", "1.5"), intervals in weeks when whole weeks.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from rxwatch.engine.api import RESULT_COLUMNS
from rxwatch.rules.catalogue import Catalogue
from rxwatch.rules.model import Rule, Test, Threshold

OP_WORDS = {"<": "below", "<=": "at or below", ">": "above", ">=": "at or above"}
Arr = pa.Array | pa.ChunkedArray | pa.Scalar | str


def cat(*parts: Arr) -> pa.Array:
    """Element-wise concatenation of string arrays and plain strings."""
    arrays = [pa.scalar(p, pa.string()) if isinstance(p, str) else p for p in parts]
    return pc.binary_join_element_wise(*arrays, "")


def text(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    """Numbers and dates as text: 120.0 → "120", 1.5 → "1.5", dates ISO."""
    return pc.cast(values, pa.string())


def _num(x: float) -> str:
    return f"{x:g}"


def _label(s: str) -> str:
    """Capitalise a label for the start of a sentence, leaving "eGFR" and "HbA1c" alone."""
    if len(s) > 1 and s[0].islower() and not s[1].isupper():
        return s[0].upper() + s[1:]
    return s


def interval_text(days: pa.Array) -> pa.Array:
    """84 → "12 weeks (84 days)", 122 → "122 days", 7 → "week (7 days)"."""
    d = pc.cast(days, pa.int64())
    weeks = pc.divide(d, 7)
    whole = pc.and_(pc.equal(pc.subtract(d, pc.multiply(weeks, 7)), 0), pc.greater(d, 7))
    out = pc.if_else(whole, cat(text(weeks), " weeks (", text(d), " days)"), cat(text(d), " days"))
    out = pc.if_else(pc.equal(d, 7), "week (7 days)", out)
    return pc.if_else(pc.equal(d, 1), "day", out)


def _overdue_text(n: pa.Array) -> pa.Array:
    out = cat(text(n), " days overdue")
    out = pc.if_else(pc.equal(n, 1), "1 day overdue", out)
    return pc.if_else(pc.equal(n, 0), "due today", out)


def _fill(a: pa.Array, value: str = "") -> pa.Array:
    return pc.fill_null(a, value)


def _monitoring(t: pa.Table, test: Test) -> pa.Array:
    title = test.title
    status = t["status"]
    has_last = pc.is_valid(t["last_date"])
    head = pc.if_else(
        has_last, cat(f"Last {title} ", _fill(text(t["last_date"]))), f"No {title} on record"
    )
    every = cat("due every ", interval_text(_fill_int(t["interval_days"])))
    starting = pc.fill_null(t["initiation"], False)
    every = pc.if_else(starting, cat(every, " while starting treatment"), every)
    if test.interval is not None:
        crcl = t["crcl"]
        note = cat(" (CrCl ", _fill(_one_decimal(crcl)), " mL/min)")
        every = pc.if_else(pc.is_valid(crcl), cat(every, note), every)
    overdue = pc.and_(pc.equal(status, "overdue"), has_last)
    tail = pc.if_else(overdue, cat("; ", _overdue_text(_fill_int(t["days_overdue"]))), "")
    soon = pc.equal(status, "due_soon")
    tail = pc.if_else(soon, cat("; next due ", _fill(text(t["due_date"]))), tail)
    reason = cat(head, "; ", every, tail)
    if test.interval is not None:
        missing = pc.is_valid(t["cg_missing"])
        lower_head = pc.if_else(
            has_last, cat(f"last {title} ", _fill(text(t["last_date"]))), f"no {title} on record"
        )
        lead = cat(
            "CrCl could not be computed (no ",
            _fill(t["cg_missing"]),
            " recorded); ",
            f"{title} due every ",
            text(_fill_int(t["interval_days"])),
            " days; ",
        )
        reason = pc.if_else(missing, cat(lead, lower_head, tail), reason)
    for k, th in enumerate(test.thresholds):
        hit = pc.fill_null(
            pc.and_(pc.equal(status, "out_of_range"), pc.equal(t["threshold"], k)), False
        )
        if pc.any(hit).as_py():
            reason = pc.if_else(hit, _out_of_range(t, th), reason)
    return reason


def _fill_int(a: pa.Array) -> pa.Array:
    return pc.fill_null(pc.cast(a, pa.int64()), 0)


def _one_decimal(values: pa.Array) -> pa.Array:
    """CrCl as read aloud: one decimal place, always shown (45.0, 28.3)."""
    rounded = pc.round(values, 1, round_mode="half_up")
    s = text(rounded)
    return pc.if_else(pc.match_substring(s, "."), s, cat(s, ".0"))


def _out_of_range(t: pa.Table, th: Threshold) -> pa.Array:
    value = _one_decimal(t["last_value"]) if th.analyte == "crcl" else text(t["last_value"])
    unit = f" {th.unit}" if th.unit else ""
    return cat(
        f"{_label(th.label)} ",
        _fill(value),
        " on ",
        _fill(text(t["last_date"])),
        f" ({OP_WORDS[th.op]} {_num(th.value)}{unit})",
    )


def _alert(t: pa.Table, rule: Rule) -> pa.Array:
    base = (rule.reason or rule.title).rstrip(". ")
    has = pc.is_valid(t["last_date"])
    if rule.kind == "safety_alert":
        return pc.if_else(has, cat(base + "; latest issue ", _fill(text(t["last_date"]))), base)
    has = pc.and_(has, pc.is_valid(t["last_value"]))
    return pc.if_else(
        has,
        cat(
            base + "; latest value ",
            _fill(text(t["last_value"])),
            " on ",
            _fill(text(t["last_date"])),
        ),
        base,
    )


def write_reasons(rows: pa.Table, catalogue: Catalogue) -> pa.Table:
    """The results table (RESULT_COLUMNS) from the engine's flagged rows."""
    n = rows.num_rows
    reason = np.full(n, None, dtype=object)
    last_value = rows["last_value"].to_numpy(zero_copy_only=False).astype("float64")
    tests = {
        f"{r.id}.{t.id}": t for r in catalogue.rules if r.kind == "monitoring" for t in r.tests
    }
    rule_ids = rows["rule_id"].combine_chunks() if n else pa.array([], pa.string())
    for rule_id in pc.unique(rule_ids).to_pylist():
        mask = pc.equal(rule_ids, rule_id)
        idx = np.flatnonzero(mask.to_numpy(zero_copy_only=False))
        part = rows.filter(mask)
        if rule_id in tests:
            test = tests[rule_id]
            reason[idx] = _monitoring(part, test).to_numpy(zero_copy_only=False)
            for k, th in enumerate(test.thresholds):
                if th.analyte == "crcl":
                    hit = pc.fill_null(pc.equal(part["threshold"], k), False)
                    rounded = pc.round(part["last_value"], 1, round_mode="half_up")
                    sel = np.flatnonzero(hit.to_numpy(zero_copy_only=False))
                    last_value[idx[sel]] = rounded.to_numpy(zero_copy_only=False)[sel]
        else:
            reason[idx] = _alert(part, catalogue.rule(rule_id)).to_numpy(zero_copy_only=False)
    out = rows.select([c for c in RESULT_COLUMNS if c not in ("reason", "last_value")])
    out = out.add_column(4, "reason", pa.array(reason, pa.string()))
    out = out.add_column(6, "last_value", pa.array(last_value, pa.float64(), from_pandas=True))
    return out.select(list(RESULT_COLUMNS))
