"""Which real code the generator writes for each purpose, chosen from the shipped codelists.

The generator never invents a code: every dm+d or SNOMED CT code it writes is taken from a codelist, so
every rule has work and every row can be traced to a list. Choice is deterministic (no randomness here)
so the same codelists always give the same codes:

* drugs prefer products a prescriber would issue (a VMP-like term: has a strength, no supplier in
  brackets) over VTMs and branded packs;
* every code prefers to sit in as few *other* codelists as possible, so that e.g. an aspirin issue does
  not also land in the non-aspirin antiplatelet list by accident;
* an analyte code (ALT) prefers one that is also in its test's list (LFT), so that a result counts as
  the test done, as the catalogue expects.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np

_STRENGTH = re.compile(r"\d")
_ORAL_SOLID = re.compile(r"\b(tablets?|capsules?)\b", re.I)
_UNUSUAL = re.compile(
    r"dispersible|effervescent|chewable|soluble|sugar free|injection|infusion|eye drops|cream|gel"
    r"|patch|suppositor|granules|powder|oral (solution|suspension)|liquid|unit dose",
    re.I,
)


def _form_rank(term: str) -> int:
    """0 = a plain generic tablet or capsule with a strength, the everyday repeat; higher = rarer."""
    if not term:
        return 4
    solid = bool(_ORAL_SOLID.search(term)) and bool(_STRENGTH.search(term))
    if solid and not _UNUSUAL.search(term) and "/" not in term and "(" not in term:
        return 0
    if solid and not _UNUSUAL.search(term):
        return 1
    return 2 if _STRENGTH.search(term) else 3


@dataclass
class CodeBook:
    """Every code the generator may write, indexed; rows carry the index, writers look up strings."""

    lists: dict[str, frozenset[str]]
    terms: dict[str, str] = field(default_factory=dict)
    codes: list[str] = field(default_factory=list)
    code_terms: list[str] = field(default_factory=list)
    _index: dict[str, int] = field(default_factory=dict)
    _membership: dict[str, int] = field(default_factory=dict)

    @classmethod
    def from_codelists(cls, codelists: Mapping[str, object]) -> CodeBook:
        """Accepts ``load_codelists()`` output (objects with ``.codes`` / ``.terms``) or name → codes."""
        lists: dict[str, frozenset[str]] = {}
        terms: dict[str, str] = {}
        for name, cl in codelists.items():
            codes = getattr(cl, "codes", cl)
            lists[name] = frozenset(str(c) for c in codes)  # type: ignore[union-attr]
            for code, term in (getattr(cl, "terms", None) or {}).items():
                if term and code not in terms:
                    terms[code] = term
        book = cls(lists=lists, terms=terms)
        for codes in lists.values():
            for code in codes:
                book._membership[code] = book._membership.get(code, 0) + 1
        return book

    def has(self, *names: str) -> bool:
        return all(n in self.lists for n in names)

    def missing(self, names: Iterable[str]) -> list[str]:
        return sorted(n for n in names if n not in self.lists)

    def _add(self, code: str) -> int:
        if code not in self._index:
            self._index[code] = len(self.codes)
            self.codes.append(code)
            self.code_terms.append(self.terms.get(code, ""))
        return self._index[code]

    def term(self, code: str) -> str:
        return self.terms.get(code, "")

    def pick(
        self,
        name: str,
        k: int = 1,
        *,
        prefer: Iterable[str] = (),
        drug: bool = False,
        term_has: Iterable[str] = (),
        term_lacks: Iterable[str] = (),
        hints: Iterable[str] = (),
    ) -> np.ndarray:
        """Indices of up to ``k`` codes of list ``name``, best first (see the module docstring).

        ``term_has`` / ``term_lacks`` narrow by words in the term where terms are known (e.g. a total
        cholesterol code within a lipids list); if nothing matches, the narrowing is dropped.
        ``hints`` rank codes whose term contains a hint (in hint order, shortest term first): the
        everyday product or diagnosis a practice would record.
        """
        codes = self.lists.get(name)
        if not codes:
            return np.empty(0, dtype=np.int32)
        prefer = [self.lists[p] for p in prefer if p in self.lists]
        has = [w.lower() for w in term_has]
        lacks = [w.lower() for w in term_lacks]
        cands = sorted(codes)
        if has or lacks:
            narrowed = [
                c
                for c in cands
                if all(w in self.term(c).lower() for w in has)
                and not any(w in self.term(c).lower() for w in lacks)
            ]
            cands = narrowed or cands

        low_hints = [h.lower() for h in hints]

        def score(code: str) -> tuple:
            term = self.term(code)
            low = term.lower()
            in_pref = sum(code in p for p in prefer)
            others = self._membership.get(code, 1) - 1 - in_pref
            hint = next((i for i, h in enumerate(low_hints) if h in low), len(low_hints))
            form = _form_rank(term) if drug else 0
            awkward = any(ch in term for ch in ',"\n')  # keeps the CSV free of quoting
            branded = "(" in term  # an AMP with its supplier in brackets: prefer the VMP
            return (-in_pref, others, hint, branded, awkward, form, len(term) > 90, len(term), code)

        ranked = sorted(cands, key=score)
        if (
            low_hints
        ):  # one code per matched hint (no VMP + AMP twins), unmatched codes only if none
            by_hint: dict[int, str] = {}
            for c in ranked:
                low = self.term(c).lower()
                h = next((i for i, h in enumerate(low_hints) if h in low), None)
                if h is not None and h not in by_hint:
                    by_hint[h] = c
            if by_hint:
                ranked = [by_hint[h] for h in sorted(by_hint)]
        chosen = ranked[:k]
        return np.array([self._add(c) for c in chosen], dtype=np.int32)

    def in_list(self, idx: np.ndarray, name: str) -> np.ndarray:
        """Whether each code index is a code of list ``name`` (for tests and checks)."""
        members = self.lists.get(name, frozenset())
        lookup = np.array([c in members for c in self.codes], dtype=bool)
        return lookup[idx]
