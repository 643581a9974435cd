"""Errors that mean the user's input is wrong (the CLI prints them on one line, exit status 2)."""


class InputError(ValueError):
    """Bad input: the message names the file, node, op or dimension at fault."""
