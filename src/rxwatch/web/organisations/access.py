"""Who may see and do what, decided in one place and called from querysets and actions.

Views and the API never decide access themselves: they go through ``visible_practices`` (for reads)
and ``require_role`` (inside every action), so a forgotten check in a template or an endpoint cannot
open another practice's patients.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import Q, QuerySet

from rxwatch.web.errors import PermissionDenied
from rxwatch.web.organisations.models import Membership, Practice, Role, ScopeOfPractice, User

# Roles that may do each kind of work. Practice managers and hub leads read everything of their
# practices but change nothing clinical; admins manage people, not cases.
RECALL_ROLES = (Role.TECHNICIAN, Role.PHARMACIST)
REVIEW_ROLES = (Role.PHARMACIST,)
GP_ROLES = (Role.GP,)
OVERSIGHT_ROLES = (Role.PRACTICE_MANAGER, Role.HUB_LEAD, Role.ADMIN)
ROLE_NOUNS = {
    Role.TECHNICIAN: "pharmacy technician",
    Role.PHARMACIST: "clinical pharmacist",
    Role.GP: "GP",
    Role.PRACTICE_MANAGER: "practice manager",
    Role.HUB_LEAD: "hub lead",
    Role.ADMIN: "administrator",
}


def _active(user: User | None) -> bool:
    return bool(user is not None and user.is_authenticated and user.is_active)


def memberships(user: User) -> QuerySet[Membership]:
    if not _active(user):
        return Membership.objects.none()
    return Membership.objects.filter(user=user)


def visible_practices(user: User) -> QuerySet[Practice]:
    """Practices whose patients ``user`` may see: their own, or all of their organisation for hub
    memberships (a membership without a practice)."""
    return _practices_of(user, memberships(user))


def practices_where(user: User, roles: Iterable[str]) -> QuerySet[Practice]:
    """Practices at which ``user`` holds one of ``roles`` (directly or through a hub membership)."""
    return _practices_of(user, memberships(user).filter(role__in=[str(r) for r in roles]))


def _practices_of(user: User, mine: QuerySet[Membership]) -> QuerySet[Practice]:
    """The practices ``mine`` (memberships of ``user``) cover: a practice membership its practice,
    a hub membership every practice of its organisation."""
    if not _active(user):
        return Practice.objects.none()
    return Practice.objects.filter(
        Q(id__in=mine.filter(practice__isnull=False).values("practice_id"))
        | Q(organisation_id__in=mine.filter(practice__isnull=True).values("organisation_id"))
    )


def can_see(user: User, practice: Practice) -> bool:
    return visible_practices(user).filter(pk=practice.pk).exists()


def roles_at(user: User, practice: Practice) -> set[str]:
    """The roles ``user`` holds for ``practice`` (through a practice or a hub membership)."""
    if not _active(user):
        return set()
    rows = memberships(user).filter(
        Q(practice=practice) | Q(practice__isnull=True, organisation_id=practice.organisation_id)
    )
    return set(rows.values_list("role", flat=True))


def require_role(user: User, practice: Practice, roles: Iterable[str], *, doing: str) -> str:
    """Return the role that lets ``user`` do ``doing`` at ``practice``, or raise PermissionDenied.

    The same message whether the practice is unknown to the user or the role is missing would hide
    more, but the user already knows which practices they work in; naming the needed role helps them.
    """
    held = roles_at(user, practice)
    if not held:
        raise PermissionDenied("You do not have access to this practice.")
    allowed = [str(r) for r in roles]
    for role in allowed:
        if role in held:
            return role
    labels = " or ".join(ROLE_NOUNS[r] for r in allowed)
    raise PermissionDenied(f"Only a {labels} can {doing}.")


def role_for_audit(user: User, practice: Practice | None) -> str:
    """A stable description of the user's role(s) for a read event (views need no particular role)."""
    if practice is not None:
        held = roles_at(user, practice)
    else:
        held = set(memberships(user).values_list("role", flat=True))
    return ",".join(sorted(held)) or "none"


def scope_of_practice(user: User) -> set[str]:
    return set(ScopeOfPractice.objects.filter(user=user).values_list("drug_group", flat=True))


def in_scope(user: User, drug_group: str) -> bool:
    return ScopeOfPractice.objects.filter(user=user, drug_group=drug_group).exists()
