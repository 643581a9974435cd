"""Hanin-Rolnick style estimators: regions along random lines, distance to the nearest boundary.

**Regions along a segment** (``segment_regions``): exact breakpoint propagation in float64.
On a piece of the segment ``x(t) = p + t (q - p)``, t in [0, 1], every layer output of the
earlier layers is affine in t, so the layer's pre-activations are affine in t too. A two-piece
unit splits the piece at its zero; a max group splits it where its argmax changes (the
crossings of its pieces). On every sub-piece the bits are read at the midpoint and the layer's
outputs become new affine forms. The activation regions crossed by the segment are the
distinct patterns of the final pieces of positive length. A region is convex, so the segment
crosses it in one interval: the number of runs of equal patterns (after merging adjacent
pieces with one pattern) equals the number of distinct patterns; both are reported (a
difference means a numerical problem). Resolution: breakpoints closer than ``TOL`` (relative
to the segment) are merged, so regions crossed over less than 1e-12 of the segment may be
missed. A pre-activation is treated as constant on a piece when its slope is below ``TOL``
times the sum of the magnitudes that make it up (an identically-zero unit is off).

**Random chords** of the box: a uniform point in the box and a uniform direction (in input
units), extended both ways to the box boundary. Of a polytope domain: a uniform point inside
and a uniform direction, clipped to every row ``A x <= b`` (``estimators.body``).

**Distance to the nearest boundary** (``boundary_distances``): for x in a region with pattern
pi, every pre-activation is the affine map given by pi (Jacobian propagated with the pattern),
and the region in R^n0 is the polyhedron {sign constraints of those maps}. The distance from x
to its boundary is therefore exactly ``min_j |z_j(x)| / ||grad z_j||`` over non-constant units,
and for a max group with winner m ``|z_m - z_i| / ||grad z_m - grad z_i||`` over its other
pieces. The distance to the box faces is reported separately (the region inside the box is
bounded by both).

**Extrapolation to the box count**: both estimates use the model of an isotropic stationary
Poisson hyperplane tessellation with ``lambda`` crossings per unit length of any line. In that
model the expected number of cells meeting a convex body K is
``E N(K) = sum_{k=0}^{n0} (kappa_k / 2^k) lambda^k V_k(K)`` (kappa_k: volume of the unit
k-ball; V_k: intrinsic volumes, for a box the elementary symmetric polynomials of the side
lengths; in 1-D this is 1 + lambda * length). A polytope's V_k are computed exactly from its
vertices for 1 to 3 inputs (``body.polytope_volumes``); in more dimensions no extrapolation is
given (``None``), never the box's number in its place. This is the Hanin & Rolnick (2019) picture made
concrete: regions per unit length along lines ~ lambda (~ #neurons), regions per volume
~ (kappa_n0 / 2^n0) lambda^n0 (~ #neurons^n0 / n0!).

- from the lines: ``lambda = sum (runs_i - 1) / sum length_i`` over the chords;
- from the distances: in the model the distance to the nearest hyperplane is exponential with
  mean ``kappa_{n0-1} / (n0 kappa_n0 lambda)``, so ``lambda = kappa_{n0-1} / (n0 kappa_n0 mean d)``
  (d: distance to the nearest region boundary, box faces excluded).

Real networks are neither stationary nor isotropic: these are the estimators to check against
``milpregions count``, not substitutes for it.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field

import numpy as np

from ..errors import InputError
from ..ir.domain import Box, Polytope
from ..ir.network import MaxLayer, Network
from .body import Body, body_of, intrinsic_volumes
from .text import estimate_text

TOL = 1e-12
FORMULA = "isotropic Poisson hyperplane model: E N = sum_k kappa_k/2^k lambda^k V_k({})"
NO_VOLUMES = ("not given (the intrinsic volumes of a polytope are computed for 1 to 3 inputs "
              "only)")


def _absmat(W):
    return np.abs(W) if isinstance(W, np.ndarray) else abs(W)


def _affine_in_t(aff, forms):
    """Pre-activation slope A, intercept B and magnitude scales of ``aff`` on a piece."""
    A = np.zeros(aff.size)
    B = np.array(aff.b, dtype=np.float64)
    sA = np.zeros(aff.size)
    sB = np.abs(B)
    for s, W in aff.W.items():
        al, be = forms[s]
        A = A + W @ al
        B = B + W @ be
        aW = _absmat(W)
        sA = sA + aW @ np.abs(al)
        sB = sB + aW @ np.abs(be)
    return A, B, sA, sB


def _cuts(ts, a, b):
    """Sorted cut points strictly inside (a, b), merging points closer than TOL."""
    ts = np.sort(ts[(ts > a + TOL) & (ts < b - TOL)])
    if ts.size > 1:
        ts = ts[np.concatenate([[True], np.diff(ts) > TOL])]
    return ts


def segment_regions(net: Network, p, q) -> tuple[np.ndarray, list[bytes]]:
    """Pieces of ``t -> net(p + t (q - p))``, t in [0, 1]: (breakpoints 0 = t_0 < ... < t_m = 1,
    one pattern key per piece). Adjacent pieces with one pattern are merged."""
    p = np.asarray(p, dtype=np.float64).ravel()
    q = np.asarray(q, dtype=np.float64).ravel()
    if p.size != net.input_dim or q.size != net.input_dim:
        raise InputError(f"segment points have {p.size} and {q.size} numbers but the network "
                         f"has {net.input_dim} inputs")
    # a piece: (a, b, forms per source [(slope, intercept)], pattern parts)
    pieces = [(0.0, 1.0, [(q - p, p)], [])]
    for layer in net.layers:
        new = []
        for a, b, forms, pat in pieces:
            A, B, sA, sB = _affine_in_t(layer.affine, forms)
            nonconst = np.abs(A) > TOL * sA
            if isinstance(layer, MaxLayer):
                g = layer.groups
                ts = []
                for row in g:
                    idx = row[row >= 0]
                    if idx.size < 2:
                        continue
                    i, j = np.triu_indices(idx.size, 1)
                    dA = A[idx[j]] - A[idx[i]]
                    ok = np.abs(dA) > TOL * (sA[idx[j]] + sA[idx[i]])
                    ts.append((B[idx[i]][ok] - B[idx[j]][ok]) / dA[ok])
                ts = np.concatenate(ts) if ts else np.zeros(0)
            else:
                ts = -B[nonconst] / A[nonconst]
            edges = np.concatenate([[a], _cuts(ts, a, b), [b]])
            for lo, hi in zip(edges[:-1], edges[1:]):
                m = 0.5 * (lo + hi)
                z = A * m + B
                if isinstance(layer, MaxLayer):
                    vals = np.where(layer.groups >= 0, z[np.maximum(layer.groups, 0)], -np.inf)
                    # identical pieces never split: the first one wins, as in Network.pattern
                    arg = vals.argmax(axis=1)
                    win = layer.groups[np.arange(len(arg)), arg]
                    bits = arg.astype(np.int64)
                    out = (A[win], B[win])
                else:
                    on = np.where(nonconst, z > 0, B > TOL * sB)
                    bits = on
                    f = np.where(on, 1.0, layer.neg_slope)
                    out = (f * A, f * B)
                new.append((lo, hi, forms + [out], pat + [bits]))
        # merge adjacent pieces whose patterns so far are equal (same forms on both)
        merged = []
        for piece in new:
            if merged and all(np.array_equal(x, y) for x, y in zip(merged[-1][3], piece[3])):
                a0, _, f0, p0 = merged[-1]
                merged[-1] = (a0, piece[1], f0, p0)
            else:
                merged.append(piece)
        pieces = merged
    breaks = np.array([pc[0] for pc in pieces] + [1.0])
    keys = [b"".join(np.asarray(x, dtype=np.int64).tobytes() for x in pc[3]) for pc in pieces]
    return breaks, keys


def count_segment(net: Network, p, q) -> tuple[int, int]:
    """(distinct patterns, runs of equal patterns) along the segment p -> q."""
    _, keys = segment_regions(net, p, q)
    return len(set(keys)), len(keys)


# ----------------------------------------------------------------------------- random chords


def random_chords(box: Box | Polytope | Body, k: int, rng) -> tuple[np.ndarray, np.ndarray]:
    """``k`` chords of the box (or polytope): a uniform point, a uniform direction, extended
    to the boundary."""
    return body_of(box).chords(rng, k)


# ---------------------------------------------------------------------- boundary distances


def _matmul(W, D):
    if isinstance(W, np.ndarray):
        return np.matmul(W, D)
    return np.stack([np.asarray(W @ D[i]) for i in range(D.shape[0])])


def boundary_distances(net: Network, X: np.ndarray, batch: int | None = None) -> np.ndarray:
    """Exact distance from each point of X (M, n0) to the boundary of its activation region in
    R^n0 (inf when no unit is non-constant on the region)."""
    X = np.atleast_2d(np.asarray(X, dtype=np.float64))
    M, d = X.shape
    if batch is None:
        batch = max(1, (1 << 22) // max(1, max(net.widths, default=1) * d))
    out = np.full(M, np.inf)
    for s0 in range(0, M, batch):
        Xb = X[s0:s0 + batch]
        Bn = Xb.shape[0]
        pre = net.preactivations(Xb)
        Ds = [np.broadcast_to(np.eye(d), (Bn, d, d))]
        Rs = [np.ones((Bn, d))]       # row norms of the Jacobians, for the constant test
        best = np.full(Bn, np.inf)
        for layer, z in zip(net.layers, pre):
            aff = layer.affine
            J = np.zeros((Bn, aff.size, d))
            scale = np.zeros((Bn, aff.size))
            for s, W in aff.W.items():
                J += _matmul(W, Ds[s])
                scale += Rs[s] @ _absmat(W).T if isinstance(W, np.ndarray) else (_absmat(W) @ Rs[s].T).T
            if isinstance(layer, MaxLayer):
                g = layer.groups
                vals = np.where(g >= 0, z[:, np.maximum(g, 0)], -np.inf)
                arg = vals.argmax(axis=2)                         # (Bn, G)
                win = np.take_along_axis(np.broadcast_to(g, (Bn,) + g.shape), arg[..., None], 2)[..., 0]
                for c in range(g.shape[1]):
                    other = g[:, c]
                    valid = (other >= 0)[None, :] & (arg != c)
                    oi = np.maximum(other, 0)
                    dz = np.take_along_axis(z, win, 1) - z[:, oi]
                    dJ = np.take_along_axis(J, win[..., None], 1) - J[:, oi]
                    nrm = np.linalg.norm(dJ, axis=2)
                    sc = np.take_along_axis(scale, win, 1) + scale[:, oi]
                    ok = valid & (nrm > TOL * sc)
                    dist = np.where(ok, np.abs(dz) / np.where(ok, nrm, 1.0), np.inf)
                    best = np.minimum(best, dist.min(axis=1, initial=np.inf))
                D = np.take_along_axis(J, win[..., None], 1)
            else:
                nrm = np.linalg.norm(J, axis=2)
                ok = nrm > TOL * scale
                dist = np.where(ok, np.abs(z) / np.where(ok, nrm, 1.0), np.inf)
                best = np.minimum(best, dist.min(axis=1, initial=np.inf))
                f = np.where(z > 0, 1.0, layer.neg_slope[None, :])
                D = f[..., None] * J
            Ds.append(D)
            Rs.append(np.linalg.norm(D, axis=2))
        out[s0:s0 + Bn] = best
    return out


def face_distances(box: Box | Polytope | Body, X: np.ndarray) -> np.ndarray:
    """Distance from each point to the box faces (a polytope's facet hyperplanes)."""
    return body_of(box).face_distances(X)


# ---------------------------------------------------------------------------- extrapolation


def kappa(k: int) -> float:
    """Volume of the unit ball in R^k."""
    return math.pi ** (k / 2) / math.gamma(k / 2 + 1)


def poisson_cells(lam: float, sides) -> float:
    """E N(K) = sum_k (kappa_k / 2^k) lam^k V_k(K) for an isotropic Poisson hyperplane model
    and K the box of these side lengths."""
    return poisson_cells_of(lam, intrinsic_volumes(sides))


def poisson_cells_of(lam: float, V: list[float]) -> float:
    """E N(K) for a convex body K of intrinsic volumes ``V`` (V_0..V_d)."""
    with np.errstate(over="ignore"):
        try:
            return float(sum(kappa(k) / 2 ** k * lam ** k * V[k] for k in range(len(V))))
        except OverflowError:
            return float("inf")


def lambda_from_distance(mean_d: float, d: int) -> float:
    return kappa(d - 1) / (d * kappa(d) * mean_d)


@dataclass
class LinesResult:
    lines: int
    regions_per_line: list[int]
    runs_per_line: list[int]
    lengths: list[float]
    mean_regions: float
    density: float                      # crossings per unit length (lambda from the lines)
    estimate_from_lines: float | None   # None: the body's intrinsic volumes are not known
    points: int
    mean_distance: float | None
    median_distance: float | None
    mean_face_distance: float | None
    inside_fraction: float | None       # points whose region boundary is nearer than the faces
    density_from_distance: float | None
    estimate_from_distance: float | None
    seconds: float
    seed: int | None
    mismatched_lines: int = 0           # runs != distinct (a numerical warning)
    formula: str = field(default="isotropic Poisson hyperplane model: "
                                  "E N = sum_k kappa_k/2^k lambda^k V_k(box)")
    stopped: str | None = None          # "interrupted": fewer lines than asked for
    body: str = "box"                   # what the chords cross: "box" or "polytope"

    def to_dict(self) -> dict:
        d = asdict(self)
        for k, v in d.items():          # JSON has no infinity: an overflowing estimate is null
            if isinstance(v, float) and not math.isfinite(v):
                d[k] = None
        return d


@dataclass
class DistanceSample:
    """Exact distances from random points to the nearest region boundary, and what they imply."""

    points: int
    mean: float | None               # None: no boundary (the network is affine)
    median: float | None
    mean_face: float                 # mean distance to the box faces (a polytope's facets)
    inside_fraction: float           # points whose region boundary is nearer than the faces
    density: float | None            # crossings per unit length implied by the mean distance
    estimate: float | None           # the Poisson-model count (None: no boundary, or a body
                                     # whose intrinsic volumes are not known)


def extrapolate(lam: float, body: Body) -> float | None:
    """The Poisson-model count of ``body`` at density ``lam`` (None where its intrinsic
    volumes are not known)."""
    V = body.volumes()
    return None if V is None else poisson_cells_of(lam, V)


def distance_sample(net: Network, box: Box | Polytope | Body, points: int,
                    rng) -> DistanceSample:
    """``points`` uniform points of ``box`` (or a polytope) drawn from ``rng``, their exact
    boundary distances, the implied crossing density and the Poisson-model count."""
    if points < 1:
        raise InputError(f"points must be at least 1, got {points}")
    body = body_of(box)
    d = body.dim
    X = body.uniform(rng, points)
    dist = boundary_distances(net, X)
    faces = body.face_distances(X)
    fin = dist[np.isfinite(dist)]
    mf = float(faces.mean())
    inside = float(np.mean(dist < faces))
    if not fin.size:
        return DistanceSample(points, None, None, mf, inside, None, None)
    md = float(fin.mean())
    lam = lambda_from_distance(md, d)
    return DistanceSample(points, md, float(np.median(fin)), mf, inside, lam,
                          extrapolate(lam, body))


def run_lines(net: Network, box: Box | Polytope | Body, lines: int, points: int = 0,
              seed: int | None = None, should_stop=None) -> LinesResult:
    """``lines`` random chords of ``box`` (or of a polytope domain) counted exactly, and
    ``points`` boundary distances.
    Once ``should_stop()`` says True (checked after every chord) it ends with the chords done
    (at least one) and no distances, ``stopped="interrupted"``."""
    if lines < 1:
        raise InputError(f"lines must be at least 1, got {lines}")
    if points < 0:
        raise InputError(f"points must be at least 0, got {points}")
    t0 = time.perf_counter()
    rng = np.random.default_rng(seed)
    body = body_of(box)
    P, Q = body.chords(rng, lines)
    distinct, runs, lengths = [], [], []
    stopped = None
    for p, q in zip(P, Q):
        nd, nr = count_segment(net, p, q)
        distinct.append(nd)
        runs.append(nr)
        lengths.append(float(np.linalg.norm(q - p)))
        if should_stop is not None and should_stop():
            stopped, points = "interrupted", 0
            break
    total = sum(lengths)
    lam = sum(r - 1 for r in runs) / total if total > 0 else float("nan")
    est_l = extrapolate(lam, body)
    ds = distance_sample(net, body, points, rng) if points else None
    md, med, mf, inside, lam_d, est_d = ((ds.mean, ds.median, ds.mean_face, ds.inside_fraction,
                                          ds.density, ds.estimate) if ds is not None
                                         else (None,) * 6)
    return LinesResult(len(distinct), distinct, runs, lengths, float(np.mean(distinct)), lam,
                       est_l, points, md, med, mf, inside, lam_d, est_d,
                       time.perf_counter() - t0, seed,
                       int(sum(a != b for a, b in zip(distinct, runs))), stopped=stopped,
                       body=body.kind, formula=FORMULA.format(body.kind))


def format_lines(r: LinesResult) -> list[str]:
    """The lines of ``milpregions lines``: counts with thousands separators, every estimate with
    one decimal and labelled ``(estimate)`` (``estimators.text``)."""
    lines = [
        f"mean over {r.lines:,} random chords: {r.mean_regions:,.2f} regions per chord "
        f"(min {min(r.regions_per_line):,}, max {max(r.regions_per_line):,})",
        f"boundary crossings per unit length: {r.density:.4g}",
        f"regions in the {r.body}, from the lines: " + _estimate(r.estimate_from_lines),
    ]
    if r.mismatched_lines:
        lines.append(f"warning: on {r.mismatched_lines:,} chords the runs and distinct patterns "
                     "differ (numerical trouble near breakpoints)")
    if r.points:
        if r.mean_distance is None:
            lines.append(f"{r.points:,} points: no region boundary (the network is affine)")
        else:
            lines += [
                f"{r.points:,} points: distance to the nearest region boundary mean "
                f"{r.mean_distance:.4g}, median {r.median_distance:.4g}; to the {r.body} faces mean "
                f"{r.mean_face_distance:.4g}; boundary nearer than the faces for "
                f"{r.inside_fraction:.1%}",
                f"crossings per unit length from the distances: {r.density_from_distance:.4g}",
                f"regions in the {r.body}, from the distances: "
                + _estimate(r.estimate_from_distance),
            ]
    lines.append(f"formula: {r.formula}")
    lines.append(f"seconds: {r.seconds:.3f} (seed {r.seed})")
    if r.stopped is not None:
        lines.append(f"interrupted after {r.lines:,} chords")
    return lines


def _estimate(v: float | None) -> str:
    return NO_VOLUMES if v is None else f"{estimate_text(v)} (estimate)"
