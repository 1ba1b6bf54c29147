"""Starting Django from the command line (``rxwatch run-search``, ``audit verify``, ``serve``)."""

from __future__ import annotations

import os


def setup(*, migrate: bool = False) -> None:
    """Configure Django once; with ``migrate``, bring the workflow database up to date first (the
    default SQLite file is created in the data directory)."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rxwatch.web.settings")
    import django
    from django.conf import settings

    if not settings.configured or not _ready():
        db = settings.DATABASES["default"]
        if db["ENGINE"].endswith("sqlite3") and db["NAME"] != ":memory:":
            from pathlib import Path

            Path(db["NAME"]).parent.mkdir(parents=True, exist_ok=True)
        django.setup()
    if migrate:
        from django.core.management import call_command

        call_command("migrate", interactive=False, verbosity=0)


def _ready() -> bool:
    from django.apps import apps

    return apps.ready
