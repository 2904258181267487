"""Exceptions that mean "the user gave bad input".

The command line turns :class:`InputError` into one line on stderr and exit code 2; any other
exception is a bug and keeps its traceback.
"""

__all__ = ["InputError"]


class InputError(ValueError):
    """Bad input from a user: unknown name, wrong unit, value out of range, missing folder.

    The message says what was expected and what was given, in one line.
    """
