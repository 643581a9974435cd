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
