"""``count --checkpoint``: kill -9 of a real run at random moments, then the same command
again, gives the identical count, and ``--regions`` holds every region exactly once; with one
process or two workers, switching between them on resume; another count is refused."""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys

import pytest

from milpregions.onnx.export import to_onnx
from milpregions.testing.constructions import he_mlp

from child_processes import lines_in, wait_for_cpu, wait_for_lines

REGIONS = 25_009            # he_mlp(4, [16, 16], seed=0) in [-1, 1]^4


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    path = tmp_path_factory.mktemp("ck") / "he_4d_16x16.onnx"
    to_onnx(he_mlp(4, [16, 16], 0), path)
    return path


def _count(model, ck, regions, *extra) -> list[str]:
    return [sys.executable, "-m", "milpregions", "count", str(model), "--box", "-1,1",
            "--checkpoint", str(ck), "--regions", str(regions), "--json", *extra]


@pytest.mark.parametrize("seed", [0, pytest.param(1, marks=pytest.mark.slow)])
def test_kill_9_at_random_moments_then_resume_counts_every_region_once(model, tmp_path, seed):
    """Three runs killed inside the count: the first at a random moment of its start (its
    imports, bounds and first batches: a random amount of CPU), the next two once a random
    share of what was left is recorded; one process and two workers in turn. (A fixed random
    sleep of 0.5-4 s let the runs end before their kill once counts got faster.)"""
    rng = random.Random(seed)
    ck, regions = tmp_path / "run.sqlite", tmp_path / "regions.jsonl"
    for attempt in range(3):
        extra = ["--jobs", "2"] if attempt % 2 == seed % 2 else []
        proc = subprocess.Popen(_count(model, ck, regions, *extra), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)
        if attempt == 0:
            wait_for_cpu(proc, rng.uniform(0.3, 1.2))
        else:
            have = lines_in(regions)
            wait_for_lines(regions, have + rng.randint(1, (REGIONS - have) // 2), proc)
        assert proc.poll() is None, "killed inside the count"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    assert 0 < lines_in(regions) < REGIONS
    done = subprocess.run(_count(model, ck, regions), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    d = json.loads(done.stdout)
    assert d["regions"] == REGIONS and d["exact"] is True
    lines = regions.read_text().splitlines()
    patterns = {json.dumps(json.loads(line)["pattern"]) for line in lines}
    assert len(lines) == len(patterns) == REGIONS


def test_a_checkpoint_of_another_count_is_refused(model, tmp_path, cli):
    ck, regions = tmp_path / "run.sqlite", tmp_path / "regions.jsonl"
    argv = _count(model, ck, regions)[3:]                         # in this process
    code, out, err = cli(*argv)
    assert code == 0 and json.loads(out)["regions"] == REGIONS, err
    code, out, err = cli(*argv)
    assert json.loads(out)["regions"] == REGIONS                  # all recorded: nothing to do
    assert len(regions.read_text().splitlines()) == REGIONS
    argv[argv.index("-1,1")] = "0,1"                              # another domain
    code, out, err = cli(*argv)
    assert (code, out) == (2, "")
    assert err == (f"milpregions: {ck}: this checkpoint is of another count (different "
                   "domain); remove it or name another file\n")


def _workers(pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid), "-f", "spawn_main"], capture_output=True,
                         text=True).stdout
    return [int(x) for x in out.split()]


# the workers must still hold batches when the first one is recorded: 32 batches (16 per
# worker) of 25,009 regions do; the run of 118,561 regions (~21 s) is under -m slow
@pytest.mark.parametrize("dims,regions_want", [
    ((4, [16, 16]), REGIONS), pytest.param((5, [16, 16]), 118_561, marks=pytest.mark.slow)],
    ids=["he_4d_16x16", "he_5d_16x16"])
def test_kill_9_of_a_worker_ends_with_a_lower_bound_and_resumes(tmp_path, dims, regions_want):
    ck, regions = tmp_path / "run.sqlite", tmp_path / "regions.jsonl"
    big = tmp_path / "model.onnx"
    to_onnx(he_mlp(*dims, 0), big)
    proc = subprocess.Popen(_count(big, ck, regions, "--jobs", "2"), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    wait_for_lines(regions, 1, proc)                # a batch is finished
    workers = _workers(proc.pid)
    assert workers
    subprocess.run(["kill", "-9", str(workers[0])], check=True)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 3, err
    d = json.loads(out)
    assert d["stopped"] == "worker-lost" and d["lower_bound"] is True and d["regions"] > 0
    # resumed in one process (the workers' start costs two cores a second each; a resume on
    # workers that runs to the end is test_frontier.py's, after kills that left handed-back
    # tasks)
    done = subprocess.run(_count(big, ck, regions), capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["regions"] == regions_want
    lines = regions.read_text().splitlines()
    assert len(lines) == len(set(lines)) == regions_want


def test_max_regions_with_a_checkpoint_is_a_one_line_error(model, tmp_path):
    p = subprocess.run(_count(model, tmp_path / "run.sqlite", tmp_path / "r.jsonl",
                              "--max-regions", "5"), capture_output=True, text=True, timeout=120)
    assert p.returncode == 2 and p.stderr == (
        "milpregions: --max-regions cannot be combined with --checkpoint (the order in which "
        "batches find regions is not the walk's)\n")
