"""The README's examples run and print what it says they print."""

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def test_python_example_prints_what_the_comment_says(capsys, monkeypatch):
    monkeypatch.chdir(ROOT)
    blocks = re.findall(r"```python\n(.*?)```", README, re.S)
    assert blocks
    for code in blocks:
        exec(compile(code, "README.md", "exec"), {})
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "37 True"
    assert "102" in out                      # the prepared-Problem example: he_2d_8x8 on [-1, 1]^2


def test_quick_start_commands():
    lines = README.split("## Quick start", 1)[1].split("## ", 1)[0]
    commands = [l.strip() for l in lines.splitlines() if l.startswith("    ")]
    assert len(commands) == 2
    install_and_count, install_and_test = commands
    assert install_and_test in (ROOT / ".ci" / "run").read_text().splitlines()
    # the counting half of the first command, run on the installed package
    count = install_and_count.split("&&", 1)[1].split()
    assert count[0] == "milpregions"
    p = subprocess.run([sys.executable, "-m", "milpregions", *count[1:]], cwd=ROOT,
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    assert p.stdout.splitlines()[0] == "16 regions"


def test_cnn_example():
    block = README.split("### Counting near a data point", 1)[1]
    cmd = next(l.strip() for l in block.splitlines() if l.startswith("    milpregions"))
    p = subprocess.run([sys.executable, "-m", "milpregions", *cmd.split()[1:]], cwd=ROOT,
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    assert p.stdout.splitlines()[0] == "144 regions"
