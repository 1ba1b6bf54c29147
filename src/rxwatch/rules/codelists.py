"""Codelists: named sets of dm+d or SNOMED CT codes, in OpenCodelists CSV format.

The project ships its own small, curated lists (``rules/codelists/<name>.csv``) and records for each, in
``rules/codelists/codelists.yaml``, the coding system and the OpenCodelists list an organisation can
download to replace it. ``--codelists DIR`` replaces shipped lists by file stem.

An OpenCodelists download names its code column differently by coding system (``code`` for SNOMED CT,
``dmd_id`` or ``id`` for dm+d), so the reader looks for the first of ``CODE_COLUMNS``.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import yaml

from rxwatch.errors import RxWatchError

CODE_COLUMNS = ("code", "dmd_id", "id", "snomedcode", "snomed_code", "dmd_code")
TERM_COLUMNS = ("term", "dmd_name", "nm", "name", "description")
SHIPPED_DIR = Path(str(resources.files("rxwatch.rules") / "codelists"))


class CodelistError(RxWatchError, ValueError):
    """A codelist file that cannot be read; the message names the file and what is wrong."""


# The SNOMED CT identifier check digit (Verhoeff, dihedral group D5). dm+d ids are SNOMED CT ids too.
# It catches a mistyped code and the precision loss seen in published lists whose long ids went
# through a spreadsheet as floats (8665611000001103 → 8665611000001100): such a code would silently
# match nothing, and a patient on the drug would drop out of monitoring.


def _d5(j: int, k: int) -> int:
    if j < 5 and k < 5:
        return (j + k) % 5
    if j < 5:
        return 5 + (j + k) % 5
    if k < 5:
        return 5 + (j - k) % 5
    return (j - k) % 5


_D = [[_d5(j, k) for k in range(10)] for j in range(10)]
_P = [list(range(10))]
for _ in range(7):
    _P.append([(1, 5, 7, 6, 2, 8, 3, 0, 9, 4)[x] for x in _P[-1]])


def sctid_ok(code: str) -> bool:
    """True when ``code`` is a well-formed SNOMED CT / dm+d identifier (6–18 digits, check digit)."""
    if not (code.isdigit() and 6 <= len(code) <= 18):
        return False
    check = 0
    for i, ch in enumerate(reversed(code)):
        check = _D[check][_P[i % 8][int(ch)]]
    return check == 0


@dataclass(frozen=True)
class Codelist:
    name: str
    codes: frozenset[str]
    path: Path | None
    terms: Mapping[str, str] = field(default_factory=dict, compare=False)
    coding_system: str | None = None  # "dmd" | "snomedct"
    source: str | None = None  # OpenCodelists URL of the full list
    overridden: bool = False  # replaced by an organisation's own file
    supplied: bool = True  # False: a local list the organisation has not supplied (holds no code)

    def __len__(self) -> int:
        return len(self.codes)


def read_codelist_csv(path: Path, name: str | None = None) -> Codelist:
    """Read one OpenCodelists-format CSV; errors name the file and the line."""
    name = name or path.stem
    try:
        with path.open(newline="", encoding="utf-8-sig") as f:
            reader = csv.DictReader(f)
            header = reader.fieldnames or []
            code_col = next((c for c in CODE_COLUMNS if c in header), None)
            if code_col is None:
                raise CodelistError(
                    f"{path}: line 1: no code column (expected one of {', '.join(CODE_COLUMNS)}; "
                    f"found {', '.join(header) or 'nothing'})"
                )
            term_col = next((c for c in TERM_COLUMNS if c in header), None)
            codes: dict[str, str] = {}
            for line_no, row in enumerate(reader, start=2):
                code = (row.get(code_col) or "").strip()
                if not code:
                    raise CodelistError(f"{path}: line {line_no}: column {code_col}: empty code")
                if not sctid_ok(code):
                    raise CodelistError(
                        f"{path}: line {line_no}: column {code_col}: {code!r} is not a valid SNOMED "
                        "CT or dm+d identifier (6–18 digits with a valid check digit; a long id "
                        "opened in a spreadsheet can lose its last digits)"
                    )
                codes[code] = (row.get(term_col) or "").strip() if term_col else ""
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise CodelistError(f"{path}: cannot read codelist: {exc}") from exc
    if not codes:
        raise CodelistError(f"{path}: codelist {name!r} has no codes")
    return Codelist(name=name, codes=frozenset(codes), path=path, terms=codes)


def read_metadata(directory: Path = SHIPPED_DIR) -> dict[str, dict]:
    meta_path = directory / "codelists.yaml"
    if not meta_path.exists():
        return {}
    data = yaml.safe_load(meta_path.read_text(encoding="utf-8")) or {}
    return dict(data.get("codelists", {}))


def load_codelists(
    override_dir: Path | None = None, names: Iterable[str] | None = None
) -> dict[str, Codelist]:
    """The shipped codelists, with any of the same name in ``override_dir`` put in their place."""
    meta = read_metadata()
    out: dict[str, Codelist] = {}
    for path in sorted(SHIPPED_DIR.glob("*.csv")):
        info = meta.get(path.stem, {})
        cl = read_codelist_csv(path)
        out[path.stem] = Codelist(
            name=cl.name,
            codes=cl.codes,
            path=cl.path,
            terms=cl.terms,
            coding_system=info.get("coding_system"),
            source=info.get("opencodelists"),
        )
    if override_dir is not None:
        override_dir = Path(override_dir)
        if not override_dir.is_dir():
            raise CodelistError(f"{override_dir}: --codelists must be a directory of CSV files")
        for path in sorted(override_dir.glob("*.csv")):
            base = out.get(path.stem)
            cl = read_codelist_csv(path)
            out[path.stem] = Codelist(
                name=cl.name,
                codes=cl.codes,
                path=cl.path,
                terms=cl.terms,
                coding_system=base.coding_system if base else None,
                source=base.source if base else None,
                overridden=True,
            )
    if names is not None:
        wanted = set(names)
        missing = sorted(wanted - set(out))
        if missing:
            raise CodelistError(f"no codelist named {', '.join(missing)} (looked in {SHIPPED_DIR})")
        out = {k: v for k, v in out.items() if k in wanted}
    return out
