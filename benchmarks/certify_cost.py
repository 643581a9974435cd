"""Cost of ``count --certify`` on rows of the ladder (and a 1-D folding net).

    python benchmarks/certify_cost.py        # 1-D, 2d_8x8 .. 2d_32x32, 3d_8x8, 3d_16x16, 4d_8x8

For each network ``he_mlp(n0, [w, w], seed=0)`` in [-1, 1]^n0: the wall time of
``count_regions(net, (-1, 1))`` and of ``count_regions(net, (-1, 1), certify=True)`` (bounds
included, best of 2), the count, whether it was certified, the regions the exact search added
and the exact decisions it made (facets found and rows proven not to be facets).
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


ROWS = [(2, 8), (2, 16), (2, 32), (3, 8), (3, 16), (4, 8)]


def main(rows=ROWS) -> int:
    nets = [("1d_montufar_p3_d4", montufar_folding(1, 3, 4), (0.0, 1.0))]
    nets += [(f"{n0}d_{w}x{w}", he_mlp(n0, [w, w], 0), (-1.0, 1.0)) for n0, w in rows]
    print("| row | regions | count s | count --certify s | ratio | certified | added "
          "| exact decisions |")
    print("|---|---|---|---|---|---|---|---|")
    for name, net, box in nets:
        t0, r0 = best_time(lambda net=net, box=box: count_regions(net, box))
        t1, r1 = best_time(lambda net=net, box=box: count_regions(net, box, certify=True))
        assert r1.certified and r1.regions == r0.regions + r1.certify_added
        print(f"| {name} | {r1.regions:,} | {t0:.3f} | {t1:.3f} | {t1 / t0:.1f} | "
              f"{r1.certified} | {r1.certify_added} | {r1.certify_decisions:,} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
