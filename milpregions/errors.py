"""The package's errors. The CLI prints each on one line: InputError exits 2, the others 1."""


class InputError(ValueError):
    """Bad input: the message names the file, node, op or dimension at fault."""


class CertificateError(RuntimeError):
    """A witness failed its forward-pass check: a bug or a numerical breakdown, never a count."""


class SolverError(RuntimeError):
    """A solver answered something that no correct run should see (unavailable, an odd status)."""
