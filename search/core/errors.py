"""The one kind of error the command line turns into a one-line message and exit code 2."""

from __future__ import annotations


class InputError(ValueError):
    """Input the run cannot start with (an option, a settings file, a space file, the data).

    The message names what is wrong and where, and is shown to the user as it is. Anything else that
    goes wrong is a failure of the run, not of its input.
    """
