"""Granting and revoking access: memberships (roles at practices) and scope of practice.

Access changes are audited like clinical ones: an inspector asks who could see a patient's record
and who gave them that access. The admin site calls these (``organisations.admin``); so can scripts.
"""

from __future__ import annotations

from django.db import transaction

from rxwatch.web.audit import chain
from rxwatch.web.organisations.models import (
    Membership,
    Organisation,
    Practice,
    ScopeOfPractice,
    User,
)


def _record(action: str, by: User | None, obj, after: dict, practice: Practice | None) -> None:
    chain.record(
        action=action,
        user=by,
        role="admin" if by is not None else chain.SYSTEM,
        practice_ods=practice.ods_code if practice else "",
        object_type=type(obj).__name__.lower(),
        object_id=obj.pk,
        after=after,
    )


def grant_membership(
    *,
    by: User | None,
    user: User,
    role: str,
    organisation: Organisation,
    practice: Practice | None = None,
) -> Membership:
    """Give ``user`` ``role`` at ``practice`` (or organisation-wide when no practice)."""
    with transaction.atomic():
        membership = Membership.objects.create(
            user=user, organisation=organisation, practice=practice, role=role
        )
        _record("membership.granted", by, membership, _describe(membership), practice)
    return membership


def revoke_membership(*, by: User | None, membership: Membership) -> None:
    with transaction.atomic():
        after = _describe(membership)
        practice = membership.practice
        _record("membership.revoked", by, membership, after, practice)
        membership.delete()


def grant_scope(*, by: User | None, user: User, drug_group: str) -> ScopeOfPractice:
    with transaction.atomic():
        scope = ScopeOfPractice.objects.create(user=user, drug_group=drug_group)
        _record(
            "scope.granted",
            by,
            scope,
            {"user": user.get_username(), "drug_group": drug_group},
            None,
        )
    return scope


def revoke_scope(*, by: User | None, scope: ScopeOfPractice) -> None:
    with transaction.atomic():
        _record(
            "scope.revoked",
            by,
            scope,
            {"user": scope.user.get_username(), "drug_group": scope.drug_group},
            None,
        )
        scope.delete()


def record_change(*, by: User | None, obj, change: str) -> None:
    """Audit a change made through the admin that has no action of its own (a user's name, active
    flag or password; a practice's details)."""
    practice = obj if isinstance(obj, Practice) else None
    with transaction.atomic():
        _record(f"{type(obj).__name__.lower()}.{change}", by, obj, {"str": str(obj)}, practice)


def _describe(m: Membership) -> dict:
    return {
        "user": m.user.get_username(),
        "role": m.role,
        "organisation": m.organisation.code,
        "practice": m.practice.ods_code if m.practice_id else None,
    }
