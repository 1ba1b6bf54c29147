"""The one exception type the command line turns into a clear message and a non-zero exit.

Messages name the file, line and field, and never carry a patient identifier or a value from a patient
record other than the bad field itself (which the user already has in their own file).
"""


class RxWatchError(Exception):
    """A problem the user can fix: bad input, a bad rule file, a missing store."""

    exit_code = 2
