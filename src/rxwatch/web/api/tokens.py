"""Issuing and revoking API tokens: audited actions like any other state change."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from rxwatch.web.api.models import ApiToken, hash_token
from rxwatch.web.audit import chain
from rxwatch.web.errors import InvalidTransition, PermissionDenied, ValidationFailed
from rxwatch.web.organisations.models import User


def issue_token(*, user: User, name: str) -> tuple[ApiToken, str]:
    """A new token for ``user`` itself; returns the row and the token, shown once."""
    name = (name or "").strip()
    if not name:
        raise ValidationFailed("a token needs a name saying what it is for")
    if not (user.is_authenticated and user.is_active):
        raise PermissionDenied("Sign in to issue a token.")
    plain = ApiToken.generate()
    with transaction.atomic():
        token = ApiToken.objects.create(
            user=user, name=name[:100], key_hash=hash_token(plain), hint=plain[:10]
        )
        chain.record(
            action="api_token.issued",
            user=user,
            role="self",
            object_type="api_token",
            object_id=token.pk,
            after={"name": token.name, "hint": token.hint},
        )
    return token, plain


def revoke_token(*, user: User, token: ApiToken) -> ApiToken:
    """Revoke one of the user's own tokens."""
    with transaction.atomic():
        token = ApiToken.objects.select_for_update().get(pk=token.pk)
        if token.user_id != user.pk:
            raise PermissionDenied("You can revoke only your own tokens.")
        if token.revoked_at is not None:
            raise InvalidTransition("This token is already revoked.")
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        chain.record(
            action="api_token.revoked",
            user=user,
            role="self",
            object_type="api_token",
            object_id=token.pk,
            after={"revoked_at": token.revoked_at},
        )
    return token


def authenticate(plain: str) -> User | None:
    """The active user a presented token belongs to, or None."""
    token = (
        ApiToken.objects.select_related("user")
        .filter(key_hash=hash_token(plain), revoked_at__isnull=True)
        .first()
    )
    if token is None or not token.user.is_active:
        return None
    now = timezone.now()
    if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 300:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token.user
