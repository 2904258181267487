"""Exceptions that mean "the user gave bad input".

The command line turns :class:`InputError` into one line on stderr and exit code 2; any other
exception is a bug and keeps its traceback.
"""

__all__ = ["InputError", "DivergenceError"]


class InputError(ValueError):
    """Bad input from a user: unknown name, wrong unit, value out of range, missing folder.

    The message says what was expected and what was given, in one line.
    """


class DivergenceError(InputError):
    """Training diverged: the network's outputs or loss are not finite (too high a learning rate, or
    fast weights without bound). Training catches it and restarts from its last good checkpoint
    with half the learning rate (``divergence_retries`` times) before it gives up with this line."""
