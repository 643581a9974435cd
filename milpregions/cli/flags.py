"""Old spellings of renamed options, kept for one release.

Each option has one meaning in every command (issue 24): ``--output-tensor NAME`` is the tensor
counted on, ``--output`` only ever a file (``plot -o``); ``--points N`` a number of random
points (``compare``: several such numbers), ``--distance-points M`` the points of the
boundary-distance estimate, ``--data F`` a file of data points. An old spelling still works,
stores into the new option, and ``cli.main`` prints one warning per old spelling on stderr.
"""

from __future__ import annotations

import argparse

#: the namespace attribute that collects {old spelling: new spelling} while parsing
USED = "deprecated_flags"


class DeprecatedAlias(argparse.Action):
    """Stores like the option ``new`` (same ``dest``, same type) and records the old spelling."""

    def __init__(self, option_strings, dest, *, new: str, **kwargs):
        self.new = new
        super().__init__(option_strings, dest, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None):
        setattr(namespace, self.dest, values)
        used = dict(getattr(namespace, USED, None) or {})
        used[option_string or self.option_strings[0]] = self.new
        setattr(namespace, USED, used)


def add_deprecated_alias(p: argparse.ArgumentParser, old: str, new: str, dest: str,
                         **kwargs) -> None:
    """``old`` as a hidden alias of the option ``new`` (stored in ``dest``)."""
    p.add_argument(old, dest=dest, action=DeprecatedAlias, new=new, help=argparse.SUPPRESS,
                   **kwargs)


def deprecation_warnings(args: argparse.Namespace) -> list[str]:
    """One line per old spelling used on this command line."""
    return [f"warning: {old} is deprecated, use {new} (the old spelling goes in the next "
            "release)" for old, new in (getattr(args, USED, None) or {}).items()]


#: the seed of every randomised command (sample, lines, hash, compare) when --seed is not given
DEFAULT_SEED = 0


def add_seed_arg(p: argparse.ArgumentParser) -> None:
    """``--seed S``: a fixed default, so that the same command repeats its numbers; the seed
    used is printed and recorded in ``--json`` (``seed``)."""
    p.add_argument("--seed", type=int, default=DEFAULT_SEED, metavar="S",
                   help=f"random seed (default {DEFAULT_SEED}; printed, and `seed` in --json): "
                        "the same seed repeats the run")
