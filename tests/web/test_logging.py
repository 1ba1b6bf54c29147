"""No patient identifier in a log line (hazard HAZ-003)."""

from __future__ import annotations

import logging

from rxwatch.web.logging import REDACTED, RedactPatientIdentifiers, redact


def test_redacts_nhs_numbers_and_keyed_identifiers():
    assert redact("lookup 943 476 5919 failed") == f"lookup {REDACTED} failed"
    assert redact("nhs=9434765919") == f"nhs={REDACTED}"
    assert redact("{'patient_id': 'P000123', 'rule_id': 'x'}") == (
        f"{{'patient_id': '{REDACTED}', 'rule_id': 'x'}}"
    )
    assert redact("patient_id=ABC-1 status=open") == f"patient_id={REDACTED} status=open"
    assert redact("case 12 closed after 3 attempts") == "case 12 closed after 3 attempts"


def test_filter_rewrites_records_and_exceptions():
    f = RedactPatientIdentifiers()
    record = logging.LogRecord(
        "x", logging.ERROR, __file__, 1, "error for %s", ("9434765919",), None
    )
    record.request = object()
    try:
        raise ValueError("patient_id=P1 nhs_number=9434765919")
    except ValueError:
        import sys

        record.exc_info = sys.exc_info()
    assert f.filter(record)
    text = logging.Formatter().format(record)
    assert "9434765919" not in text and "P1" not in text
    assert record.request is None


def test_django_logging_uses_the_filter(settings):
    handlers = settings.LOGGING["handlers"]
    assert all("redact" in h.get("filters", []) for h in handlers.values())


def test_every_logger_that_can_print_a_url_is_redacted():
    """django.server prints request lines, django.request errors with URLs: each handler that can
    receive their records carries the filter."""
    for name in (
        "django.server",
        "django.request",
        "django",
        "rxwatch.web",
        "ninja",
        "py.warnings",
    ):
        logger = logging.getLogger(name)
        handlers = []
        while logger is not None:
            handlers += [h for h in logger.handlers if not type(h).__module__.startswith("_pytest")]
            logger = logger.parent if logger.propagate else None
        assert handlers, name
        for h in handlers:
            assert any(isinstance(f, RedactPatientIdentifiers) for f in h.filters), (name, h)
