"""A logging filter that keeps patient identifiers out of log lines (hazard HAZ-003).

RxWatch code never logs a patient_id or an NHS number; this filter is the second line of defence for
messages we do not write ourselves (Django, libraries, an exception's text). It rewrites the formatted
message, drops the request object Django attaches to error records (its repr and POST data could carry an
NHS number), and removes exception tracebacks' local values by keeping only the exception's text, redacted.
"""

from __future__ import annotations

import logging
import re

_NHS_NUMBER = re.compile(r"(?<!\d)\d{3}[ -]?\d{3}[ -]?\d{4}(?!\d)")
_KEYED = re.compile(
    r"(?P<key>patient_id|patient|nhs_number|nhs)(?P<sep>['\"]?\s*[:=]\s*['\"]?)(?P<value>[^\s,'\"&)}]+)",
    re.IGNORECASE,
)
REDACTED = "[redacted]"


def redact(text: str) -> str:
    """Blank NHS-number-shaped digit runs and any value keyed as a patient identifier."""
    text = _KEYED.sub(lambda m: f"{m['key']}{m['sep']}{REDACTED}", text)
    return _NHS_NUMBER.sub(REDACTED, text)


class RedactPatientIdentifiers(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string must not lose the log line
            message = str(record.msg)
        record.msg, record.args = redact(message), None
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            record.msg = f"{record.msg} [{type(exc).__name__}: {redact(str(exc))}]"
            record.exc_info, record.exc_text = None, None
        if hasattr(record, "request"):
            record.request = None
        return True
