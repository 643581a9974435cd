"""``milpregions warm-up``: compile every counting kernel ahead (numba's cache), so that no
count pays for it; once after install, or in a container image's build step."""

from __future__ import annotations

import time
from importlib import import_module

from ..enumerator.progress import KERNELS, about
from .common import EXIT_OK, PROG, _duration


def add_parser(subs) -> None:
    p = subs.add_parser("warm-up", allow_abbrev=False,
                        help="compile the counting kernels once, ahead of the first count",
                        description="Compile (or load, when numba's cache holds them) the "
                                    "compiled walks a count uses: the vertex walk of plain "
                                    "MLPs, the vertex walk of any network and the LP walk. "
                                    "Each is compiled once per install and cache folder "
                                    "(NUMBA_CACHE_DIR); a count then loads it in about 1 s.")
    p.add_argument("--quiet", action="store_true", help="no lines, only the exit status")


def run(args, out, err) -> int:
    from ..enumerator import kernel

    say = (lambda text: None) if args.quiet else (lambda text: (err.write(text + "\n"),
                                                                err.flush()))
    say(f"{PROG}: numba's cache: {kernel.cache_dir()}")
    for name, (what, seconds) in KERNELS.items():
        module = import_module(f"..enumerator.{name}", __package__)
        warm = module.cache_is_warm()
        say(f"{PROG}: {'loading' if warm else 'compiling'} {what}"
            + ("" if warm else f" ({about(seconds)})") + " ...")
        t0 = time.perf_counter()
        module.warm_up()
        say(f"{PROG}: {what}: {'loaded' if warm else 'compiled'} in "
            f"{_duration(time.perf_counter() - t0)}")
    return EXIT_OK
