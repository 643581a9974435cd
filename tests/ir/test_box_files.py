"""A box or centre file that cannot be read is a one-line error naming it (exit 2)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]


@pytest.mark.parametrize("flag,name,content,what", [
    ("--box-file", "box.npz", b"PK\x03\x04garbage", "cannot read box (File is not a zip file)"),
    ("--box-file", "box.npy", b"", "cannot read box (No data left in file)"),
    ("--center", "c.npy", b"", "cannot read the centre (No data left in file)"),
])
def test_a_damaged_box_file_is_a_one_line_error(tmp_path, flag, name, content, what):
    path = tmp_path / name
    path.write_bytes(content)
    extra = ["--radius", "0.1"] if flag == "--center" else []
    p = subprocess.run([sys.executable, "-m", "milpregions", "count",
                        str(ROOT / "models" / "zaslavsky_2d_8.onnx"), flag, str(path), *extra],
                       capture_output=True, text=True, timeout=120)
    assert (p.returncode, p.stdout, p.stderr) == (2, "", f"milpregions: {path}: {what}\n")


class _Payload:
    """Unpickling this runs a shell command that creates ``marker``."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        import os

        return (os.system, (f"touch {self.marker}",))


@pytest.mark.parametrize("flag,name", [("--box-file", "box.npy"), ("--box-file", "box.npz"),
                                       ("--center", "c.npy")])
def test_a_pickled_array_is_refused_and_runs_nothing(tmp_path, flag, name):
    """An object array (a pickle inside .npy/.npz) is never unpickled: exit 2, one line, and
    the planted command has not run."""
    import numpy as np

    marker = tmp_path / "pwned"
    arr = np.array([_Payload(marker), 1.0], dtype=object)
    path = tmp_path / name
    if name.endswith(".npz"):
        np.savez(path, lo=arr, hi=np.ones(2))
    else:
        np.save(path, np.stack([arr, arr]) if flag == "--box-file" else arr, allow_pickle=True)
    extra = ["--radius", "0.1"] if flag == "--center" else []
    p = subprocess.run([sys.executable, "-m", "milpregions", "count",
                        str(ROOT / "models" / "zaslavsky_2d_8.onnx"), flag, str(path), *extra],
                       capture_output=True, text=True, timeout=120)
    assert (p.returncode, p.stdout) == (2, "")
    assert p.stderr.startswith(f"milpregions: {path}: cannot read ") and \
        "Object arrays cannot be loaded when allow_pickle=False" in p.stderr, p.stderr
    assert p.stderr.count("\n") == 1
    assert not marker.exists()
