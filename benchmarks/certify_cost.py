"""Cost of ``count --certify`` on the 2-D rows of the ladder (and a 1-D folding net).

    python benchmarks/certify_cost.py            # rows 2d_8x8, 2d_16x16, 2d_32x32

For each network ``he_mlp(2, [w, w], seed=0)`` in [-1, 1]^2: the wall time of
``count_regions(net, (-1, 1))`` and of ``count_regions(net, (-1, 1), certify=True)`` (bounds
included, best of 2), the count, and whether it was certified.
"""

from __future__ import annotations

import sys
import time

from milpregions.api import count_regions
from milpregions.testing.constructions import he_mlp, montufar_folding


def best_time(f, runs: int = 2):
    best, res = float("inf"), None
    for _ in range(runs):
        t = time.perf_counter()
        res = f()
        best = min(best, time.perf_counter() - t)
    return best, res


def main(widths=(8, 16, 32)) -> int:
    rows = [("1d_montufar_p3_d4", montufar_folding(1, 3, 4), (0.0, 1.0))]
    rows += [(f"2d_{w}x{w}", he_mlp(2, [w, w], 0), (-1.0, 1.0)) for w in widths]
    print("| row | regions | count s | count --certify s | ratio | certified |")
    print("|---|---|---|---|---|---|")
    for name, net, box in rows:
        t0, r0 = best_time(lambda net=net, box=box: count_regions(net, box))
        t1, r1 = best_time(lambda net=net, box=box: count_regions(net, box, certify=True))
        assert r0.regions == r1.regions
        print(f"| {name} | {r1.regions:,} | {t0:.3f} | {t1:.3f} | {t1 / t0:.1f} | {r1.certified} |",
              flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
