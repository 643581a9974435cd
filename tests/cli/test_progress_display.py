"""The progress display of a single-process count (``cli.common.Progress``/``ProgressLines``):
the cover and ETA on the line, the first compile announced on a line of its own with a status
that keeps ticking while the compile holds the main thread, and ``milpregions warm-up``."""

from __future__ import annotations

import io
import re
import time

from milpregions.cli.common import Progress, ProgressLines
from milpregions.cli.main import main
from milpregions.enumerator.progress import KERNELS


def test_lines_show_cover_and_an_eta_that_follows_the_pace():
    s = io.StringIO()
    p = ProgressLines(s, every=1e-9)
    p.cover(0.0)
    p(0, 10, 0, 1.0)                        # the pace starts here
    p.cover(0.25)
    p(100, 500, 0, 3.0)                     # 2 s for 25%: 6 s left
    p.cover(0.5)
    p(200, 900, 0, 5.0)                     # 4 s for 50%: 4 s left
    p(10, 50, 0, 9.0)                       # fewer regions: a trial was dropped, new pace
    p.cover(0.75)
    p(300, 1000, 0, 11.0)                   # 2 s for 25%: 2 s left
    assert s.getvalue().splitlines() == [
        "0 regions (0/s), 10 nodes, 0 LPs, 1.0 s, 0.0% covered, ETA -",
        "100 regions (33/s), 500 nodes, 0 LPs, 3.0 s, 25.0% covered, ETA 6 s",
        "200 regions (40/s), 900 nodes, 0 LPs, 5.0 s, 50.0% covered, ETA 4 s",
        "10 regions (1/s), 50 nodes, 0 LPs, 9.0 s, 50.0% covered, ETA -",
        "300 regions (27/s), 1,000 nodes, 0 LPs, 11.0 s, 75.0% covered, ETA 2 s",
    ]


def test_compile_notice_on_its_own_line_and_the_status_ticks():
    s = io.StringIO()
    p = ProgressLines(s, every=0.05)
    p.cover(0.1)
    p.last = -1e9
    p(10, 100, 0, 1.0)
    p.compiling("compiling the LP counting kernel once (about 2 min)")
    time.sleep(0.3)                          # the main thread is busy compiling
    p.compiled(131.0)
    p.cover(0.2)
    p.last = -1e9
    p(0, 50, 0, 140.0)                       # the pace restarts after the compile
    p.cover(0.6)
    p.last = -1e9
    p(40, 150, 0, 144.0)
    lines = s.getvalue().splitlines()
    assert lines[1] == "milpregions: compiling the LP counting kernel once (about 2 min)"
    ticks = lines[2:-3]
    assert len(ticks) >= 2 and all(re.fullmatch(r"compiling: \d+ s", t) for t in ticks)
    assert lines[-3] == "milpregions: compiled in 2 min 11 s"
    assert lines[-2].endswith("20.0% covered, ETA -")
    assert lines[-1].endswith("60.0% covered, ETA 4 s")      # 4 s for 40%: 40% left
    n = len(lines)
    time.sleep(0.15)
    assert len(s.getvalue().splitlines()) == n                # the ticking stopped


def test_terminal_notice_is_not_glued_to_the_status():
    s = io.StringIO()
    p = Progress(s, rate=20.0)
    p(5, 10, 0, 0.5)
    p.compiling("compiling the vertex counting kernel once (about 90 s)")
    time.sleep(0.2)
    p.compiled(86.0)
    p.clear()
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", s.getvalue())
    assert "\nmilpregions: compiling the vertex counting kernel once (about 90 s)\n" in \
        text.replace("\r", "\n")
    assert "milpregions: compiled in 1 min 26 s\n" in text.replace("\r", "\n")
    assert re.search(r"compiling: \d+ s", text)


def test_warm_up_loads_or_compiles_every_kernel(capsys):
    assert main(["warm-up"]) == 0
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith("milpregions: numba's cache: ")
    for what, _ in KERNELS.values():
        assert any(re.fullmatch(rf"milpregions: {re.escape(what)}: (loaded|compiled) in "
                                r"\d+ s|.* min .*", line) for line in err), what
    assert main(["warm-up", "--quiet"]) == 0
    assert capsys.readouterr().err == ""
