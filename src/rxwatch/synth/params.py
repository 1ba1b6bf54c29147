"""Parameters of the synthetic population: demography, conditions, drugs, monitoring behaviour.

These are *synthetic-data parameters*, not clinical rules: they decide how often things happen in the
made-up population so that every rule of the catalogue has realistic work. Where a figure comes from a
public source the source is named; where it is our own estimate it says **assumption**. Figures recalled
from a source without re-reading it this session are marked "(from memory)". docs/synthetic-population.md
lists them all with what the generator does not model.

Sources
-------
[ONS21]  Office for National Statistics, *Population estimates for England and Wales: mid-2021*, single
         year of age and sex (5-year bands below, rounded to thousands; from memory).
[QOF]    NHS England (NHS Digital), *Quality and Outcomes Framework, 2022-23 / 2023-24*, recorded disease
         prevalence: AF ~2.1% (all ages), heart failure ~1.0%, diabetes ~7.5% (17+), CKD 3-5 ~4% (18+),
         asthma ~6.5% (6+), hypertension ~14%, serious mental illness ~0.95%, hypothyroidism ~3.5%
         (from memory).
[OP]     OpenPrescribing.net (Bennett Institute), national items per 1000 patients by BNF chemical; used
         only for orders of magnitude of current users (from memory).
[PINCER] Avery AJ et al., PINCER trial, Lancet 2012;379:1310-19, and the OpenSAFELY PINCER study
         (Fisher L et al., BJGP 2022): hazard rates in the low single-digit percent of the at-risk group.
[CKD]    NICE NG203 (CKD, 2021): two eGFR < 60 at least 3 months apart; under-coding of CKD in primary
         care is well described (e.g. Kim LG et al., BJGP 2015) — our uncoded share is an assumption.
[MORT]   ONS, *National life tables – England, 2020-2022*: annual death probability ~0.15% at 40, ~0.7%
         at 60, ~5% at 80, ~15% at 90 (from memory); fitted here as a Gompertz curve.
The adult prevalence targets of each drug follow the ranges in the task brief (methotrexate 0.3-0.5%,
azathioprine 0.1-0.2%, leflunomide ~0.05%, lithium 0.1-0.2%, amiodarone ~0.2%, warfarin ~1%, DOAC
2-3%, antipsychotics ~1%, levothyroxine 3-4%, spironolactone 0.5-1%, digoxin 0.3-0.5%, ACE/ARB ~15%,
loop diuretics 3-5%, PPI ~15%, NSAIDs ~5%, aspirin ~5%, valproate ~0.2%, clozapine ~0.02%), which agree
with [OP] and [QOF] as far as we can tell from memory; the age curves that produce them are our
**assumption** (shape: rising with age for cardiovascular drugs, peaking in late middle age for DMARDs).
"""

from __future__ import annotations

from dataclasses import dataclass

# --- demography ----------------------------------------------------------------------------------

# [ONS21] England mid-2021, thousands, bands 0-4 … 85-89, 90+ (from memory, rounded).
AGE_BANDS = tuple(range(0, 95, 5))  # lower bounds; the last band is 90+
BAND_COUNTS = (
    3226, 3514, 3502, 3199, 3454, 3736, 3881, 3780, 3561, 3625,
    3908, 3796, 3279, 2818, 2840, 2046, 1420, 849, 527,
)  # fmt: skip
# Share female by band [ONS21] (from memory): near parity to 60, rising with age.
BAND_FEMALE = (
    0.488, 0.488, 0.488, 0.487, 0.492, 0.503, 0.507, 0.508, 0.506, 0.508,
    0.506, 0.506, 0.511, 0.519, 0.527, 0.543, 0.566, 0.612, 0.685,
)  # fmt: skip
SEX_UNKNOWN = 0.0005  # **assumption**: "indeterminate/unknown" sex is rare on GP lists
PRACTICE_AGE_TILT_SD = 0.25  # **assumption**: student-town to retirement-coast variation
PRACTICE_SIZE = (3_000, 20_000)  # brief; NHS Digital "Patients registered at a GP practice"
PRACTICE_SIZE_MEDIAN = 9_500  # **assumption** (~10k median list size, from memory)

HISTORY_DAYS = 4 * 365  # **assumption**: a 4-year extract window, long enough for every rule
DEATHS_WITHIN_DAYS = 365  # deaths recorded in the last year of the window
DEREG_SHARE = 0.04  # **assumption**: ~4%/yr of a list leaves (moves away) — list turnover
DIAGNOSIS_MAX_YEARS = 25  # diagnosis codes dated up to 25 years back


def gompertz_death(age: float) -> float:
    """[MORT] one-year death probability (fit: 0.15% at 40, ×e every ~11.4 years)."""
    import math

    return min(0.3, 0.0015 * math.exp(0.0877 * (age - 40)))


# --- latent conditions ------------------------------------------------------------------------------

# (age, probability) — linearly interpolated, flat beyond the ends
Knots = tuple[tuple[int, float], ...]


@dataclass(frozen=True)
class Condition:
    name: str
    knots: Knots
    female: float = 1.0  # female:male ratio of prevalence
    coded: float = 1.0  # share with a diagnosis code (the rest are unrecorded)
    codelist: str | None = None


# fmt: off
CONDITIONS: tuple[Condition, ...] = (
    # [QOF] AF 2.1% all ages → ~2.6% adults, steep with age, more in men
    Condition("af", ((40, 0.0), (50, 0.006), (60, 0.02), (70, 0.055), (80, 0.12), (90, 0.16)), 0.75),
    # [QOF] heart failure ~1% all ages
    Condition("hf", ((45, 0.0), (60, 0.008), (70, 0.022), (80, 0.05), (90, 0.09)), 0.8, 0.92,
              "heart-failure"),
    # [QOF] diabetes ~7.5% of 17+; ~8% of diabetes unrecorded (**assumption**, low by design)
    Condition("diabetes", ((10, 0.002), (18, 0.004), (30, 0.015), (40, 0.04), (50, 0.085),
                           (60, 0.13), (70, 0.18), (80, 0.19), (90, 0.15)), 0.8, 0.92, "diabetes"),
    # [QOF]/[CKD] CKD 3-5 ~4% of 18+ recorded; ~12% of true CKD uncoded (**assumption**, kept low)
    Condition("ckd", ((40, 0.0), (50, 0.012), (60, 0.035), (70, 0.09), (80, 0.2), (90, 0.32)), 1.1,
              0.88, "ckd"),
    # [QOF] asthma ~6.5%
    Condition("asthma", ((0, 0.0), (4, 0.05), (12, 0.08), (30, 0.065), (70, 0.07), (90, 0.06)), 1.1,
              1.0, "asthma"),
    # history of peptic ulcer or GI bleed (**assumption**, ~2% of adults, more with age)
    Condition("ulcer", ((30, 0.0), (40, 0.008), (60, 0.025), (80, 0.045)), 0.9, 1.0,
              "peptic-ulcer-gi-bleed"),
    # [QOF] SMI ~0.95%
    Condition("smi", ((16, 0.0), (20, 0.008), (40, 0.013), (70, 0.011), (90, 0.008)), 0.9),
    # [QOF] hypertension ~14% all ages
    Condition("hypertension", ((18, 0.0), (30, 0.03), (40, 0.08), (50, 0.18), (60, 0.3),
                               (70, 0.45), (80, 0.55)), 0.95),
)
# fmt: on
ASTHMA_RESOLVED = 0.10  # **assumption**: share of asthma codes later marked resolved
UNRECORDED_DM_HBA1C = (50.0, 6.0)  # mean, sd of HbA1c in unrecorded diabetes (≥48 after clipping)

# --- drugs ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Schedule:
    """How a practice *aims* to test a treated patient (mirrors the catalogue; synthetic behaviour)."""

    panels: tuple[str, ...]
    phases: tuple[tuple[int, int], ...] = ()  # (until_days, interval_days)
    maintenance: int | None = None  # None: no drug monitoring after the last phase


@dataclass(frozen=True)
class Drug:
    codelist: str
    knots: Knots = ()  # prevalence of *current* use by age, independent of drivers
    female: float = 1.0
    drivers: tuple[tuple[str, float], ...] = ()  # (condition, probability of use given it)
    stopped: float = 0.12  # of people with issues in the window, share who stopped ≥ 91 days ago
    new: float = 0.15  # of current users, share who started inside the window
    new_within: int = HISTORY_DAYS  # new starters start within this many days of the as-of date
    cycles: tuple[int, ...] = (28, 56, 84)
    cycle_p: tuple[float, ...] = (0.6, 0.3, 0.1)
    per_day: float = 1.0  # quantity per day of supply
    products: int = 3  # number of distinct products (strengths) used
    schedules: tuple[Schedule, ...] = ()
    shared_care: float = 0.0  # share with a "monitoring by hospital" code (excluded from rules)
    exclusive: str | None = None  # mutually exclusive group (one anticoagulant, one antipsychotic)
    acute_rate: float = 0.0  # acute (one-off) courses per adult-year, besides repeat users
    elderly_interval: int | None = None  # DOAC: maintenance at ≥ 75 years
    hints: tuple[str, ...] = ()  # everyday products, most used first (see HINTS)


# Everyday products by group, most used first (**assumption**, English prescribing from memory of
# [OP]; only codes in the shipped lists are ever written — a hint merely ranks them). Methotrexate is
# 2.5 mg tablets only, as NPSA 2006 advises for primary care.
# fmt: off
HINTS: dict[str, tuple[str, ...]] = {
    "methotrexate": ("methotrexate 2.5mg tablets",),
    "leflunomide": ("leflunomide 10mg tablets", "leflunomide 20mg tablets"),
    "azathioprine": ("azathioprine 50mg tablets", "azathioprine 25mg tablets"),
    "mercaptopurine": ("mercaptopurine 50mg tablets",),
    "sulfasalazine": ("sulfasalazine 500mg gastro-resistant tablets", "sulfasalazine 500mg tablets"),
    "mycophenolate": ("mycophenolate mofetil 500mg tablets", "mycophenolate mofetil 250mg capsules"),
    "lithium": ("priadel 400mg", "priadel 200mg", "lithium carbonate 400mg modified-release"),
    "amiodarone": ("amiodarone 200mg tablets", "amiodarone 100mg tablets"),
    "doac": ("apixaban 5mg tablets", "apixaban 2.5mg tablets", "rivaroxaban 20mg tablets",
             "edoxaban 60mg tablets"),
    "warfarin": ("warfarin 1mg tablets", "warfarin 3mg tablets", "warfarin 5mg tablets"),
    "digoxin": ("digoxin 125microgram tablets", "digoxin 62.5microgram tablets"),
    "spironolactone": ("spironolactone 25mg tablets", "spironolactone 50mg tablets"),
    "antipsychotic": ("quetiapine 25mg tablets", "olanzapine 10mg tablets",
                      "aripiprazole 10mg tablets", "risperidone 1mg tablets"),
    "clozapine": ("clozapine 100mg tablets", "clozapine 25mg tablets"),
    "valproate": ("sodium valproate 500mg gastro-resistant tablets", "epilim chrono 500",
                  "sodium valproate 200mg gastro-resistant tablets"),
    "levothyroxine": ("levothyroxine sodium 100microgram tablets",
                      "levothyroxine sodium 50microgram tablets",
                      "levothyroxine sodium 25microgram tablets",
                      "levothyroxine sodium 75microgram tablets"),
    "ace-inhibitor-arb": ("ramipril 5mg capsules", "ramipril 10mg capsules",
                          "lisinopril 10mg tablets", "losartan 50mg tablets",
                          "candesartan 8mg tablets"),
    "loop-diuretic": ("furosemide 40mg tablets", "furosemide 20mg tablets", "bumetanide 1mg tablets"),
    "aspirin": ("aspirin 75mg dispersible tablets", "aspirin 75mg gastro-resistant tablets"),
    "antiplatelet-non-aspirin": ("clopidogrel 75mg tablets", "ticagrelor 90mg tablets"),
    "nsaid-oral": ("naproxen 500mg tablets", "naproxen 250mg tablets", "ibuprofen 400mg tablets",
                   "diclofenac sodium 50mg gastro-resistant tablets"),
    "beta-blocker-non-selective": ("propranolol 10mg tablets", "propranolol 40mg tablets",
                                   "propranolol 80mg modified-release capsules"),
    "ppi": ("omeprazole 20mg gastro-resistant capsules", "lansoprazole 30mg gastro-resistant capsules",
            "omeprazole 40mg gastro-resistant capsules", "lansoprazole 15mg gastro-resistant capsules"),
    # diagnoses: the codes a clinician picks; CKD by stage (chosen from the patient's eGFR)
    "heart-failure": ("heart failure",),
    "diabetes": ("diabetes mellitus type 2", "type 2 diabetes"),
    "asthma": ("asthma",),
    "peptic-ulcer-gi-bleed": ("peptic ulcer", "duodenal ulcer", "gastric ulcer"),
    "ckd": ("chronic kidney disease stage 3a", "chronic kidney disease stage 3b",
            "chronic kidney disease stage 4", "chronic kidney disease stage 5"),
}

# Units a day by product where it differs from the drug's default (**assumption**, usual adult doses
# as in the BNF, from memory): so a once-daily DOAC is never issued as 56 tablets for 28 days.
PER_DAY: dict[str, float] = {
    "apixaban": 2, "rivaroxaban": 1, "edoxaban": 1, "warfarin 1mg": 2, "warfarin 3mg": 1,
    "warfarin 5mg": 1, "quetiapine 25mg": 2, "risperidone 1mg": 2, "olanzapine": 1,
    "aripiprazole": 1, "clozapine 100mg": 3, "clozapine 25mg": 2, "sodium valproate 500mg": 2,
    "epilim chrono 500": 2, "sodium valproate 200mg": 3, "naproxen 500mg": 2, "naproxen 250mg": 3,
    "ibuprofen 400mg": 3, "diclofenac sodium 50mg": 3, "propranolol 10mg": 3,
    "propranolol 40mg": 2, "propranolol 80mg": 1, "azathioprine 50mg": 2, "azathioprine 25mg": 1,
    "mercaptopurine": 1, "ticagrelor": 2, "priadel": 2, "lithium carbonate": 2,
}
# fmt: on
DMARD_PANELS = ("fbc", "lft", "renal")
DMARD_PHASES = ((42, 14), (133, 28))

# fmt: off
DRUGS: tuple[Drug, ...] = (
    Drug("methotrexate", ((18, 0.0004), (40, 0.0022), (55, 0.0055), (70, 0.0065), (80, 0.0045),
                          (90, 0.0015)), 2.0, new=0.3, new_within=730, per_day=6 / 7,
         schedules=(Schedule(DMARD_PANELS, DMARD_PHASES, 84),), shared_care=0.1),
    Drug("leflunomide", ((25, 0.0), (40, 0.0004), (60, 0.0012), (75, 0.0012), (90, 0.0003)), 2.5,
         new=0.3, new_within=730, products=2,
         schedules=(Schedule((*DMARD_PANELS, "blood-pressure", "weight"), DMARD_PHASES, 84),),
         shared_care=0.1),
    Drug("azathioprine", ((18, 0.0008), (40, 0.0015), (60, 0.002), (80, 0.0012)), 1.2, new=0.25,
         new_within=730, per_day=2, schedules=(Schedule(DMARD_PANELS, DMARD_PHASES, 91),),
         shared_care=0.1),
    Drug("mercaptopurine", ((18, 0.0004), (40, 0.0004), (60, 0.0003), (80, 0.0001)), new=0.3,
         new_within=730, products=2, schedules=(Schedule(DMARD_PANELS, ((84, 28),), 91),),
         shared_care=0.15),
    Drug("sulfasalazine", ((18, 0.0003), (40, 0.001), (60, 0.0015), (80, 0.001)), 1.5, new=0.35,
         new_within=730, per_day=4,
         schedules=(Schedule(DMARD_PANELS, ((42, 14), (133, 28), (365, 84)), None),),
         shared_care=0.05),
    Drug("mycophenolate", ((18, 0.0002), (40, 0.0004), (60, 0.0004), (80, 0.0001)), 1.5, new=0.2,
         new_within=730, per_day=4, products=2,
         schedules=(Schedule(DMARD_PANELS, ((42, 14),), 84),), shared_care=0.2),
    Drug("lithium", ((18, 0.0003), (30, 0.001), (50, 0.0013), (70, 0.0013), (85, 0.0007)), 1.3,
         drivers=(("smi", 0.04),), new=0.15, per_day=2, products=2,
         schedules=(Schedule(("lithium-level",), ((28, 7), (365, 91)), 91),
                    Schedule(("renal", "tft", "calcium", "weight"), (), 182)), shared_care=0.05),
    Drug("amiodarone", ((60, 0.0), (80, 0.0006)), 0.7, drivers=(("af", 0.07),), products=2,
         schedules=(Schedule(("tft", "lft", "renal"), (), 182),), shared_care=0.03),
    Drug("doac", ((30, 0.0015), (60, 0.007), (80, 0.014)), 0.9, drivers=(("af", 0.7),),
         stopped=0.08, products=4, per_day=2, exclusive="anticoagulant",
         schedules=(Schedule(("renal", "fbc", "lft"), (), 365),), elderly_interval=122),
    Drug("warfarin", ((30, 0.0015), (60, 0.0045), (80, 0.009)), 0.9, drivers=(("af", 0.22),),
         stopped=0.1, new=0.05, products=3, per_day=1.5, exclusive="anticoagulant",
         schedules=(Schedule(("inr",), (), 63),), shared_care=0.08),
    Drug("digoxin", (), 0.9, drivers=(("af", 0.1), ("hf", 0.08)), products=2,
         schedules=(Schedule(("renal",), (), 365),)),
    Drug("spironolactone", ((18, 0.001), (40, 0.002), (70, 0.005)), 1.3,
         drivers=(("hf", 0.35),), new=0.2, products=2,
         schedules=(Schedule(("renal",), ((28, 7), (120, 30)), 182),)),
    Drug("antipsychotic", ((18, 0.002), (60, 0.003), (80, 0.01), (90, 0.018)), 1.0,
         drivers=(("smi", 0.72),), products=4, exclusive="antipsychotic",
         schedules=(Schedule(("blood-pressure", "hba1c", "lipids", "weight"), (), 365),)),
    Drug("clozapine", (), 1.0, drivers=(("smi", 0.026),), stopped=0.03, new=0.05, per_day=3,
         products=2, exclusive="antipsychotic"),
    Drug("valproate", ((0, 0.0005), (12, 0.002), (18, 0.003), (50, 0.002), (80, 0.001)), 0.6,
         per_day=2, products=3),
    Drug("levothyroxine", ((0, 0.0003), (18, 0.008), (40, 0.025), (60, 0.05), (80, 0.07)), 4.0,
         new=0.12, products=4, schedules=(Schedule(("tsh",), ((182, 91),), 365),)),
    Drug("ace-inhibitor-arb", ((18, 0.001), (40, 0.006), (60, 0.02), (80, 0.03)), 0.85,
         drivers=(("hypertension", 0.4), ("diabetes", 0.4), ("hf", 0.75), ("ckd", 0.3)),
         products=4, schedules=(Schedule(("renal",), (), 365),)),
    Drug("loop-diuretic", ((45, 0.0), (60, 0.018), (75, 0.07), (90, 0.15)), 1.1,
         drivers=(("hf", 0.7),), products=2, schedules=(Schedule(("renal",), (), 365),)),
    Drug("aspirin", ((40, 0.0), (50, 0.018), (60, 0.06), (75, 0.14), (90, 0.15)), 0.8, products=2),
    Drug("antiplatelet-non-aspirin", ((45, 0.0), (55, 0.008), (65, 0.02), (80, 0.04)), 0.7,
         products=2),
    Drug("nsaid-oral", ((18, 0.012), (45, 0.03), (65, 0.028), (80, 0.015)), 1.2, stopped=0.3,
         products=4, per_day=2, acute_rate=0.1),
    Drug("beta-blocker-non-selective", ((18, 0.008), (40, 0.015), (60, 0.012), (80, 0.006)), 1.8,
         products=3, per_day=2),
    # last: its probability depends on NSAIDs, anticoagulants and antiplatelets drawn above
    Drug("ppi", ((18, 0.03), (40, 0.065), (60, 0.12), (80, 0.18)), 1.1, drivers=(("ulcer", 0.6),),
         stopped=0.25, products=4, acute_rate=0.02),
)
# fmt: on
# Co-prescribing that shapes PINCER hazards (**assumption**): NSAIDs avoided on anticoagulants, in HF
# and CKD; PPIs given with NSAIDs in the elderly, with anticoagulants and antiplatelets; aspirin
# mostly stopped when an anticoagulant starts; non-selective beta-blockers avoided in asthma.
NSAID_AVOID = 0.35  # repeat-NSAID probability multiplier on an anticoagulant, with HF or CKD
PPI_GASTROPROTECT = 0.45  # extra PPI probability with an NSAID (≥65), anticoagulant or antiplatelet
ASPIRIN_ON_OAC = 0.12  # aspirin probability multiplier on an anticoagulant
NSBB_IN_ASTHMA = 0.3  # non-selective beta-blocker probability multiplier in asthma
VALPROATE_PPP = (0.6, 0.2)  # women 12-55 on valproate: annual form in the last year, only older

# --- monitoring behaviour ---------------------------------------------------------------------------
# Adherence classes per treated patient and drug (**assumption**, tuned so that 10-30% of treated
# patients are overdue for a test at the as-of date, as audits of shared-care monitoring find): the
# gap between tests is the target interval × U(lo, hi).
ADHERENCE = (  # (share, lo, hi)
    (0.36, 0.72, 1.0),
    (0.30, 0.85, 1.5),
    (0.27, 1.1, 2.4),
)
NEVER_TESTED = 0.07  # remainder: no test recorded at the practice at all

# Routine (non drug-driven) blood tests and clinic checks per year, by age and condition
# (**assumption**, to give the background volume of a real record: ~50 rows per patient).
ROUTINE_BLOODS = ((18, 0.35), (40, 0.62), (65, 1.15), (80, 1.55))
ROUTINE_BLOODS_EXTRA = (("diabetes", 1.2), ("ckd", 0.8), ("hf", 0.8), ("hypertension", 0.3))
ROUTINE_PANELS = (  # panel, probability per routine blood visit
    ("renal", 1.0),
    ("fbc", 0.75),
    ("lft", 0.6),
    ("hba1c", 0.4),
    ("lipids", 0.45),
    ("tft", 0.15),
)
CLINIC_CHECKS = ((18, 0.5), (40, 0.7), (65, 1.0))
CLINIC_CHECKS_EXTRA = (("hypertension", 1.2), ("diabetes", 1.0), ("smi", 0.5))
CLINIC_PANELS = (("blood-pressure", 1.0), ("weight", 0.55))
DIABETES_HBA1C_PER_YEAR = 2.0

# Abnormal results (**assumption**; per result, on top of the patient's baseline): the rates make a
# few percent of monitored patients out of range at any time.
DMARD_LOW_COUNTS = 0.015  # share of DMARD-patient FBCs with a cytopenia
DMARD_HIGH_ALT = 0.012
LITHIUM_HIGH = 0.03
LITHIUM_LOW = 0.05
AMIODARONE_HIGH_TSH = 0.04
SPIRO_HIGH_K = 0.02
DIGOXIN_LOW_K = 0.03


@dataclass(frozen=True)
class Analyte:
    codelist: str
    unit: str | None
    decimals: int


# Units as UK laboratories report them (ASCII: 10^9/L, umol/L).
ANALYTES: dict[str, Analyte] = {
    "wbc": Analyte("wbc", "10^9/L", 1),
    "neutrophils": Analyte("neutrophils", "10^9/L", 1),
    "platelets": Analyte("platelets", "10^9/L", 0),
    "alt": Analyte("alt", "U/L", 0),
    "ast": Analyte("ast", "U/L", 0),
    "albumin": Analyte("albumin", "g/L", 0),
    "creatinine": Analyte("creatinine", "umol/L", 0),
    "egfr": Analyte("egfr", "mL/min/1.73m2", 0),
    "potassium": Analyte("potassium", "mmol/L", 1),
    "lithium-level": Analyte("lithium-level", "mmol/L", 2),
    "tsh": Analyte("tsh", "mU/L", 2),
    "calcium": Analyte("calcium", "mmol/L", 2),
    "inr": Analyte("inr", None, 1),
    "hba1c": Analyte("hba1c", "mmol/mol", 0),
    "lipids": Analyte("lipids", "mmol/L", 1),
    "systolic-bp": Analyte("systolic-bp", "mmHg", 0),
    "weight": Analyte("weight", "kg", 1),
}

# Physiological limits every written value stays within (**assumption**; keeps tails plausible).
LIMITS: dict[str, tuple[float, float]] = {
    "wbc": (1.0, 25), "neutrophils": (0.3, 20), "platelets": (40, 800), "alt": (4, 600),
    "ast": (4, 600), "albumin": (18, 55), "creatinine": (25, 1200), "egfr": (4, 200),
    "potassium": (2.6, 7.0), "lithium-level": (0.1, 2.5), "tsh": (0.01, 80), "calcium": (1.8, 3.1),
    "inr": (0.8, 8), "hba1c": (25, 130), "lipids": (2.0, 10), "systolic-bp": (85, 220),
    "weight": (35, 200),
}  # fmt: skip

# A panel is what one test request records: the analytes (with values) whose codes also count as the
# test done. ``test`` is the test codelist the analyte codes should belong to.
PANELS: dict[str, tuple[str, tuple[str, ...]]] = {
    "fbc": ("fbc", ("wbc", "neutrophils", "platelets")),
    "lft": ("lft", ("alt", "ast", "albumin")),
    "renal": ("renal", ("creatinine", "egfr", "potassium")),
    "tft": ("tft", ("tsh",)),
    "tsh": ("tsh", ("tsh",)),
    "lithium-level": ("lithium-level", ("lithium-level",)),
    "calcium": ("calcium", ("calcium",)),
    "inr": ("inr", ("inr",)),
    "hba1c": ("hba1c", ("hba1c",)),
    "lipids": ("lipids", ("lipids",)),
    "blood-pressure": ("blood-pressure", ("systolic-bp",)),
    "weight": ("weight", ("weight",)),
}
AST_SHARE = 0.4  # **assumption**: many labs report ALT without AST in a routine LFT
EGFR_REPORTED_MAX = 90  # labs report eGFR above 90 as ">90"

# Synthetic practice and PCN names: obviously made up (tree + landscape word), never a real practice.
NAME_FIRST = (
    "Alder", "Aspen", "Birch", "Blackthorn", "Cedar", "Elder", "Hawthorn", "Hazel", "Holly",
    "Hornbeam", "Juniper", "Larch", "Linden", "Maple", "Oak", "Rowan", "Sycamore", "Willow", "Yew",
    "Whitebeam", "Walnut", "Spindle", "Sorrel", "Cherry", "Chestnut",
)  # fmt: skip
NAME_SECOND = ("Brook", "Vale", "Moor", "Fold", "Ridge", "Wharf", "Green", "Lea", "Hollow", "Dene")
NAME_KIND = ("Medical Practice", "Surgery", "Health Centre", "Family Practice", "Medical Group")
PCN_NAMES = (
    "Kestrel", "Heron", "Curlew", "Lapwing", "Plover", "Merlin", "Osprey", "Avocet", "Dunlin",
    "Skylark", "Wagtail", "Bittern", "Godwit", "Linnet", "Siskin", "Redshank",
)  # fmt: skip
ODS_PREFIX = "Z9"  # **assumption**: no English GP practice code starts Z9, so these cannot collide
SYNTHETIC_SUFFIX = " (synthetic)"
