"""Exceptions raised by weightlab.

Every error a user can cause is a :class:`WeightlabError` whose message names the input (file, row,
column, option or method) and says how to fix it. The CLI prints the message as one line on stderr
and exits with code 2; any other exception is a bug.
"""


class WeightlabError(Exception):
    """Base class of every error caused by user input."""


class InputError(WeightlabError, ValueError):
    """A data table, file or value that cannot be used."""


class FrameworkError(WeightlabError, ValueError):
    """An inconsistent index hierarchy (codes, parents, levels, weights, directions)."""


class ParameterError(WeightlabError, ValueError):
    """A method parameter outside its allowed values."""


class SpecError(WeightlabError, ValueError):
    """An invalid uncertainty specification for the Monte Carlo engine."""


class Interrupted(BaseException):
    """SIGINT or SIGTERM arrived (raised by the CLI's signal handlers). A BaseException, like
    KeyboardInterrupt, so that no ``except Exception`` swallows it; staged output is removed on the
    way out."""
