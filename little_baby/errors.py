"""The base of every error that is the user's to fix (bad input, settings or files).

The command line prints these as one clear message, without a traceback.
"""


class BabyError(Exception):
    """Something the user can fix; the message says what and how."""
