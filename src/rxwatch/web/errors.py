"""Domain errors raised by actions. Views and the API translate them; messages carry no patient
identifier (they may be shown to the user and logged)."""

from __future__ import annotations

from rxwatch.errors import RxWatchError


class DomainError(RxWatchError):
    """An action refused for a reason the user can act on (the command line prints it, no
    traceback)."""


class PermissionDenied(DomainError):
    """The user's role or practices do not allow this action on this case."""


class ScopeError(PermissionDenied):
    """A dose change outside the pharmacist's scope of practice: it must be escalated to a GP."""


class InvalidTransition(DomainError):
    """The case is not in a state where this action makes sense (e.g. signing off a closed case)."""


class ValidationFailed(DomainError):
    """An argument the action cannot accept (e.g. a review date in the past)."""
