"""Nothing in the package unpickles data from disk or the network (issue 21): no module imports
a deserialiser that can run code (pickle, marshal, shelve, dill, cloudpickle, joblib), no
``torch.load``, and every ``numpy.load`` passes ``allow_pickle=False``. Checked on the source
tree, so a new call site fails here before it ships. (Ray and Dask move tasks between their
own processes by pickling, which is how those engines work: the local clusters a count starts
listen on loopback (Dask) or take token authentication (Ray), README "On a cluster".)"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "milpregions"
UNSAFE_MODULES = {"pickle", "_pickle", "cPickle", "marshal", "shelve", "dill", "cloudpickle",
                  "joblib"}
# modules that pickle only between processes they start themselves, never from disk or a socket
PROCESS_PIPES = {
    # ``count_many``: the driver pickles each Problem and sends it down the pipe of a worker it
    # forked (multiprocessing); the worker unpickles what its own driver sent
    "studies/many.py": ["import pickle"],
}


def _sources() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def _offences(tree: ast.AST) -> list[str]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [f"import {a.name}" for a in node.names
                      if a.name.split(".")[0] in UNSAFE_MODULES]
        elif isinstance(node, ast.ImportFrom) and node.module:
            if node.module.split(".")[0] in UNSAFE_MODULES:
                found.append(f"from {node.module} import ...")
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            owner = node.func.value
            name = owner.id if isinstance(owner, ast.Name) else ""
            if node.func.attr == "load" and name == "torch":
                found.append("torch.load(...)")
            if node.func.attr == "read_pickle":
                found.append(f"{name}.read_pickle(...)")
            if node.func.attr == "load" and name in ("np", "numpy"):
                safe = [k for k in node.keywords if k.arg == "allow_pickle"
                        and isinstance(k.value, ast.Constant) and k.value.value is False]
                if not safe:
                    found.append(f"{name}.load(...) without allow_pickle=False")
    return found


def test_the_checker_sees_each_kind_of_offence():
    """The checker itself: each unsafe spelling is caught, the safe one is not."""
    bad = ("import pickle\nfrom marshal import loads\nimport numpy as np\nnp.load('a.npy')\n"
           "np.load('a.npy', allow_pickle=True)\nimport torch\ntorch.load('m.pt')\n"
           "import pandas as pd\npd.read_pickle('x')\n")
    assert _offences(ast.parse(bad)) == [
        "import pickle", "from marshal import ...", "np.load(...) without allow_pickle=False",
        "np.load(...) without allow_pickle=False", "torch.load(...)", "pd.read_pickle(...)"]
    assert _offences(ast.parse("import numpy as np\nnp.load('a', allow_pickle=False)\n")) == []


@pytest.mark.parametrize("path", _sources(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_module_unpickles(path):
    allowed = PROCESS_PIPES.get(str(path.relative_to(PACKAGE)), [])
    assert _offences(ast.parse(path.read_text(), str(path))) == allowed


def test_a_pipe_module_reads_only_its_own_pipes():
    """The exempt modules unpickle only what came through a multiprocessing pipe."""
    for rel in PROCESS_PIPES:
        text = (PACKAGE / rel).read_text()
        assert "multiprocessing" in text and "open(" not in text and "socket" not in text


def test_the_package_has_its_numpy_loads():
    """The scan reads the modules that load arrays (the box and point files), so a test that
    passes does so on real call sites, not on an empty tree."""
    calls = sum(ast.dump(ast.parse(p.read_text())).count("attr='load'") for p in _sources())
    assert len(_sources()) > 50 and calls >= 4
