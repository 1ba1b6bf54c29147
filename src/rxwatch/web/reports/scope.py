"""Which practices a report covers: one practice, a PCN or an organisation, always intersected with
what the requesting user may see (the CLI, run by an operator, passes ``user=None`` for all)."""

from __future__ import annotations

from django.db.models import QuerySet

from rxwatch.web.organisations import access
from rxwatch.web.organisations.models import Practice


class NoPractices(LookupError):
    pass


def report_practices(
    user=None,
    *,
    practice: str | None = None,
    pcn: str | None = None,
    organisation: str | None = None,
) -> tuple[list[Practice], str]:
    """(practices, title). ``pcn`` is a PCN's code, name or id; ``organisation`` a code ("1": all
    the user's practices)."""
    qs: QuerySet[Practice] = (
        access.visible_practices(user) if user is not None else Practice.objects.all()
    ).select_related("organisation", "pcn")
    seen = " that you can see" if user is not None else ""
    if practice:
        qs = qs.filter(ods_code=practice)
        found = list(qs)
        if not found:
            raise NoPractices(f"no practice {practice!r}{seen}")
        return found, f"{found[0].name} ({found[0].ods_code})"
    if pcn:
        by = qs.filter(pcn__code=pcn) | qs.filter(pcn__name=pcn)
        if pcn.isdigit():
            by = by | qs.filter(pcn_id=int(pcn))
        found = list(by.distinct())
        if not found:
            raise NoPractices(f"no PCN {pcn!r} with practices{seen}")
        return found, f"{found[0].pcn.name} (PCN)"
    if organisation and organisation != "1":
        qs = qs.filter(organisation__code=organisation)
    found = list(qs)
    if not found:
        raise NoPractices(f"no practices{seen}")
    orgs = {p.organisation.name for p in found}
    return found, (orgs.pop() if len(orgs) == 1 else "All practices")
