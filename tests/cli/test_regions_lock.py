"""Two counts on one ``--regions`` file: the second is refused (exit 2, one line naming the
file) and the first one's file is left whole; the lock ends with the count that held it."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time

import pytest

from milpregions.onnx.export import to_onnx
from milpregions.testing import constructions as C


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    """A count of minutes (he_mlp(5, [32, 32]): over 10^5 regions in 10 s): it is still
    writing while the second count starts."""
    path = tmp_path_factory.mktemp("rl") / "he_5d.onnx"
    to_onnx(C.he_mlp(5, [32, 32], 0), path)
    return path


def _cmd(model, regions, *extra) -> list[str]:
    return [sys.executable, "-m", "milpregions", "count", str(model), "--box", "-1,1",
            "--regions", str(regions), *extra]


def _patterns(path) -> list[str]:
    return [json.dumps(json.loads(line)["pattern"]) for line in path.read_text().splitlines()]


@pytest.mark.parametrize("suffix", ["jsonl", "mpr"])
def test_a_second_count_on_a_regions_file_being_written_is_refused(model, tmp_path, suffix,
                                                                   cli):
    regions = tmp_path / f"r.{suffix}"
    first = subprocess.Popen(_cmd(model, regions, "--time-limit", "120"), text=True,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        start = time.monotonic()
        while not regions.exists():            # made when the first count takes its lock
            assert first.poll() is None, first.communicate()
            assert time.monotonic() - start < 60
            time.sleep(0.05)
        # the second count in this process (the lock is the other process's all the same)
        code, out, err = cli(*_cmd(model, regions, "--time-limit", "20")[3:])
        assert first.poll() is None                         # still counting
        assert (code, out) == (2, "")
        assert err == (f"milpregions: {regions}: another count is writing this regions file; "
                       "wait for it to end (or stop it), or write another file\n")
        # stop the first count only once it has written regions (under load it may still
        # be starting, or in its trial, which holds its regions back, when the second ends)
        size, start = regions.stat().st_size, time.monotonic()
        while regions.stat().st_size == size:
            assert first.poll() is None, first.communicate()
            assert time.monotonic() - start < 90
            time.sleep(0.05)
    finally:
        first.send_signal(signal.SIGTERM)                   # stops with a lower bound
        out, err = first.communicate(timeout=120)
    assert first.returncode == 3, err
    found = int(re.match(r"at least ([\d,]+) regions", out).group(1).replace(",", ""))
    assert found > 0
    if suffix == "jsonl":      # the first count's regions, whole: none lost, none twice
        patterns = _patterns(regions)
        assert len(patterns) == found == len(set(patterns))
    else:
        from milpregions.geometry.regionset import RegionSet

        assert len(RegionSet.read(regions)) == found
    # the lock went with the count that held it
    code, out, err = cli(*_cmd(model, regions, "--max-regions", "40")[3:])
    assert code == 3 and out.startswith("at least 40 regions"), err
    if suffix == "jsonl":
        assert len(set(_patterns(regions))) == 40
