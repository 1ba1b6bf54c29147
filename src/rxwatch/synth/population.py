"""A seeded synthetic population of GP practices, written as a canonical extract (CSV, Parquet, FHIR).

Why this exists: every rule needs realistic work (patients in initiation phases, overdue tests, results
out of range, PINCER hazards, unrecorded diagnoses, shared care, deaths and leavers) at sizes from a test
(thousands) to a benchmark (1M patients, ~50M rows), with no real person represented.

How it stays fast and reproducible:

* everything is NumPy over column arrays, per chunk of at most ``CHUNK`` patients of one practice; the
  only Python loops run over drugs, panels and test *rounds* (tens), never over patients or rows;
* each chunk draws from its own stream, ``SeedSequence(seed, spawn_key=(practice, chunk))``, so output
  is byte-identical for the same arguments whatever the machine;
* a background thread writes chunk *k* (pyarrow's CSV / Parquet writers release the GIL) while the main
  thread generates chunk *k + 1*.

Parameters and their sources are in ``params.py`` and docs/synthetic-population.md. Codes come only
from the shipped codelists (``load_codelists()``), chosen by ``codes.CodeBook``.
"""

from __future__ import annotations

import ctypes
import datetime as dt
import itertools
import logging
import multiprocessing
import os
import time
from collections import deque
from collections.abc import Iterator, Mapping
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from rxwatch.errors import RxWatchError
from rxwatch.synth import params as P
from rxwatch.synth.codes import CodeBook
from rxwatch.synth.nhs import synthetic_nhs_numbers

if TYPE_CHECKING:
    from rxwatch.synth.write import Renderer

log = logging.getLogger(__name__)

NEVER = 2**40  # a day number after any end of record
PARALLEL_FROM = 100_000  # below this, worker start-up costs more than it saves
CHUNK = 25_000  # patients per generated chunk: bounds memory (~1.3M rows) whatever the list size
EPOCH = dt.date(1970, 1, 1)
YEAR = 365.25
COMPARATORS = ("<", ">", "<=", ">=")
SEXES = ("F", "M", "U")
DRUG_PANEL_NAMES = {
    "methotrexate", "leflunomide", "azathioprine", "mercaptopurine", "sulfasalazine", "mycophenolate",
}  # fmt: skip


class SynthError(RxWatchError):
    """Bad arguments to the generator, or codelists it cannot work with."""


def _days(d: dt.date) -> int:
    return (d - EPOCH).days


def _interp(knots: P.Knots, age: np.ndarray) -> np.ndarray:
    if not knots:
        return np.zeros(len(age))
    xs, ys = zip(*knots, strict=True)
    return np.interp(age, xs, ys)


def _sex_factor(female_ratio: float, sex: np.ndarray) -> np.ndarray:
    """Multiplier keeping the all-sex mean while making females ``female_ratio`` × as likely."""
    f = 2 * female_ratio / (1 + female_ratio)
    m = 2 / (1 + female_ratio)
    return np.select([sex == 0, sex == 1], [f, m], 1.0)


# --- output rows -----------------------------------------------------------------------------------


# compact column types: half the memory traffic of int64 in the sort and gather of every row
DTYPES = {
    "pid": np.int32, "date": np.int32, "code": np.int32, "qty": np.float64, "days": np.int16,
    "value": np.float64, "unit": np.int8, "comp": np.int8,
}  # fmt: skip
MISSING = {"value": np.nan, "unit": -1, "comp": -1}


@dataclass
class Rows:
    """Column arrays of one table for one chunk, appended in parts and joined once."""

    names: tuple[str, ...]
    parts: dict[str, list[np.ndarray]] = field(default_factory=dict)

    def add(self, **cols: np.ndarray | float) -> None:
        n = len(cols["pid"])  # type: ignore[arg-type]
        for name in self.names:
            col = cols.get(name, MISSING.get(name))
            if np.ndim(col) == 0:
                col = np.full(n, col, dtype=DTYPES[name])
            self.parts.setdefault(name, []).append(np.asarray(col, dtype=DTYPES[name]))

    def join(self) -> dict[str, np.ndarray]:
        return {
            k: np.concatenate(self.parts[k]) if self.parts.get(k) else np.empty(0, DTYPES[k])
            for k in self.names
        }


# --- set-up shared by all chunks -------------------------------------------------------------------


@dataclass
class Panel:
    name: str
    analytes: list[tuple[str, np.ndarray, int]]  # (analyte, code indices, unit index)
    test_codes: np.ndarray  # a bare test code, when no analyte code is in the test's list


@dataclass
class Context:
    """What every chunk needs: the as-of date, the chosen codes, the units."""

    as_of: int
    book: CodeBook
    drugs: list[tuple[P.Drug, np.ndarray]]  # drugs whose codelist is shipped, with product codes
    per_day: dict[str, np.ndarray]  # drug → units a day of each product (quantity = days × this)
    panels: dict[str, Panel]
    diagnoses: dict[str, np.ndarray]
    asthma_resolved: np.ndarray
    shared_care: np.ndarray
    valproate_ppp: np.ndarray
    units: list[str]
    missing: list[str]

    @classmethod
    def build(cls, as_of: dt.date, codelists: Mapping[str, object]) -> Context:
        book = CodeBook.from_codelists(codelists)
        units = sorted({a.unit for a in P.ANALYTES.values() if a.unit})
        drugs = [
            (d, book.pick(d.codelist, d.products, drug=True, hints=P.HINTS.get(d.codelist, ())))
            for d in P.DRUGS
            if book.has(d.codelist)
        ]
        panels: dict[str, Panel] = {}
        for name, (test, analytes) in P.PANELS.items():
            chosen = []
            for a in analytes:
                spec = P.ANALYTES[a]
                has, lacks = (
                    (("cholesterol",), ("hdl", "ldl", "ratio")) if a == "lipids" else ((), ())
                )
                if a == "systolic-bp":
                    has = ("systolic",)
                idx = book.pick(spec.codelist, 1, prefer=(test,), term_has=has, term_lacks=lacks)
                if len(idx):
                    unit = units.index(spec.unit) if spec.unit else -1
                    chosen.append((a, idx, unit))
            in_test = any(book.in_list(idx, test).all() for _, idx, _ in chosen if book.has(test))
            test_codes = (
                book.pick(test, 1) if book.has(test) and not in_test else np.empty(0, np.int32)
            )
            if chosen or len(test_codes):
                panels[name] = Panel(name, chosen, test_codes)
        diagnoses = {
            c.name: book.pick(
                c.codelist, 4 if c.name == "ckd" else 1, hints=P.HINTS.get(c.codelist, ())
            )
            for c in P.CONDITIONS
            if c.codelist and book.has(c.codelist)
        }
        wanted = (
            [d.codelist for d in P.DRUGS]
            + [a.codelist for a in P.ANALYTES.values()]
            + [t for t, _ in P.PANELS.values()]
            + [c.codelist for c in P.CONDITIONS if c.codelist]
            + ["asthma-resolved", "secondary-care-monitoring", "valproate-ppp"]
        )
        per_day = {
            d.codelist: np.array([_per_day(d, book.code_terms[i]) for i in products], float)
            for d, products in drugs
        }
        return cls(
            as_of=_days(as_of),
            book=book,
            drugs=drugs,
            per_day=per_day,
            panels=panels,
            diagnoses=diagnoses,
            asthma_resolved=book.pick("asthma-resolved", 1),
            shared_care=book.pick("secondary-care-monitoring", 2),
            valproate_ppp=book.pick("valproate-ppp", 1),
            units=units,
            missing=book.missing(sorted(set(wanted))),
        )


def _products(rng: np.random.Generator, k: int, n: int) -> np.ndarray:
    """Which of ``k`` products each of ``n`` users gets: the everyday one most often (½, ¼, …)."""
    w = 0.5 ** np.arange(k)
    return rng.choice(k, n, p=w / w.sum())


def _per_day(drug: P.Drug, term: str) -> float:
    low = term.lower()
    return next((v for k, v in P.PER_DAY.items() if k in low), drug.per_day)


@dataclass
class Practices:
    ods: list[str]
    names: list[str]
    pcns: list[str]
    sizes: np.ndarray
    tilts: np.ndarray


def _practices(n_patients: int, n_practices: int, rng: np.random.Generator) -> Practices:
    """List sizes 3k-20k summing to N (when N / P allows it), names and PCNs of 3-6 practices."""
    lo, hi = P.PRACTICE_SIZE
    raw = np.exp(rng.normal(np.log(P.PRACTICE_SIZE_MEDIAN), 0.45, n_practices))
    s = raw.copy()
    if lo * n_practices <= n_patients <= hi * n_practices:
        for _ in range(50):
            s = np.clip(s * n_patients / s.sum(), lo, hi)
    s = s * n_patients / s.sum()
    sizes = np.floor(s).astype(np.int64)
    rest = n_patients - sizes.sum()
    sizes[np.argsort(-(s - sizes), kind="stable")[:rest]] += 1
    if (sizes < 1).any():
        raise SynthError("--patients must be at least --practices")
    combos = [(a, b) for b in P.NAME_SECOND for a in P.NAME_FIRST]
    order = rng.permutation(len(combos))
    kinds = rng.integers(0, len(P.NAME_KIND), n_practices)
    names = []
    for i in range(n_practices):
        first, second = combos[order[i % len(combos)]]
        extra = f" {i // len(combos) + 1}" if i >= len(combos) else ""
        names.append(f"{first} {second}{extra} {P.NAME_KIND[kinds[i]]}{P.SYNTHETIC_SUFFIX}")
    pcns: list[str] = []
    while len(pcns) < n_practices:
        k = len({p for p in pcns})
        base = P.PCN_NAMES[k % len(P.PCN_NAMES)]
        label = base if k < len(P.PCN_NAMES) else f"{base} {k // len(P.PCN_NAMES) + 1}"
        pcns += [f"{label} PCN{P.SYNTHETIC_SUFFIX}"] * int(rng.integers(3, 7))
    ods = [f"{P.ODS_PREFIX}{i + 1:04d}" for i in range(n_practices)]
    tilts = rng.normal(0, P.PRACTICE_AGE_TILT_SD, n_practices)
    return Practices(ods, names, pcns[:n_practices], sizes, tilts)


# --- one chunk -------------------------------------------------------------------------------------


@dataclass
class People:
    """Per-patient arrays of one chunk (local index = position)."""

    n: int
    sex: np.ndarray  # 0 F, 1 M, 2 U
    age: np.ndarray  # years (float) at the as-of date
    dob: np.ndarray  # days since epoch
    end: np.ndarray  # last day of record: death, leaving, or the as-of date
    lo: np.ndarray  # first day of the extract window for this patient
    dod: np.ndarray  # -1 when alive
    reg_end: np.ndarray  # -1 when registered
    cond: dict[str, np.ndarray]  # latent condition → bool
    coded: dict[str, np.ndarray]  # condition → has a diagnosis code
    base: dict[str, np.ndarray] = field(default_factory=dict)  # result baselines
    on: dict[str, np.ndarray] = field(default_factory=dict)  # drug → currently treated (bool)
    ever: dict[str, np.ndarray] = field(default_factory=dict)  # drug → any issue in window
    dmard: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))  # on any DMARD


def _people(n: int, tilt: float, T: int, rng: np.random.Generator) -> People:
    bands = np.array(P.AGE_BANDS)
    w = np.array(P.BAND_COUNTS, dtype=float) * np.exp(tilt * (bands + 2.5 - 40) / 40)
    band = rng.choice(len(bands), n, p=w / w.sum())
    u = rng.random(n)
    sex = np.where(u < np.array(P.BAND_FEMALE)[band], 0, 1)
    sex[rng.random(n) < P.SEX_UNKNOWN] = 2
    years = bands[band] + rng.random(n) * 5
    old = band == len(bands) - 1
    years[old] = 90 + np.minimum(rng.exponential(4.0, old.sum()), 14.9)
    age_days = np.floor(years * YEAR).astype(np.int64)
    dob = T - age_days
    age = age_days / YEAR
    q = np.minimum(0.3, 0.0015 * np.exp(0.0877 * (age - 40)))
    died = rng.random(n) < q
    left = (rng.random(n) < P.DEREG_SHARE) & ~died
    when = T - rng.integers(1, P.DEATHS_WITHIN_DAYS + 1, n)
    when = np.maximum(when, dob + 1)
    dod = np.where(died, when, -1)
    reg_end = np.where(left, when, -1)
    end = np.where(died | left, when, T)
    lo = np.maximum(T - P.HISTORY_DAYS, dob)
    cond: dict[str, np.ndarray] = {}
    coded: dict[str, np.ndarray] = {}
    for c in P.CONDITIONS:
        p = _interp(c.knots, age) * _sex_factor(c.female, sex)
        cond[c.name] = rng.random(n) < p
        coded[c.name] = cond[c.name] & (rng.random(n) < c.coded)
    return People(n, sex, age, dob, end, lo, dod, reg_end, cond, coded)


def _baselines(pp: People, rng: np.random.Generator) -> None:
    """Each patient's usual result values, so repeated tests look like one person's."""
    n, age, male = pp.n, pp.age, pp.sex == 1
    ckd = pp.cond["ckd"]
    mu = 120 - 0.75 * np.maximum(age - 20, 0)
    egfr = np.maximum(mu + rng.normal(0, 12, n), 61)
    egfr[ckd] = np.maximum(59 - rng.gamma(2.0, 7.0, ckd.sum()), 12)
    hba1c = np.clip(rng.normal(36 + 0.05 * np.maximum(age - 40, 0), 3.0, n), 28, 46)
    dm = pp.cond["diabetes"]
    hba1c[dm & pp.coded["diabetes"]] = np.clip(rng.normal(56, 10, n), 38, 110)[
        dm & pp.coded["diabetes"]
    ]
    hidden = dm & ~pp.coded["diabetes"]
    hba1c[hidden] = np.clip(rng.normal(*P.UNRECORDED_DM_HBA1C, hidden.sum()), 49, 80)
    weight = np.where(male, rng.normal(85, 15, n), rng.normal(72, 15, n))
    weight = np.clip(weight, 40, 180)
    pp.base = {
        "egfr": egfr,
        "hba1c": hba1c,
        "weight": weight,
        "wbc": np.exp(rng.normal(np.log(6.8), 0.2, n)),
        "platelets": np.clip(rng.normal(260, 55, n), 150, 450),
        "alt": np.exp(rng.normal(np.log(np.where(male, 24, 17)), 0.35, n)),
        "albumin": np.clip(rng.normal(42, 3, n), 33, 50),
        "potassium": rng.normal(4.3, 0.25, n),
        "tsh": np.exp(rng.normal(np.log(1.8), 0.4, n)),
        "lipids": np.clip(rng.normal(5.0, 0.9, n), 2.8, 8.5),
        "sbp": rng.normal(118 + 0.45 * np.maximum(age - 30, 0), 11, n)
        + 8 * pp.cond["hypertension"],
        "lithium": np.clip(rng.normal(0.65, 0.1, n), 0.45, 0.95),
    }


@dataclass
class Chunk:
    pp: People
    ctx: Context
    rng: np.random.Generator
    meds: Rows = field(default_factory=lambda: Rows(("pid", "date", "code", "qty", "days")))
    events: Rows = field(
        default_factory=lambda: Rows(("pid", "date", "code", "value", "unit", "comp"))
    )

    # --- medication issues ---------------------------------------------------------------------

    def drugs(self) -> None:
        pp, rng = self.pp, self.rng
        n = pp.n
        excl_u: dict[str, np.ndarray] = {}
        excl_used: dict[str, np.ndarray] = {}
        for drug, products in self.ctx.drugs:
            p = _interp(drug.knots, pp.age) * _sex_factor(drug.female, pp.sex)
            keep = 1 - p
            for cname, pc in drug.drivers:
                keep = keep * (1 - pc * pp.cond[cname])
            p = (1 - keep) * self._modifier(drug.codelist)
            if drug.codelist == "ppi":
                p = 1 - (1 - p) * (1 - P.PPI_GASTROPROTECT * self._gi_risk())
            p_ever = np.minimum(p / (1 - drug.stopped), 1.0)
            if drug.exclusive:
                u = excl_u.setdefault(drug.exclusive, rng.random(n))
                used = excl_used.setdefault(drug.exclusive, np.zeros(n))
                ever = (u >= used) & (u < used + p_ever)
                excl_used[drug.exclusive] = used + p_ever
            else:
                ever = rng.random(n) < p_ever
            ever &= pp.age >= 1
            idx = np.flatnonzero(ever)
            stopped = rng.random(len(idx)) < drug.stopped
            first, last_on, fresh = self._issues(drug, products, idx, stopped)
            on = np.zeros(n, bool)
            on[idx[~stopped]] = True
            pp.on[drug.codelist] = on
            pp.ever[drug.codelist] = ever
            if drug.codelist in DRUG_PANEL_NAMES:
                pp.dmard = self._on_dmard()
            if drug.acute_rate:
                self._acute(drug, products, ever)
            # shared care with hospital monitoring: only where the practice has a code to say so
            hospital = np.zeros(len(idx), bool)
            if drug.shared_care and len(self.ctx.shared_care):
                hospital = ~stopped & (rng.random(len(idx)) < drug.shared_care)
                self._shared_care(idx[hospital])
            if drug.schedules and len(idx):
                self._monitoring(drug, idx, first, last_on, fresh, hospital)
            if drug.codelist == "valproate":
                self._valproate_ppp(idx[~stopped])

    def _on_dmard(self) -> np.ndarray:
        dmard = np.zeros(self.pp.n, bool)
        for name in DRUG_PANEL_NAMES:
            if name in self.pp.on:
                dmard |= self.pp.on[name]
        return dmard

    def _modifier(self, name: str) -> np.ndarray | float:
        pp = self.pp
        no = np.zeros(pp.n, bool)
        oac = pp.ever.get("doac", no) | pp.ever.get("warfarin", no)
        if name == "aspirin":
            return np.where(oac, P.ASPIRIN_ON_OAC, 1.0)
        if name == "nsaid-oral":
            return np.where(oac | pp.cond["hf"] | pp.cond["ckd"], P.NSAID_AVOID, 1.0)
        if name == "beta-blocker-non-selective":
            return np.where(pp.cond["asthma"], P.NSBB_IN_ASTHMA, 1.0)
        return 1.0

    def _gi_risk(self) -> np.ndarray:
        """Who a prescriber would give a PPI for gastroprotection (NSAID ≥ 65, OAC, antiplatelet)."""
        pp, no = self.pp, np.zeros(self.pp.n, bool)
        return (
            (pp.ever.get("nsaid-oral", no) & (pp.age >= 65))
            | pp.ever.get("doac", no)
            | pp.ever.get("warfarin", no)
            | pp.ever.get("aspirin", no)
            | pp.ever.get("antiplatelet-non-aspirin", no)
        )

    def _issues(
        self, drug: P.Drug, products: np.ndarray, idx: np.ndarray, stopped: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Repeat issues every 28-84 days, anchored so current users have an issue in the last 75
        days; some start inside the window (initiation), some stop, ~3% of issues are missed.
        Returns each user's first issue in the window, the end of their time on the drug, and
        whether they started inside the window (so are or were in initiation phases)."""
        pp, rng, T = self.pp, self.rng, self.ctx.as_of
        m = len(idx)
        lo, end = pp.lo[idx], pp.end[idx]
        cycle = rng.choice(np.array(drug.cycles), m, p=np.array(drug.cycle_p))
        new = rng.random(m) < drug.new
        start = np.where(
            new,
            T - rng.integers(0, drug.new_within, m),
            lo - rng.integers(0, 3650, m),
        )
        stop_at = T - rng.integers(91, P.HISTORY_DAYS, m)
        start = np.where(stopped, np.minimum(start, stop_at - rng.integers(28, 1500, m)), start)
        start = np.maximum(start, pp.dob[idx] + 365)
        end_issue = np.where(stopped, np.minimum(stop_at, end), end)
        first_allowed = np.maximum(start, lo)
        last = end_issue - rng.integers(0, 76, m) % cycle
        last = np.clip(last, first_allowed, None)
        valid = first_allowed <= end_issue
        count = np.where(valid, (last - first_allowed) // cycle + 1, 0)
        first = last - (count - 1) * cycle
        rep = np.repeat(np.arange(m), count)
        k = np.arange(len(rep)) - np.repeat(np.cumsum(count) - count, count)
        inner = (k > 0) & (k < count[rep] - 1)
        jitter = np.where(inner, rng.integers(-4, 5, len(rep)), 0)
        date = last[rep] - k * cycle[rep] + jitter
        keep = ~(inner & (rng.random(len(rep)) < 0.03))
        product = _products(rng, len(products), m)
        qty = np.round(cycle * self.ctx.per_day[drug.codelist][product])
        self.meds.add(
            pid=idx[rep][keep],
            date=date[keep],
            code=products[product][rep][keep],
            qty=qty[rep][keep],
            days=cycle[rep][keep],
        )
        last_on = np.where(stopped, last + cycle, end)
        first = np.where(valid, first, NEVER)  # no issues: no monitoring
        return first, last_on, start > lo

    def _acute(self, drug: P.Drug, products: np.ndarray, repeat_users: np.ndarray) -> None:
        pp, rng = self.pp, self.rng
        years = (pp.end - pp.lo) / YEAR
        lam = (
            drug.acute_rate * years * (pp.age >= 18) * ~repeat_users * self._modifier(drug.codelist)
        )
        count = rng.poisson(np.clip(lam, 0, None))
        pid = np.repeat(np.arange(pp.n), count)
        date = pp.lo[pid] + (rng.random(len(pid)) * (pp.end[pid] - pp.lo[pid] + 1)).astype(np.int64)
        days = 14 if drug.codelist == "nsaid-oral" else 28
        product = _products(rng, len(products), len(pid))
        self.meds.add(
            pid=pid,
            date=date,
            code=products[product],
            qty=np.round(days * self.ctx.per_day[drug.codelist][product]),
            days=np.full(len(pid), days),
        )

    # --- monitoring ----------------------------------------------------------------------------

    def _monitoring(
        self,
        drug: P.Drug,
        idx: np.ndarray,
        first: np.ndarray,
        last_on: np.ndarray,
        fresh: np.ndarray,
        hospital: np.ndarray,
    ) -> None:
        """Test rounds from the first issue, at the schedule's interval × the patient's adherence.

        Patients monitored by the hospital have few results in the GP record (the poorest class)."""
        pp, rng = self.pp, self.rng
        m = len(idx)
        shares = np.array([s for s, _, _ in P.ADHERENCE] + [P.NEVER_TESTED])
        cls = rng.choice(len(shares), m, p=shares / shares.sum())
        cls = np.where(hospital, len(P.ADHERENCE) - 1, cls)
        lo_f = np.array([lo for _, lo, _ in P.ADHERENCE] + [1.0])[cls]
        hi_f = np.array([hi for _, _, hi in P.ADHERENCE] + [1.0])[cls]
        tested = cls < len(P.ADHERENCE)
        window_lo = pp.lo[idx]
        end = np.minimum(last_on, pp.end[idx])
        for sched in drug.schedules:
            maint = np.full(m, sched.maintenance or 0, dtype=np.int64)
            if drug.elderly_interval:
                maint = np.where(pp.age[idx] >= 75, drug.elderly_interval, maint)
                maint = np.where(pp.cond["ckd"][idx], 91, maint)
            first_gap = maint if sched.maintenance else np.full(m, sched.phases[-1][1])
            # long-standing users are past their initiation phases whatever the window shows
            origin = np.where(fresh, first, first - 100_000)
            d = np.where(
                fresh,
                first - rng.integers(0, 15, m),
                first - (rng.random(m) * first_gap * hi_f).astype(np.int64),
            )
            act = np.flatnonzero(tested & (d <= end))
            dates, who = [], []
            while len(act):
                dd = d[act]
                ok = dd >= window_lo[act]
                dates.append(dd[ok])
                who.append(act[ok])
                since = dd - origin[act]
                interval = maint[act].copy()
                for until, iv in reversed(sched.phases):
                    interval = np.where(since <= until, iv, interval)
                f = lo_f[act] + rng.random(len(act)) * (hi_f[act] - lo_f[act])
                gap = np.maximum(np.round(interval * f), 1).astype(np.int64)
                alive = interval > 0
                d[act] = dd + gap
                act = act[alive & (d[act] <= end[act])]
            if dates:
                who_all = np.concatenate(who)
                self.visit(idx[who_all], np.concatenate(dates), sched.panels)

    def _shared_care(self, idx: np.ndarray) -> None:
        """A "monitoring by hospital" code within the last year (and often an older one)."""
        rng, T = self.rng, self.ctx.as_of
        sc = idx[self.pp.end[idx] == T]
        codes = self.ctx.shared_care
        self.events.add(pid=sc, date=T - rng.integers(0, 330, len(sc)), code=codes[0])
        older = sc[rng.random(len(sc)) < 0.5]
        self.events.add(
            pid=older, date=T - rng.integers(366, P.HISTORY_DAYS, len(older)), code=codes[-1]
        )

    def _valproate_ppp(self, idx: np.ndarray) -> None:
        if not len(self.ctx.valproate_ppp):
            return
        pp, rng, T = self.pp, self.rng, self.ctx.as_of
        women = idx[(pp.sex[idx] == 0) & (pp.age[idx] >= 12) & (pp.age[idx] < 56)]
        u = rng.random(len(women))
        recent, older = (
            u < P.VALPROATE_PPP[0],
            (u >= P.VALPROATE_PPP[0]) & (u < sum(P.VALPROATE_PPP)),
        )
        code = self.ctx.valproate_ppp[0]
        self.events.add(pid=women[recent], date=T - rng.integers(0, 365, recent.sum()), code=code)
        self.events.add(pid=women[older], date=T - rng.integers(366, 800, older.sum()), code=code)

    # --- results -------------------------------------------------------------------------------

    def visit(self, pid: np.ndarray, date: np.ndarray, panels: tuple[str, ...]) -> None:
        """One blood draw or clinic check per (pid, date): every analyte of every panel, with values."""
        keep = date <= self.pp.end[pid]
        pid, date = pid[keep], date[keep]
        for name in panels:
            panel = self.ctx.panels.get(name)
            if panel is None:
                continue
            for analyte, codes, unit in panel.analytes:
                sel = slice(None)
                if analyte == "ast":
                    sel = self.rng.random(len(pid)) < P.AST_SHARE
                p, d = pid[sel], date[sel]
                value, comp = self._values(analyte, p)
                self.events.add(pid=p, date=d, code=codes[0], value=value, unit=unit, comp=comp)
            if len(panel.test_codes):
                self.events.add(pid=pid, date=date, code=panel.test_codes[0])

    def _values(self, analyte: str, pid: np.ndarray) -> tuple[np.ndarray, np.ndarray | int]:
        pp, rng = self.pp, self.rng
        b = pp.base
        n = len(pid)
        comp: np.ndarray | int = -1
        dmard = pp.dmard[pid]
        lognorm = rng.normal(0, 1, n)
        if analyte in ("egfr", "creatinine"):
            egfr = b["egfr"][pid] * (1 + 0.06 * lognorm)
            if analyte == "egfr":
                value = np.round(egfr)
                over = value > P.EGFR_REPORTED_MAX
                value[over] = P.EGFR_REPORTED_MAX
                comp = np.where(over, COMPARATORS.index(">"), -1)
            else:
                value = _creatinine(egfr, pp.age[pid], pp.sex[pid])
        elif analyte in ("wbc", "neutrophils"):
            value = b["wbc"][pid] * np.exp(0.12 * lognorm)
            low = dmard & (rng.random(n) < P.DMARD_LOW_COUNTS)
            value[low] = rng.uniform(2.4, 3.4, low.sum())
            if analyte == "neutrophils":
                value = value * rng.uniform(0.5, 0.68, n)
        elif analyte == "platelets":
            value = b["platelets"][pid] * np.exp(0.08 * lognorm)
            low = dmard & (rng.random(n) < P.DMARD_LOW_COUNTS / 2)
            value[low] = rng.uniform(95, 138, low.sum())
        elif analyte in ("alt", "ast"):
            value = b["alt"][pid] * np.exp(0.2 * lognorm) * (0.9 if analyte == "ast" else 1.0)
            high = dmard & (rng.random(n) < P.DMARD_HIGH_ALT)
            value[high] = rng.uniform(101, 240, high.sum())
        elif analyte == "albumin":
            value = b["albumin"][pid] + 1.5 * lognorm
        elif analyte == "potassium":
            value = b["potassium"][pid] + 0.25 * lognorm
            spiro = pp.on.get("spironolactone", np.zeros(pp.n, bool))[pid]
            value = value + 0.2 * spiro
            high = spiro & (rng.random(n) < P.SPIRO_HIGH_K)
            value[high] = rng.uniform(5.6, 6.3, high.sum())
            low_k = pp.on.get("digoxin", np.zeros(pp.n, bool)) | pp.on.get(
                "loop-diuretic", np.zeros(pp.n, bool)
            )
            low = low_k[pid] & (rng.random(n) < P.DIGOXIN_LOW_K)
            value[low] = rng.uniform(2.9, 3.4, low.sum())
        elif analyte == "lithium-level":
            value = b["lithium"][pid] + 0.08 * lognorm
            u = rng.random(n)
            value = np.where(u < P.LITHIUM_HIGH, rng.uniform(1.01, 1.5, n), value)
            value = np.where(
                (u >= P.LITHIUM_HIGH) & (u < P.LITHIUM_HIGH + P.LITHIUM_LOW),
                rng.uniform(0.15, 0.39, n),
                value,
            )
        elif analyte == "tsh":
            levo = pp.on.get("levothyroxine", np.zeros(pp.n, bool))[pid]
            value = b["tsh"][pid] * np.exp((0.25 + 0.5 * levo) * lognorm)
            amio = pp.on.get("amiodarone", np.zeros(pp.n, bool))[pid]
            high = amio & (rng.random(n) < P.AMIODARONE_HIGH_TSH)
            value[high] = rng.uniform(10.5, 25, high.sum())
        elif analyte == "calcium":
            value = 2.36 + 0.08 * lognorm
        elif analyte == "inr":
            warf = pp.on.get("warfarin", np.zeros(pp.n, bool))[pid]
            value = np.where(warf, 2.5 + 0.45 * lognorm, 1.0 + 0.06 * lognorm)
            value = np.clip(value, 0.9, 7.5)
        elif analyte == "hba1c":
            base = b["hba1c"][pid]
            value = base + 2.5 * lognorm
            hidden = pp.cond["diabetes"][pid] & ~pp.coded["diabetes"][pid]
            value = np.where(hidden, np.maximum(value, 48), value)
            value = np.where(~pp.cond["diabetes"][pid], np.minimum(value, 47), value)
            value = np.clip(value, 25, 130)
        elif analyte == "lipids":
            value = b["lipids"][pid] + 0.3 * lognorm
        elif analyte == "systolic-bp":
            value = b["sbp"][pid] + 9 * lognorm
        elif analyte == "weight":
            value = b["weight"][pid] + 1.2 * lognorm
        else:  # pragma: no cover - every analyte of PANELS is handled above
            raise AssertionError(analyte)
        value = np.clip(value, *P.LIMITS[analyte])
        scale = 10.0 ** P.ANALYTES[analyte].decimals
        return np.round(value * scale) / scale, comp

    # --- background: diagnoses, routine tests, clinic checks -------------------------------------

    def diagnoses(self) -> None:
        pp, rng, T = self.pp, self.rng, self.ctx.as_of
        for cname, codes in self.ctx.diagnoses.items():
            who = np.flatnonzero(pp.coded[cname])
            onset_min = 3 if cname == "asthma" else 18
            span = np.maximum(
                np.minimum((pp.age[who] - onset_min) * YEAR, P.DIAGNOSIS_MAX_YEARS * YEAR), 30
            ).astype(np.int64)
            date = np.minimum(T - (rng.random(len(who)) * span).astype(np.int64), pp.end[who])
            if cname == "ckd":  # the stage code that matches the patient's usual eGFR
                egfr = pp.base["egfr"][who]
                stage = np.select([egfr >= 45, egfr >= 30, egfr >= 15], [0, 1, 2], 3)
                code = codes[np.minimum(stage, len(codes) - 1)]
            else:
                code = codes[rng.integers(0, len(codes), len(who))]
            self.events.add(pid=who, date=date, code=code)
            if cname == "asthma" and len(self.ctx.asthma_resolved):
                res = rng.random(len(who)) < P.ASTHMA_RESOLVED
                room = np.maximum(T - date[res] - 365, 0)
                r_date = date[res] + 365 + (rng.random(res.sum()) * room).astype(np.int64)
                ok = r_date <= pp.end[who[res]]
                self.events.add(pid=who[res][ok], date=r_date[ok], code=self.ctx.asthma_resolved[0])

    def routine(self) -> None:
        """Bloods and clinic checks that real records carry whatever the drugs (the row volume)."""
        pp, rng = self.pp, self.rng
        years = (pp.end - pp.lo) / YEAR
        adult = pp.age >= 18
        for rates, extra, panels in (
            (P.ROUTINE_BLOODS, P.ROUTINE_BLOODS_EXTRA, P.ROUTINE_PANELS),
            (P.CLINIC_CHECKS, P.CLINIC_CHECKS_EXTRA, P.CLINIC_PANELS),
        ):
            lam = _interp(rates, pp.age)
            for cname, add in extra:
                lam = lam + add * pp.cond[cname]
            count = rng.poisson(lam * years * adult)
            pid = np.repeat(np.arange(pp.n), count)
            date = pp.lo[pid] + (rng.random(len(pid)) * (pp.end[pid] - pp.lo[pid] + 1)).astype(
                np.int64
            )
            for name, share in panels:
                sel = rng.random(len(pid)) < share
                self.visit(pid[sel], date[sel], (name,))
        dm = np.flatnonzero(pp.coded["diabetes"])
        count = rng.poisson(P.DIABETES_HBA1C_PER_YEAR * years[dm])
        pid = np.repeat(dm, count)
        date = pp.lo[pid] + (rng.random(len(pid)) * (pp.end[pid] - pp.lo[pid] + 1)).astype(np.int64)
        self.visit(pid, date, ("hba1c",))


def _creatinine(egfr: np.ndarray, age: np.ndarray, sex: np.ndarray) -> np.ndarray:
    """Serum creatinine (µmol/L) consistent with an eGFR, by inverting CKD-EPI 2009."""
    female = sex == 0
    kappa = np.where(female, 0.7, 0.9)
    alpha = np.where(female, -0.329, -0.411)
    base = 141 * 0.993**age * np.where(female, 1.018, 1.0)
    r = egfr / base
    scr = np.where(r <= 1, kappa * r ** (-1 / 1.209), kappa * r ** (1 / alpha))
    return np.clip(scr * 88.4, 25, 1200)


@dataclass
class ChunkOut:
    """What the writer needs from a chunk (small to pass back from a worker process)."""

    practice: int
    pid_offset: int
    n: int
    sex: np.ndarray
    dob: np.ndarray
    dod: np.ndarray
    reg_end: np.ndarray
    nhs: np.ndarray
    meds: dict[str, np.ndarray]
    events: dict[str, np.ndarray]


@dataclass(frozen=True)
class ChunkSpec:
    practice: int
    sub: int
    n: int
    tilt: float
    pid_offset: int


def generate_chunk(ctx: Context, spec: ChunkSpec, seed: int, nhs: np.ndarray) -> ChunkOut:
    """One chunk from its own seeded stream: the same output in any process, in any order."""
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(spec.practice, spec.sub)))
    pp = _people(spec.n, spec.tilt, ctx.as_of, rng)
    pp.dmard = np.zeros(spec.n, bool)
    _baselines(pp, rng)
    ch = Chunk(pp, ctx, rng)
    ch.diagnoses()
    ch.drugs()
    ch.routine()
    meds = _tidy(ch.meds.join(), ("pid", "date", "code"))
    events = _tidy(ch.events.join(), ("pid", "date", "code"))
    return ChunkOut(
        spec.practice, spec.pid_offset, spec.n, pp.sex.astype(np.int8), pp.dob, pp.dod,
        pp.reg_end, nhs, meds, events,
    )  # fmt: skip


def _tidy(cols: dict[str, np.ndarray], keys: tuple[str, ...]) -> dict[str, np.ndarray]:
    """Sort rows by patient, date, code; drop exact (patient, date, code) repeats (keep the first).

    One packed int64 key (patient | day | code) sorts ~10× faster than a three-key lexsort."""
    if not cols or not len(cols["pid"]):
        return cols
    pid, date, code = (cols[k].astype(np.int64) for k in keys)
    key = (pid << 40) | ((date - date.min()) << 20) | code
    order = np.argsort(key, kind="stable")
    key = key[order]
    first = np.ones(len(key), bool)
    first[1:] = key[1:] != key[:-1]
    order = order[first]
    return {k: v[order] for k, v in cols.items()}


# --- driver ----------------------------------------------------------------------------------------


def _produce(
    ctx: Context, spec: ChunkSpec, seed: int, nhs: np.ndarray, renderer: Renderer, ods: str
) -> dict:
    """Generate and render one chunk (in a worker process when running in parallel)."""
    return renderer.render(generate_chunk(ctx, spec, seed, nhs), ods)


def _worker_init() -> None:
    """Keep freed NumPy buffers in the heap (glibc): a chunk allocates the same large arrays again
    and again, and returning them to the OS each time costs ~40% of a worker's system time."""
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(-3, 1 << 30)  # M_MMAP_THRESHOLD
        libc.mallopt(-1, 1 << 31)  # M_TRIM_THRESHOLD
    except (OSError, AttributeError):  # not glibc: nothing to tune
        pass


def _rendered(
    ctx: Context,
    specs: list[ChunkSpec],
    seed: int,
    nhs: np.ndarray,
    renderer: Renderer,
    ods: list[str],
    workers: int,
) -> Iterator[dict]:
    """Rendered chunks in order; made in worker processes when ``workers`` > 1 (a few in flight)."""

    def args(spec: ChunkSpec) -> tuple:
        part = nhs[spec.pid_offset : spec.pid_offset + spec.n]
        return (ctx, spec, seed, part, renderer, ods[spec.practice])

    if workers <= 1:
        for spec in specs:
            yield _produce(*args(spec))
        return
    # fork: workers need nothing but NumPy and pyarrow, start at once, and need no ``__main__``
    # guard in the caller; they are forked before this process starts any thread (see generate).
    mp = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(max_workers=workers, mp_context=mp, initializer=_worker_init) as ex:
        inflight: deque[Future] = deque()
        for spec in specs:
            inflight.append(ex.submit(_produce, *args(spec)))
            if len(inflight) > workers:
                yield inflight.popleft().result()
        while inflight:
            yield inflight.popleft().result()


def generate(
    out: Path,
    patients: int,
    practices: int,
    seed: int,
    fmt: str = "csv",
    as_of: dt.date | None = None,
    codelists: Mapping[str, object] | None = None,
    workers: int | None = None,
) -> str:
    """Write the population to ``out`` as a canonical extract; returns a one-paragraph summary.

    ``workers``: generator processes (default: one per CPU, up to 4, for ≥ 100k patients; else none).
    Output does not depend on it.
    """
    from rxwatch.synth.write import ExtractWriter, Renderer, needs_quotes, warm

    started = time.perf_counter()
    as_of = as_of or dt.date.today()
    if fmt not in ("csv", "parquet", "fhir"):
        raise SynthError(f"unknown format {fmt!r} (csv, parquet or fhir)")
    if patients < practices:
        raise SynthError("--patients must be at least --practices")
    if codelists is None:
        from rxwatch.rules.codelists import load_codelists

        codelists = load_codelists()
    ctx = Context.build(as_of, codelists)
    if not ctx.drugs:
        raise SynthError("no drug codelists found: the generator takes every code from a codelist")
    if workers is None:
        workers = min(os.cpu_count() or 1, 4) if patients >= PARALLEL_FROM else 0
    seed = int(seed) % 2**63
    master = np.random.default_rng(np.random.SeedSequence(seed))
    prac = _practices(patients, practices, master)
    nhs = synthetic_nhs_numbers(patients, master)
    width = max(7, len(str(patients)))
    specs, offset = [], 0
    for pi, size in enumerate(prac.sizes):
        for sub, start in enumerate(range(0, int(size), CHUNK)):
            n = min(CHUNK, int(size) - start)
            specs.append(ChunkSpec(pi, sub, n, float(prac.tilts[pi]), offset))
            offset += n
    strings = [*ctx.book.codes, *ctx.book.code_terms, *ctx.units]
    renderer = Renderer(
        fmt, ctx.book.codes, ctx.book.code_terms, ctx.units, width,
        "needed" if needs_quotes(strings) else "none",
    )  # fmt: skip
    if fmt == "csv":
        warm()  # string tables built once, inherited by forked workers
    chunks = _rendered(ctx, specs, seed, nhs, renderer, prac.ods, workers)
    first = next(chunks)  # worker processes are forked before the writer starts any thread
    writer = ExtractWriter(Path(out), fmt, renderer)
    writer.practices(prac.ods, prac.names, prac.pcns)
    pending: Future | None = None
    with ThreadPoolExecutor(max_workers=1) as pool:  # file writes overlap the next chunk
        for rendered in itertools.chain([first], chunks):
            if pending is not None:
                pending.result()
            pending = pool.submit(writer.chunk, rendered)
        if pending is not None:
            pending.result()
    counts = writer.close()
    elapsed = time.perf_counter() - started
    rows = ", ".join(f"{k} {v:,}" for k, v in counts.items())
    note = (
        f"; codelists not shipped (features skipped): {', '.join(ctx.missing)}"
        if ctx.missing
        else ""
    )
    return (
        f"synthetic extract ({fmt}) in {out}: {practices} practices, {patients:,} patients, "
        f"as of {as_of.isoformat()}, seed {seed}; rows: {rows}; {elapsed:.1f} s{note}"
    )
