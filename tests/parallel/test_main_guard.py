"""``count_regions(..., jobs=2)`` from a script: with the main guard it counts; without it,
where every spawned worker imports the script again, it raises a clear error before any task
is counted (never a count of 0), and the workers leave without tracebacks."""

from __future__ import annotations

import subprocess
import sys

SCRIPT = """\
from milpregions.api import count_regions
from milpregions.testing.constructions import he_mlp

{body}
"""
COUNT = "print('regions', count_regions(he_mlp(3, [10, 10], 3), (-1.0, 1.0), jobs=2).regions)"


def _run(tmp_path, body: str) -> subprocess.CompletedProcess:
    path = tmp_path / "sweep.py"
    path.write_text(SCRIPT.format(body=body))
    return subprocess.run([sys.executable, str(path)], capture_output=True, text=True,
                          timeout=300, cwd=tmp_path)


def test_guarded_and_unguarded_scripts(tmp_path):
    guarded = _run(tmp_path, "if __name__ == '__main__':\n    " + COUNT)
    assert guarded.returncode == 0, guarded.stderr
    assert guarded.stdout == "regions 1267\n"
    bare = _run(tmp_path, COUNT)
    assert bare.returncode == 1 and bare.stdout == ""
    last = bare.stderr.strip().splitlines()[-1]
    assert last.startswith("milpregions.errors.InputError: worker processes cannot start: the "
                           "script counts with jobs > 1 outside `if __name__ == \"__main__\":`")
    assert bare.stderr.count("Traceback") == 1          # the script's own, none from workers
