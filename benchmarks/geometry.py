"""Cost of ``count --graph`` and ``count --linear`` over a plain count, on rows of the ladder.

    python benchmarks/geometry.py            # 1-D .. 6-D rows; --quick for the small ones

For each network ``he_mlp(n0, widths, seed=0)`` in [-1, 1]^n0 (and two constructions where
the counts differ): the wall time of the plain count (bounds included, best of 2), then of the
analysis the flags add after it: ``--graph`` (region cells + region graph) and ``--linear``
(graph + output maps + linear regions and affine pieces), each as seconds and as a ratio to
the count; the edges, the average degree against its bound 2 d, how many regions needed the
exact facet search and how many map comparisons were decided exactly; and the peak memory of
the whole run (tracemalloc).
"""

from __future__ import annotations

import sys
import time
import tracemalloc

from milpregions import prepare
from milpregions.api import count
from milpregions.geometry import analyze
from milpregions.testing.constructions import he_mlp, montufar_folding

ROWS = [(1, [32, 32]), (2, [16, 16]), (2, [32, 32]), (2, [50, 50]), (2, [100, 100]),
        (3, [16, 16]), (3, [32, 32]), (4, [16, 16]), (6, [12, 12])]
QUICK = ROWS[:4] + [(3, [16, 16])]


def best(f, runs: int = 2):
    t_best, res = float("inf"), None
    for _ in range(runs):
        t = time.perf_counter()
        res = f()
        t_best = min(t_best, time.perf_counter() - t)
    return t_best, res


def row(name: str, net, box) -> str:
    problem = prepare(net, box)
    found: list = []

    def plain():
        found.clear()
        return count(prepare(net, box), on_region=found.append)

    t0, r = best(plain)
    tg, a = best(lambda: analyze(problem, found, graph=True))
    tl, b = best(lambda: analyze(problem, found, linear=True))
    g = a.graph
    tracemalloc.start()
    analyze(problem, found, linear=True)
    peak = tracemalloc.get_traced_memory()[1] / 2 ** 20
    tracemalloc.stop()
    return (f"| {name} | {r.regions:,} | {t0:.3f} | {tg:.3f} ({tg / t0:.1f}x) | "
            f"{tl:.3f} ({tl / t0:.1f}x) | {len(g.edges):,} | {g.average_degree:.2f} / "
            f"{2 * problem.dim} | {b.linear.linear_regions:,} | {b.linear.affine_pieces:,} | "
            f"{g.exact_regions} | {b.linear.exact_comparisons} | {peak:.0f} |")


def main(argv: list[str]) -> int:
    rows = QUICK if "--quick" in argv else ROWS
    print("| row | regions | count s | + graph s | + linear s | edges | avg degree / 2d "
          "| linear | pieces | exact regions | exact map comparisons | analysis peak MB |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    print(row("2d_montufar_p2_d2", montufar_folding(2, 2, 2), (-1.0, 1.0)), flush=True)
    print(row("1d_montufar_p3_d4", montufar_folding(1, 3, 4), (0.0, 1.0)), flush=True)
    for n0, widths in rows:
        name = f"{n0}d_" + "x".join(map(str, widths))
        print(row(name, he_mlp(n0, widths, 0), (-1.0, 1.0)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
