"""API authentication: a session (the browser, with CSRF) or ``Authorization: Bearer <token>``."""

from __future__ import annotations

from ninja.security import HttpBearer, SessionAuth

from rxwatch.web.api import tokens


class BearerToken(HttpBearer):
    def authenticate(self, request, token: str):
        user = tokens.authenticate(token)
        if user is not None:
            request.user = user
        return user


class Session(SessionAuth):
    """Django's session, refusing inactive users."""

    def authenticate(self, request, key):
        user = super().authenticate(request, key)
        return user if user is not None and user.is_active else None


AUTH = [BearerToken(), Session()]
