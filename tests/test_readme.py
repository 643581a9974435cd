"""The README's examples run and print what it says they print."""

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def test_python_example_prints_what_the_comment_says(capsys, monkeypatch):
    monkeypatch.chdir(ROOT)
    blocks = re.findall(r"```python\n(.*?)```", README, re.S)
    assert blocks
    spaces = []
    for code in blocks:
        spaces.append({})
        exec(compile(code, "README.md", "exec"), spaces[-1])
    out = capsys.readouterr().out.splitlines()
    assert "37 True" in out
    assert "37 21 16" in out                 # all of R^2: regions, bounded, unbounded
    assert "102" in out                      # the prepared-Problem example: he_2d_8x8 on [-1, 1]^2
    assert "25 25 21" in out and "40 3.2" in out     # the linear-regions example
    assert "37 2 [1 1 0 1 1 0 0 0]" in out and "True 64" in out     # regions as data
    assert "216 246 30 30 30" in out and "(174, 72) 3 (1, 2)" in out   # decision boundaries
    assert "127" in out and "1058" in out    # the torch modules (torch 2.13, seed 0)
    assert "[[6, 14], [6, 24], [4, 14], [4, 18], [2, 25]]" in out and "4.0 True" in out  # local
    # the classifier: its count is the count of sklearn's own weights written by hand (the
    # number in the README is scikit-learn 1.9's training)
    from milpregions.api import count_regions
    from milpregions.ir.network import mlp

    clf = next(ns["clf"] for ns in spaces if "clf" in ns)
    by_hand = mlp([W.T.astype(float) for W in clf.coefs_], [b.astype(float) for b in clf.intercepts_])
    assert str(count_regions(by_hand, (-1, 1)).regions) in out
    assert any(line.startswith("clf.onnx: dropped trailing node 'Relu2' (Sigmoid, opset 14) and "
                               "what follows (Sub, Concat, ArgMax,") for line in out)
    picture = Path(next(ns["picture"] for ns in spaces if "picture" in ns))
    assert not picture.is_relative_to(ROOT)             # an example writes to a temporary path
    assert picture.stat().st_size > 0
    picture.unlink()
    picture.parent.rmdir()


def test_linear_regions_example_and_picture(tmp_path):
    block = README.split("## Linear regions, the region graph and pictures", 1)[1]
    block = block.split("\n## ", 1)[0]
    m = re.search(r"    \$ (milpregions .*)\n((?:    [^$].*\n)+)", block)
    p = subprocess.run([sys.executable, "-m", *m.group(1).split()], cwd=ROOT,
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    assert p.stdout == "".join(l[4:] + "\n" for l in m.group(2).splitlines())
    plot = next(l.strip() for l in block.splitlines() if l.startswith("    milpregions plot"))
    argv = plot.split()[1:]
    argv[argv.index("-o") + 1] = str(tmp_path / "regions.png")
    p = subprocess.run([sys.executable, "-m", "milpregions", *argv], cwd=ROOT,
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    assert p.stdout == f"{tmp_path / 'regions.png'}: 412 regions drawn (412 linear regions)\n"
    assert "](docs/regions.png)" in block and (ROOT / "docs" / "regions.png").exists()


def test_quick_start_commands():
    lines = README.split("## Quick start", 1)[1].split("## ", 1)[0]
    commands = [l.strip() for l in lines.splitlines() if l.startswith("    ")]
    assert len(commands) == 2
    install_and_count, install_and_test = commands
    # .ci/run runs the README's test command: its install half once, the lint, its test half
    install, test = (half.strip() for half in install_and_test.split("&&"))
    ci = [l for l in (ROOT / ".ci" / "run").read_text().splitlines()
          if l and not l.startswith("#")]
    assert ci.count(install) == 1 and ci[-1] == test and ci.index(install) < len(ci) - 1
    assert sum("pip install" in l for l in ci) == 1
    # the counting half of the first command, run on the installed package
    count = install_and_count.split("&&", 1)[1].split()
    assert count[0] == "milpregions"
    p = subprocess.run([sys.executable, "-m", "milpregions", *count[1:]], cwd=ROOT,
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    assert p.stdout.splitlines()[0] == "16 regions"


def test_series_example():
    block = README.split("### A series of checkpoints", 1)[1].split("\n## ", 1)[0]
    m = re.search(r"    \$ (milpregions .*)\n((?:    [^$].*\n)+)", block)
    p = subprocess.run([sys.executable, "-m", *m.group(1).split()], cwd=ROOT,
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    seconds = re.compile(r"\d+\.\d+( s)?$")       # the seconds differ from run to run
    got = [seconds.sub("", line) for line in p.stdout.splitlines()]
    want = [seconds.sub("", line[4:]) for line in m.group(2).splitlines()]
    assert got == want


def test_cnn_example():
    block = README.split("### Counting near a data point", 1)[1]
    cmd = next(l.strip() for l in block.splitlines() if l.startswith("    milpregions"))
    p = subprocess.run([sys.executable, "-m", "milpregions", *cmd.split()[1:]], cwd=ROOT,
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    assert p.stdout.splitlines()[0] == "144 regions"


# ------------------------------------------------------------- every command the README shows

#: what stands for a model or a file in the README's command lines, and what the test puts there
PLACEHOLDERS = {"MODEL": "models/he_2d_8x8.onnx", "model.onnx": "models/he_2d_8x8.onnx"}


def readme_command_lines() -> list[str]:
    """Every ``milpregions ...`` line of the README's indented blocks, comments cut off."""
    found = re.findall(r"^    (?:\$ )?(milpregions .*)$", README, re.M)
    return [re.split(r"\s+#\s", line, maxsplit=1)[0].strip() for line in found]


def test_every_command_line_of_the_readme_parses_without_an_old_spelling():
    from milpregions.cli.flags import deprecation_warnings
    from milpregions.cli.main import COMMANDS, build_parser, join_negative_values

    lines = readme_command_lines()
    assert len(lines) >= 30
    assert {shlex.split(line)[1] for line in lines} == set(COMMANDS)   # every command shown
    for line in lines:
        argv = [PLACEHOLDERS.get(a, a) for a in shlex.split(line)[1:]]
        try:
            args = build_parser(argv[0]).parse_args(join_negative_values(argv))
        except SystemExit:
            raise AssertionError(f"the README's command does not parse: {line}") from None
        assert deprecation_warnings(args) == [], line
        for flag in ("-o", "--plot", "--csv", "--regions", "--graph", "--mps", "--lp"):
            if flag in argv:                        # a file it writes: never a tracked one
                assert not argv[argv.index(flag) + 1].startswith(("docs/", "models/")), line


#: the README's ``$ milpregions`` examples (command, then its output) run here, with why not
#: for the others
NOT_RUN = {
    "local models/digits_mlp.onnx": "100 points x 2 radii (13 s on two workers); rows left out",
    "local models/digits_cnn.onnx": "a 5 s time limit per count: which counts stop depends "
                                    "on the machine",
    "count tseran_maxout.onnx": "the model is exported to a temporary folder first: "
                                "test_decision_section_example runs it",
}
#: what differs from run to run: timings (seconds have 1-3 decimals and come with "s" or
#: "seconds")
TIMING = re.compile(r"\d+\.\d+ s\b|seconds: \d+\.\d+|(?<=\s)\d+\.\d+$|\(\d+\.\d{3} s\)|"
                    r"(?<=\s)\d+\.\d{3}(?=\s)")


def readme_examples() -> list[tuple[str, list[str]]]:
    blocks = re.findall(r"^    \$ (milpregions .*)\n((?:    (?!\$).*\n)+)", README, re.M)
    return [(re.split(r"\s+#\s", cmd, maxsplit=1)[0].strip(),
             [line[4:] for line in out.splitlines()]) for cmd, out in blocks]


def _example_id(example) -> str:
    return " ".join(example[0].split()[1:3])


@pytest.mark.parametrize("example", readme_examples(), ids=_example_id)
def test_a_readme_example_prints_what_the_readme_shows(example):
    command, shown = example
    key = _example_id(example)
    if key in NOT_RUN:
        pytest.skip(NOT_RUN[key])
    p = subprocess.run([sys.executable, "-m", *shlex.split(command)], cwd=ROOT,
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    got = [TIMING.sub("", line).rstrip() for line in p.stdout.splitlines()]
    want = [TIMING.sub("", line).rstrip() for line in shown]
    assert got == want


def test_every_slow_case_is_listed_in_the_tests_section():
    """What the default suite leaves out (``-m slow``) is named in the README with its twin."""
    section = README.split("\n## Tests\n", 1)[1].split("\n## ", 1)[0]
    marked = re.compile(r"pytest\.mark\.slow\b")
    slow = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "tests").rglob("test_*.py")
                  if marked.search(p.read_text()))
    assert slow and all(f"`{f}`" in section for f in slow), slow
    assert "    python -m pytest -q -n 2 -m slow" in section.splitlines()


def test_decision_section_example(tmp_path):
    """The section's command on the exported Tseran-Montufar net prints what it shows."""
    from milpregions.onnx.export import to_onnx
    from milpregions.testing.constructions import tseran_maxout

    block = README.split("## Decision boundaries of classifiers", 1)[1].split("\n## ", 1)[0]
    m = re.search(r"    \$ (milpregions .*)\n((?:    [^$].*\n)+)", block)
    argv = m.group(1).split()[1:]
    to_onnx(tseran_maxout(), tmp_path / argv[1])
    p = subprocess.run([sys.executable, "-m", "milpregions", *argv], cwd=tmp_path,
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    assert p.stdout == "".join(l[4:] + "\n" for l in m.group(2).splitlines())
