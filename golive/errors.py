"""golive's exceptions: the base of every error reported as one line with exit status 2, and its kinds
that several commands raise."""


class GoliveError(Exception):
    """Bad input or a failed stage; the message names the file, key or value, never a secret."""


class UsageError(GoliveError):
    """Bad input from the command line; the message names the argument or file."""


class InputError(GoliveError):
    """A file golive reads is malformed (golive/loading.py); the message names the file and key."""
