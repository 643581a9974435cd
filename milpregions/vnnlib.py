"""The input box of a VNN-LIB property (the format of the VNN-COMP benchmarks).

A property declares inputs ``X_i`` and outputs ``Y_j`` (``declare-const``) and asserts bounds
on them. A region count needs the input set only: every ``(<= X_i c)`` / ``(>= X_i c)`` (either
side, also inside ``and``) bounds one input; assertions on outputs are ignored, and the caller
is told how many. A disjunction of input boxes (``or``) is refused rather than widened.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

import numpy as np

from .errors import InputError

_TOKEN = re.compile(r"\(|\)|[^\s()]+")
_VAR = re.compile(r"^([XY])_(\d+)$")


@dataclass(frozen=True)
class VnnlibBox:
    """The input bounds of a property and how many output constraints it also asserted."""

    lo: np.ndarray
    hi: np.ndarray
    ignored_outputs: int


def _parse(text: str, path: str) -> list:
    """The top-level s-expressions of ``text`` (comments from ';' to the end of a line)."""
    text = "\n".join(line.split(";", 1)[0] for line in text.splitlines())
    stack: list[list] = [[]]
    for tok in _TOKEN.findall(text):
        if tok == "(":
            stack.append([])
        elif tok == ")":
            if len(stack) == 1:
                raise InputError(f"{path}: unbalanced ')' in the VNN-LIB property")
            done = stack.pop()
            stack[-1].append(done)
        else:
            stack[-1].append(tok)
    if len(stack) != 1:
        raise InputError(f"{path}: unbalanced '(' in the VNN-LIB property")
    return stack[0]


def _number(tok, path: str) -> float | None:
    if not isinstance(tok, str):
        return None
    try:
        return float(tok)
    except ValueError:
        return None


def _show(expr) -> str:
    return expr if isinstance(expr, str) else "(" + " ".join(_show(e) for e in expr) + ")"


def _mentions(expr, kind: str) -> bool:
    if isinstance(expr, str):
        m = _VAR.match(expr)
        return bool(m and m.group(1) == kind)
    return any(_mentions(e, kind) for e in expr)


def read_vnnlib(path: str | os.PathLike, dim: int) -> VnnlibBox:
    """The box of the inputs of the property in ``path`` for a model with ``dim`` inputs."""
    path = os.fspath(path)
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except OSError as e:
        raise InputError(f"{path}: cannot read ({e.strerror or e})") from None
    lo = np.full(dim, -np.inf)
    hi = np.full(dim, np.inf)
    declared: set[int] = set()
    ignored = 0

    def bound(expr) -> None:
        nonlocal ignored
        if not isinstance(expr, list) or not expr:
            raise InputError(f"{path}: cannot read the assertion {_show(expr)}")
        op = expr[0]
        if op == "and":
            for e in expr[1:]:
                bound(e)
            return
        if not _mentions(expr, "X"):
            ignored += 1
            return
        if op == "or":
            raise InputError(f"{path}: a disjunction of {len(expr) - 1} input sets is not "
                             "supported (count each box on its own)")
        if op not in ("<=", ">=") or len(expr) != 3 or _mentions(expr, "Y"):
            raise InputError(f"{path}: only bounds (<= X_i c) and (>= X_i c) on single inputs "
                             f"are supported, got {_show(expr)}")
        a, b = expr[1], expr[2]
        if isinstance(a, str) and _VAR.match(a):
            var, c, upper = a, _number(b, path), op == "<="
        else:
            var, c, upper = b, _number(a, path), op == ">="
        if c is None or not isinstance(var, str) or not _VAR.match(var):
            raise InputError(f"{path}: only bounds (<= X_i c) and (>= X_i c) on single inputs "
                             f"are supported, got {_show(expr)}")
        i = int(_VAR.match(var).group(2))
        if i >= dim:
            raise InputError(f"{path}: bounds {var}, but the model has {dim} inputs "
                             f"(X_0 to X_{dim - 1})")
        if upper:
            hi[i] = min(hi[i], c)
        else:
            lo[i] = max(lo[i], c)

    for form in _parse(text, path):
        if not isinstance(form, list) or not form:
            continue
        if form[0] == "declare-const" and len(form) >= 2:
            m = _VAR.match(str(form[1]))
            if m and m.group(1) == "X":
                declared.add(int(m.group(2)))
        elif form[0] == "assert" and len(form) == 2:
            bound(form[1])
    if declared and len(declared) != dim:
        raise InputError(f"{path}: the property declares {len(declared)} inputs, the model "
                         f"has {dim}")
    missing = [i for i in range(dim) if not (np.isfinite(lo[i]) and np.isfinite(hi[i]))]
    if missing:
        raise InputError(f"{path}: X_{missing[0]} has no "
                         + ("lower" if not np.isfinite(lo[missing[0]]) else "upper")
                         + " bound (a region count needs a bounded input box)")
    empty = np.flatnonzero(lo >= hi)
    if empty.size:
        i = int(empty[0])
        raise InputError(f"{path}: the bounds of X_{i} leave no interval "
                         f"([{lo[i]:g}, {hi[i]:g}])")
    return VnnlibBox(lo, hi, ignored)
