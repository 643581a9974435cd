"""The package's errors. The CLI prints each on one line: InputError exits 2, Interrupted 130
(as Ctrl-C), the others 1."""


class InputError(ValueError):
    """Bad input: the message names the file, node, op or dimension at fault."""


class CertificateError(RuntimeError):
    """A witness failed its forward-pass check: a bug or a numerical breakdown, never a count."""


class SolverError(RuntimeError):
    """A solver answered something that no correct run should see (unavailable, an odd status)."""


class Interrupted(KeyboardInterrupt):
    """A stop request (Ctrl-C, SIGTERM: a count's ``should_stop``) during a phase with no partial
    result to give, such as the bound tightening: the CLI treats it as Ctrl-C (exit 130)."""
