"""The rule catalogue in words: for ``rxwatch rules list / show`` and the generated docs/rules.md.

A pharmacist should be able to check a search result by hand from this text alone, so every number
is printed with its unit (days and weeks), every source with its URL, and every codelist with its
code count and where an organisation can download a replacement. Nothing here is hand-written per
rule: the words are built from the rule files, so they cannot drift from what the engine runs.

``python -m rxwatch.rules.describe --markdown`` rewrites docs/rules.md.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from rxwatch.rules.catalogue import Catalogue, RuleError, load_catalogue
from rxwatch.rules.codelists import Codelist
from rxwatch.rules.model import Predicate, Rule, Test, Threshold

DOCS_PATH = Path(__file__).resolve().parents[3] / "docs" / "rules.md"
OP_WORDS = {"<": "below", "<=": "at most", ">": "above", ">=": "at least"}


# --- small formatters -----------------------------------------------------------------------------


def days(n: int) -> str:
    """'84 days (12 weeks)': pharmacists think in weeks, the engine in days."""
    weeks = n / 7
    w = f"{weeks:.0f}" if n % 7 == 0 else f"{weeks:.1f}"
    return f"{n} days ({w} week{'' if weeks == 1 else 's'})"


def _num(x: float) -> str:
    return f"{x:g}"


def _lists(names: Iterable[str]) -> str:
    return " or ".join(f"`{n}`" for n in names)


def threshold_words(th: Threshold) -> str:
    text = f"{th.label} {OP_WORDS[th.op]} {_num(th.value)} {th.unit} ({th.op} {_num(th.value)})"
    text += f" [source: {th.source}"
    text += "; ASSUMPTION" if th.assumption else ""
    text += "]"
    if th.note:
        text += f" — {th.note}"
    return text


def schedule_words(t: Test) -> str:
    """The test's intervals, e.g. 'every 14 days (2 weeks) up to day 42; …; then every 84 days'."""
    if t.interval is not None:
        cg = t.interval
        return (
            f"interval from Cockcroft–Gault creatinine clearance (latest `{cg.creatinine}`, "
            f"latest `{cg.weight}`, age and sex; CrCl = (140 − age) × weight × "
            f"{_num(cg.male_factor)} if male, {_num(cg.female_factor)} if female or unknown / "
            f"creatinine): {days(cg.default_days)}; "
            f"{days(cg.elderly_days)} if aged {cg.elderly_age} or over; if CrCl < "
            f"{_num(cg.crcl_below)} mL/min, floor(CrCl / 10 × {_num(cg.days_per_month)}) days; the "
            f"shortest applies; {days(cg.missing_days)} when weight or creatinine is missing"
            + (f" (ASSUMPTION: {cg.assumption_note})" if cg.assumption_note else "")
        )
    parts = [f"every {days(p.interval_days)} up to day {p.until_days}" for p in t.phases]
    if t.maintenance_days:
        parts.append(("then " if parts else "") + f"every {days(t.maintenance_days)}")
    elif parts:
        parts.append(f"then no routine monitoring after day {t.phases[-1].until_days}")
    return "; ".join(parts)


def short_schedule(t: Test) -> str:
    if t.interval is not None:
        return "CrCl-based"
    parts = [f"≤{p.until_days}:{p.interval_days}" for p in t.phases]
    parts.append(f"{t.maintenance_days}d" if t.maintenance_days else "none")
    return "/".join(parts)


def predicate_words(p: Predicate) -> str:
    """A predicate as a clause a pharmacist can read ('aged 65 or over and no `ppi` issued …')."""
    v: Any = p.value
    key = p.key
    if key in ("all", "any"):
        joiner = " and " if key == "all" else " or "
        return joiner.join(_bracket(q) for q in v)
    if key == "not_":
        return f"NOT ({predicate_words(v)})"
    if key == "age":
        if v.min is not None and v.max is not None:
            return f"aged {v.min}–{v.max} at the search date"
        if v.min is not None:
            return f"aged {v.min} or over"
        return f"aged {v.max} or under"
    if key == "sex":
        names = {"F": "female", "M": "male", "U": "sex unknown"}
        return "sex " + " or ".join(names[s] for s in v)
    if key == "issued":
        return f"an issue of {_lists(v.codelists)} in the last {days(v.within_days)}"
    if key == "event_history":
        when = (
            "ever (on or before the search date)"
            if v.before_days == 0
            else f"on or before {days(v.before_days)} before the search date"
        )
        return f"a {_lists(v.codelists)} event {when}"
    if key == "event_within":
        return f"a {_lists(v.codelists)} event in the last {days(v.within_days)}"
    if key == "co_prescribed":
        return (
            f"{_lists(v.a)} and {_lists(v.b)} issued within {v.within_days} days of each other, "
            f"both in the last {days(v.recent_days)}"
        )
    if key == "latest_value":
        when = "" if v.before_days == 0 else f" dated at least {days(v.before_days)} ago"
        text = f"the latest {_lists(v.codelists)} value{when} is {OP_WORDS[v.op]} {_num(v.value)}"
        if v.exclude_comparators:
            comps = ", ".join(f"'{c}'" for c in v.exclude_comparators)
            text += f" (values reported with {comps} never count)"
        return text
    if key == "unresolved":
        return (
            f"a {_lists(v.codelists)} event on or before {days(v.before_days)} before the search "
            f"date, with no {_lists(v.resolved)} event after the latest one"
        )
    if key == "repeated_values":
        return (
            f"two {_lists(v.codelists)} values {OP_WORDS[v.op]} {_num(v.value)} at least "
            f"{v.min_gap_days} days apart in the last {days(v.within_days)}"
        )
    raise RuleError(f"cannot describe predicate {key!r}")  # pragma: no cover


def _bracket(p: Predicate) -> str:
    text = predicate_words(p)
    return f"({text})" if p.key in ("all", "any") else text


# --- rules ----------------------------------------------------------------------------------------


def _find(cat: Catalogue, rule_id: str) -> Rule:
    try:
        return cat.rule(rule_id)
    except KeyError as exc:
        known = ", ".join(r.id for r in cat.rules)
        raise RuleError(f"no rule {rule_id!r}; known rules: {known}") from exc


def _codelist_line(name: str, cl: Codelist | None) -> str:
    if cl is None or (not cl.codes and not cl.overridden):
        return (
            f"`{name}`: NOT SHIPPED (no verified codes exist); an organisation supplies it with "
            "--codelists, and until then it holds no code"
        )
    system = {"dmd": "dm+d ", "snomedct": "SNOMED CT "}.get(cl.coding_system or "", "")
    line = f"`{name}`: {len(cl)} {system}code{'' if len(cl) == 1 else 's'}"
    if cl.overridden:
        line += f" (organisation's own list: {cl.path})"
    line += (
        f"; replace with {cl.source}"
        if cl.source
        else "; no OpenCodelists list of exactly this set"
    )
    return line


def rule_text(rule: Rule, cat: Catalogue, md: bool = False) -> str:
    """One rule in words; ``md`` gives Markdown headings and bullets for docs/rules.md."""
    h = "### " if md else ""
    b = "- " if md else "  "
    out: list[str] = []
    out.append(f"{h}{rule.id} — {rule.title}")
    out.append("")
    out.append(f"Kind: {rule.kind}. Group: {rule.group}. Version {rule.version}.")
    if rule.rule_ids:
        out.append(f"Writes rule_id(s): {', '.join(rule.rule_ids)}.")
    out.append("")
    out.append(rule.description)
    out.append("")

    out.append("Who it applies to:")
    pop = ["registered and alive at the search date"]
    if rule.population.min_age is not None:
        pop.append(f"aged {rule.population.min_age} or over")
    if rule.population.max_age is not None:
        pop.append(f"aged {rule.population.max_age} or under")
    if rule.population.sexes:
        pop.append("sex " + "/".join(rule.population.sexes))
    out.append(f"{b}population: {', '.join(pop)}")
    if rule.treatment:
        tr = rule.treatment
        text = f"on treatment: an issue of {_lists(tr.codelists)} in the last "
        text += days(tr.lookback_days)
        if tr.min_days_since_first_issue:
            text += f", and the first issue at least {days(tr.min_days_since_first_issue)} ago"
        out.append(b + text)
    if rule.at_risk is not None:
        out.append(f"{b}at risk (denominator): {predicate_words(rule.at_risk)}")
    if rule.hazard is not None:
        out.append(f"{b}flagged (numerator): {predicate_words(rule.hazard)}")
    if rule.reason:
        out.append(f'{b}reason shown: "{rule.reason}"')
    if rule.kind == "monitoring":
        if rule.exclusions:
            for e in rule.exclusions:
                flag = " (ASSUMPTION)" if e.assumption else ""
                window = days(e.lookback_days)
                out.append(f"{b}excluded: a `{e.codelist}` event in the last {window}{flag}")
        else:
            out.append(f"{b}exclusions: none (see assumptions)")
    if rule.kind == "specialist":
        out.append(f"{b}listed as specialist-monitored; never flagged overdue")
    out.append("")

    if rule.tests:
        out.append("Tests:")
        for t in rule.tests:
            out.append(
                f"{b}{rule.id}.{t.id} — {t.title} (codelist `{t.codelist}`): "
                f"{schedule_words(t)} [source: {t.source}]"
            )
            sub = "  - " if md else "    "
            for th in t.thresholds:
                out.append(f"{sub}out of range: {threshold_words(th)}")
        out.append("")

    if rule.assumptions:
        out.append("Assumptions (ours, not a source's; each is in the hazard log):")
        out.extend(f"{b}{a}" for a in rule.assumptions)
        out.append("")

    out.append("Sources:")
    for s in rule.sources:
        out.append(f"{b}[{s.id}] {s.citation}" + (f" {s.url}" if s.url else " (no URL)"))
    out.append("")

    out.append("Codelists:")
    for name in sorted(rule.all_codelist_names()):
        out.append(b + _codelist_line(name, cat.codelists.get(name)))
    out.append("")
    r = rule.review
    out.append(
        f"Review: authored by {r.authored_by}; clinically checked by "
        f"{r.checked_by or 'NOBODY YET'}; reviewed {r.date_reviewed}; next review {r.next_review}."
    )
    return "\n".join(out).rstrip() + "\n"


def describe_rule(rule_id: str, codelists_dir: Path | None = None) -> str:
    """A rule (by rule id, or by one of its rule_ids such as methotrexate.fbc) in words."""
    cat = load_catalogue(codelists_dir)
    return rule_text(_find(cat, rule_id), cat)


def _catalogue_lines(cat: Catalogue) -> list[tuple[str, str, str, str, str]]:
    rows = []
    for r in cat.rules:
        if r.kind == "monitoring":
            for t in r.tests:
                rows.append(
                    (f"{r.id}.{t.id}", r.kind, r.group, f"{r.title}: {t.title}", short_schedule(t))
                )
        elif r.kind == "specialist":
            rows.append((r.id, r.kind, r.group, r.title, "never flagged"))
        else:
            rows.append((r.id, r.kind, r.group, r.title, "-"))
    return rows


def describe_catalogue(codelists_dir: Path | None = None) -> str:
    """One line per rule_id: id, kind, group, title, intervals (≤until:every/maintenance days)."""
    cat = load_catalogue(codelists_dir)
    rows = _catalogue_lines(cat)
    w = [max(len(row[i]) for row in rows) for i in range(3)]
    lines = [
        f"{rid:<{w[0]}}  {kind:<{w[1]}}  {group:<{w[2]}}  {title}  [{sched}]"
        for rid, kind, group, title, sched in rows
    ]
    return "\n".join(lines) + "\n"


def rules_markdown() -> str:
    """docs/rules.md: generated from the shipped rules and codelists; a test keeps it up to date."""
    cat = load_catalogue()
    out = [
        "# The rule catalogue",
        "",
        "Generated by `python -m rxwatch.rules.describe --markdown` from "
        "`src/rxwatch/rules/catalogue/` and `src/rxwatch/rules/codelists/`. Do not edit by hand. "
        "The meaning of each field is in the clinical catalogue (`clinical/catalogue.md`); the "
        "source of every code is in `src/rxwatch/rules/codelists/codelists.yaml`.",
        "",
        "No rule has yet been checked by a clinician (`checked_by` is empty in every rule file).",
        "",
        "Intervals below: `≤42:14/≤133:28/84d` means every 14 days up to day 42 since the first "
        "issue, every 28 days up to day 133, then every 84 days.",
        "",
        "## Summary",
        "",
        "| rule_id | kind | group | title | intervals |",
        "|---|---|---|---|---|",
    ]
    for rid, kind, group, title, sched in _catalogue_lines(cat):
        out.append(f"| {rid} | {kind} | {group} | {title} | {sched} |")
    out += ["", "## Rules", ""]
    for rule in cat.rules:
        out.append(rule_text(rule, cat, md=True))
    out += ["## Codelists", "", "| codelist | system | codes | replace with |", "|---|---|---|---|"]
    for name, cl in sorted(cat.codelists.items()):
        out.append(f"| {name} | {cl.coding_system} | {len(cl)} | {cl.source or ''} |")
    return "\n".join(out).rstrip() + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rxwatch.rules.describe", description=__doc__)
    parser.add_argument("--markdown", action="store_true", help="write docs/rules.md")
    parser.add_argument("--out", type=Path, default=DOCS_PATH, help="where to write the Markdown")
    args = parser.parse_args(argv)
    if args.markdown:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(rules_markdown(), encoding="utf-8")
        print(f"wrote {args.out}")
    else:
        print(describe_catalogue(), end="")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
