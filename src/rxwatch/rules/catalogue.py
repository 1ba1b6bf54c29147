"""The rule catalogue: every rule file, validated, with the codelists it names.

Loading is where a bad rule file is caught: the error names the file and the field, so an organisation
that edits a rule learns at once what is wrong, not in the middle of a search.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import yaml
from pydantic import ValidationError

from rxwatch.errors import RxWatchError
from rxwatch.rules.codelists import Codelist, load_codelists
from rxwatch.rules.model import Rule

SHIPPED_DIR = Path(str(resources.files("rxwatch.rules") / "catalogue"))


class RuleError(RxWatchError, ValueError):
    """A rule file that does not match the rule model; the message names the file and field."""


@dataclass(frozen=True)
class Catalogue:
    rules: tuple[Rule, ...]
    codelists: dict[str, Codelist]

    def rule(self, rule_id: str) -> Rule:
        for r in self.rules:
            if r.id == rule_id or rule_id in r.rule_ids:
                return r
        raise KeyError(f"no rule {rule_id!r}; known: {', '.join(r.id for r in self.rules)}")

    def codes(self, *names: str) -> frozenset[str]:
        out: set[str] = set()
        for n in names:
            out |= self.codelists[n].codes
        return frozenset(out)

    @property
    def unsupplied_codelists(self) -> list[str]:
        """Local codelists no file supplied: worth saying on every search summary."""
        return sorted(n for n, c in self.codelists.items() if not c.supplied)

    def select(self, rule_ids: Iterable[str]) -> Catalogue:
        wanted = set(rule_ids)
        return Catalogue(tuple(r for r in self.rules if r.id in wanted), self.codelists)


def _format_validation_error(path: Path, exc: ValidationError) -> str:
    lines = [f"{path}: invalid rule file"]
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"]) or "(top level)"
        lines.append(f"  field {loc}: {err['msg']}")
    return "\n".join(lines)


def load_rule(path: Path) -> Rule:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise RuleError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise RuleError(f"{path}: a rule file is a mapping of fields")
    try:
        return Rule.model_validate(data)
    except ValidationError as exc:
        raise RuleError(_format_validation_error(path, exc)) from exc


def load_catalogue(codelists_dir: Path | None = None, rules_dir: Path | None = None) -> Catalogue:
    """Load every rule file and the codelists the rules name; every name must resolve."""
    rules_dir = Path(rules_dir) if rules_dir else SHIPPED_DIR
    rules = tuple(load_rule(p) for p in sorted(rules_dir.glob("*.yaml")))
    seen: dict[str, Path] = {}
    for r in rules:
        if r.id in seen:
            raise RuleError(f"rule id {r.id!r} appears in more than one file")
        seen[r.id] = rules_dir
    codelists = load_codelists(codelists_dir)
    for r in rules:
        # A local list (one RxWatch cannot ship: no verified code exists) that the organisation has
        # not supplied holds no code, so the rule runs in its fail-safe reading: an exclusion
        # excludes nobody, "no such event" holds for everyone. See HAZ-103 and HAZ-104 in the hazard log.
        for name in r.local_codelists:
            if name not in codelists:
                codelists[name] = Codelist(name=name, codes=frozenset(), path=None, supplied=False)
    for r in rules:
        missing = sorted(r.codelist_names() - set(codelists))
        if missing:
            raise RuleError(
                f"rule {r.id}: names codelist(s) {', '.join(missing)} that do not exist"
            )
    return Catalogue(rules=rules, codelists=codelists)
