"""The base of every error golive reports as one line with exit status 2."""


class GoliveError(Exception):
    """Bad input or a failed stage; the message names the file, key or value, never a secret."""
