"""A checkpoint refuses what is not its count and what was damaged, and never runs code from
disk: another tensor counted on, a second run at the same time, flipped bits, a regions file
missing, renamed or changed, a planted pickle. Each refusal is exit 2 and one line; a count
that goes on is the exact one."""

from __future__ import annotations

import io
import json
import pickle
import sqlite3
import subprocess
import sys
from contextlib import redirect_stderr, redirect_stdout

import numpy as np
import pytest

from milpregions.api import count_regions
from milpregions.cli.main import main
from milpregions.enumerator import TreeCounter
from milpregions.onnx.export import to_onnx
from milpregions.parallel import Checkpoint, task_codec
from milpregions.parallel.checkpoint import _digest
from milpregions.problem import prepare
from milpregions.settings import Settings
from milpregions.testing import constructions as C

REGIONS = 2_894             # he_mlp(3, [10, 10, 8], seed=3) in [-1, 1]^3
CUT = 1_267                 # the same counted on layer2.h (its first two layers)


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    path = tmp_path_factory.mktemp("ckm") / "he_3d.onnx"
    to_onnx(C.he_mlp(3, [10, 10, 8], 3), path)
    return path


def _count(model, ck, *extra, regions=None, new_process=False) -> subprocess.CompletedProcess:
    """``milpregions count`` with the checkpoint ``ck``: in this process (the CLI's ``main``,
    its stdout and stderr caught), or ``new_process`` (a run beside one that holds a lock)."""
    argv = ["count", str(model), "--box", "-1,1", "--checkpoint", str(ck), "--json", *extra]
    if regions is not None:
        argv += ["--regions", str(regions)]
    if new_process:
        return subprocess.run([sys.executable, "-m", "milpregions", *argv], capture_output=True,
                              text=True, timeout=300)
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(argv)
    return subprocess.CompletedProcess(argv, code, out.getvalue(), err.getvalue())


def _refused(p: subprocess.CompletedProcess, *words: str) -> None:
    assert p.returncode == 2, p.stderr
    assert p.stdout == "" and p.stderr.count("\n") == 1, p.stderr
    for w in words:
        assert w in p.stderr, p.stderr


def test_the_counts_of_the_fixture(model):
    assert count_regions(str(model), (-1.0, 1.0)).regions == REGIONS
    assert count_regions(str(model), (-1.0, 1.0), output="layer2.h").regions == CUT
    assert count_regions(C.he_mlp(3, [10, 10], 3), (-1.0, 1.0)).regions == CUT


def test_another_output_tensor_is_refused(model, tmp_path):
    ck = tmp_path / "c.sqlite"
    first = _count(model, ck, "--output-tensor", "layer2.h")
    assert first.returncode == 0 and json.loads(first.stdout)["regions"] == CUT
    _refused(_count(model, ck), f"{ck}: this checkpoint is of another count (different output)")
    _refused(_count(model, ck, "--output-tensor", "layer3.h"), "different output")
    again = _count(model, ck, "--output-tensor", "layer2.h")
    assert again.returncode == 0 and json.loads(again.stdout)["regions"] == CUT



@pytest.mark.parametrize("change, named", [
    ("model", "different model_sha256"),
    ("margin", "different margin"),
    ("no-tighten", "different tighten"),
])
def test_a_checkpoint_of_another_model_or_setting_is_refused(model, tmp_path, change, named):
    """Each thing that changes the count is in the identity: another model at the same path
    (weights changed), another margin, no LP tightening. The checkpoint is left as it was:
    the original count resumes to its number."""
    path = tmp_path / "m.onnx"
    path.write_bytes(model.read_bytes())
    ck = tmp_path / "c.sqlite"
    first = _count(path, ck)
    assert first.returncode == 0 and json.loads(first.stdout)["regions"] == REGIONS
    extra: tuple[str, ...] = ()
    if change == "model":
        to_onnx(C.he_mlp(3, [10, 10, 8], 4), path)
    else:
        extra = {"margin": ("--margin", "1e-9"), "no-tighten": ("--no-tighten",)}[change]
    _refused(_count(path, ck, *extra), f"{ck}: this checkpoint is of another count ({named})")
    if change == "model":
        path.write_bytes(model.read_bytes())
    again = _count(path, ck)
    assert again.returncode == 0 and json.loads(again.stdout)["regions"] == REGIONS


def test_a_checkpoint_of_the_python_split_of_the_lp_path_is_refused(tmp_path):
    """The LP path's subtrees are now the compiled LP walk's split, numbered otherwise than
    the Python walk's: a checkpoint from before (its identity without ``split``) is refused,
    and a vertex-path checkpoint does not carry the key (it still resumes)."""
    path, ck = tmp_path / "he_8d.onnx", tmp_path / "c.sqlite"
    to_onnx(C.he_mlp(8, [6, 6], 1), path)
    first = _count(path, ck)
    assert first.returncode == 0, first.stderr
    db = sqlite3.connect(ck)
    identity = json.loads(db.execute("SELECT value FROM meta WHERE name = 'identity'").fetchone()[0])
    assert identity["split"] == "lp_kernel, 16384 nodes"
    del identity["split"]                       # what a checkpoint of 12314a4 holds
    key = json.dumps(identity, sort_keys=True)
    db.execute("UPDATE meta SET value = ? WHERE name = 'identity'", (key,))
    db.execute("UPDATE meta SET value = ? WHERE name = 'identity_sha256'", (_digest(key),))
    db.commit()
    db.close()
    _refused(_count(path, ck), f"{ck}: this checkpoint is of another count (different split)")
    low = tmp_path / "low.sqlite"
    assert _count(_low_dim_model(tmp_path), low).returncode == 0
    db = sqlite3.connect(low)
    identity = json.loads(db.execute("SELECT value FROM meta WHERE name = 'identity'").fetchone()[0])
    db.close()
    assert "split" not in identity


def _low_dim_model(tmp_path):
    path = tmp_path / "he_3d.onnx"
    to_onnx(C.he_mlp(3, [6, 6], 0), path)
    return path


def test_a_second_run_on_a_locked_checkpoint_is_refused(model, tmp_path):
    ck = tmp_path / "c.sqlite"
    holder = Checkpoint(ck, {"held": True})     # another run holds the lock
    try:
        _refused(_count(model, ck, new_process=True),
                 f"{ck}: another run is using this checkpoint")
    finally:
        holder.close()
    ck.unlink()
    done = _count(model, ck)
    assert done.returncode == 0 and json.loads(done.stdout)["regions"] == REGIONS


def _finished(model, tmp_path, jobs="2"):
    ck, regions = tmp_path / "c.sqlite", tmp_path / "r.jsonl"
    p = _count(model, ck, "--jobs", jobs, regions=regions)
    assert p.returncode == 0 and json.loads(p.stdout)["regions"] == REGIONS, p.stderr
    assert len(regions.read_text().splitlines()) == REGIONS
    return ck, regions


def test_a_damaged_record_is_refused_never_counted(model, tmp_path):
    ck, regions = _finished(model, tmp_path)
    db = sqlite3.connect(ck)
    bid, text = db.execute("SELECT id, result FROM batch ORDER BY id LIMIT 1").fetchone()
    bad = json.loads(text)
    bad["regions"] += 8_000                      # a flipped bit in the count of one batch
    db.execute("UPDATE batch SET result = ? WHERE id = ?", (json.dumps(bad), bid))
    db.commit()
    db.close()
    _refused(_count(model, ck, regions=regions),
             f"{ck}: damaged checkpoint (the record of task {bid} fails its checksum)")


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_random_byte_flips_never_change_the_count(model, tmp_path, seed):
    """Flip bytes anywhere in the file: the resumed run is refused (exit 2, one line) or, where
    the flip hit unused space, counts the exact number; never another number, never exit 1."""
    ck, regions = _finished(model, tmp_path)
    data = bytearray(ck.read_bytes())
    rng = np.random.default_rng(seed)
    outcomes = set()
    for _ in range(8):
        flipped = bytearray(data)
        at = int(rng.integers(0, len(flipped)))
        flipped[at] ^= 1 << int(rng.integers(0, 8))
        ck.write_bytes(bytes(flipped))
        p = _count(model, ck, regions=regions)
        if p.returncode == 0:
            assert json.loads(p.stdout)["regions"] == REGIONS
            outcomes.add(0)
        else:
            _refused(p, str(ck))
            outcomes.add(2)
    assert outcomes <= {0, 2}


def test_the_regions_file_of_a_resume_is_verified(model, tmp_path):
    ck, regions = _finished(model, tmp_path)
    text = regions.read_text()
    moved = tmp_path / "moved.jsonl"
    _refused(_count(model, ck, regions=moved), f"{ck}: this count was started with --regions",
             "resume it the same way")
    _refused(_count(model, ck), "this count was started with --regions")
    regions.unlink()
    _refused(_count(model, ck, regions=regions), f"{regions}: cannot read the regions")
    regions.write_text(text[: len(text) // 2])
    _refused(_count(model, ck, regions=regions), f"{regions}: holds", "bytes")
    lines = text.splitlines(keepends=True)
    lines[5] = lines[5].replace('"pattern"', '"Pattern"')
    regions.write_text("".join(lines))
    _refused(_count(model, ck, regions=regions), f"{regions}: the regions of recorded task")
    assert not moved.exists()
    regions.write_text(text)                     # restored: the resume counts nothing new
    p = _count(model, ck, regions=regions)
    assert p.returncode == 0 and json.loads(p.stdout)["regions"] == REGIONS
    assert regions.read_text() == text


def test_regions_asked_only_on_resume_are_refused(model, tmp_path):
    ck = tmp_path / "c.sqlite"
    assert _count(model, ck).returncode == 0
    _refused(_count(model, ck, regions=tmp_path / "new.jsonl"),
             "this count was started without --regions")
    assert not (tmp_path / "new.jsonl").exists()


def test_certify_with_a_checkpoint_is_refused(model, tmp_path):
    _refused(_count(model, tmp_path / "c.sqlite", "--certify"),
             "--certify cannot be combined with --checkpoint")


def test_a_planted_pickle_runs_nothing(model, tmp_path):
    ck, regions = _finished(model, tmp_path)
    marker = tmp_path / "pwned"

    class Payload:
        def __reduce__(self):
            import os
            return (os.system, (f"touch {marker}",))

    blob = pickle.dumps(Payload())
    db = sqlite3.connect(ck)
    db.execute("INSERT INTO task VALUES (?, ?, ?, ?)", (10_000, 0, blob,
                                                        _digest(10_000, 0, blob)))
    db.commit()
    db.close()
    _refused(_count(model, ck, regions=regions),
             f"{ck}: damaged checkpoint (stored task 10000: not an encoded task)")
    assert not marker.exists()


@pytest.mark.parametrize("net,d", [(C.he_mlp(3, [10, 10, 8], 1), 3),
                                   (C.he_mlp(7, [8, 8], 2), 7)])
def test_tasks_round_trip_as_plain_arrays(net, d):
    """Every handed-back task goes through the codec (compiled vertex and LP walks, Python
    cells): the count is the count of one walk."""
    p = prepare(net, (-1.0, 1.0), Settings())
    whole = TreeCounter(p.unit_net, p.tree_bounds, compiled=True).run()
    split = TreeCounter(p.unit_net, p.tree_bounds, compiled=True).split()
    first = split.batch(np.arange(len(split)))
    queue, regions, kinds = [task_codec.decode(task_codec.encode(first))], 0, set()
    while queue:
        counter = TreeCounter(p.unit_net, p.tree_bounds, compiled=True)
        for task in counter.count_split_cells(queue.pop(), seconds=1e-6, pieces=3):
            kinds.add(type(task).__name__)
            queue.append(task_codec.decode(task_codec.encode(task)))
        regions += counter.finish().regions
    assert regions == whole.regions
    assert kinds


def test_the_codec_refuses_objects_and_damage():
    with pytest.raises(TypeError):
        task_codec.encode([np.array([object()])])
    data = task_codec.encode((np.arange(5), [1.5, None, "x"], (True,)))
    back = task_codec.decode(data)
    assert np.array_equal(back[0], np.arange(5)) and back[1] == [1.5, None, "x"]
    for bad in (data[:-1], data + b"\0", b"\x80\x04" + data):
        with pytest.raises(task_codec.TaskFormatError):
            task_codec.decode(bad)


def _make_read_only(*paths) -> list:
    """Make paths read-only even for root (``chattr +i``), or by mode for other users; the
    paths to undo. Skips where neither can be done."""
    import os
    import shutil

    if os.geteuid() != 0:
        for p in paths:
            p.chmod(0o555 if p.is_dir() else 0o444)
        return []
    if shutil.which("chattr") is None:
        pytest.skip("root without chattr: no way to make a folder read-only here")
    done = []
    for p in paths:
        if subprocess.run(["chattr", "+i", str(p)], capture_output=True).returncode != 0:
            _undo_read_only(done)
            pytest.skip("chattr +i is not permitted on this filesystem")
        done.append(p)
    return done


def _undo_read_only(done) -> None:
    for p in reversed(done):
        subprocess.run(["chattr", "-i", str(p)], capture_output=True)


@pytest.mark.parametrize("what", ["folder", "folder and file"])
def test_a_checkpoint_that_cannot_be_written_is_refused_and_says_why(model, tmp_path, what):
    folder = tmp_path / "ck"
    folder.mkdir()
    ck = folder / "c.sqlite"
    first = _count(model, ck)
    assert first.returncode == 0 and json.loads(first.stdout)["regions"] == REGIONS
    db = sqlite3.connect(ck)                    # half of it done: a resume has work to record
    n = db.execute("SELECT COUNT(*) FROM batch").fetchone()[0]
    db.execute("DELETE FROM batch WHERE rowid > ?", (n // 2,))
    db.commit()
    db.close()
    done = _make_read_only(*([folder] if what == "folder" else [ck, folder]))
    try:
        _refused(_count(model, ck), f"{ck}: cannot write to this checkpoint (",
                 "is it and its folder writable?")
    finally:
        _undo_read_only(done)
        folder.chmod(0o755)
        ck.chmod(0o644)
    again = _count(model, ck)
    assert again.returncode == 0 and json.loads(again.stdout)["regions"] == REGIONS


@pytest.mark.parametrize("where", ["a folder", "in a missing folder", "not a database"])
def test_a_checkpoint_path_that_is_not_a_file_is_a_one_line_error(model, tmp_path, where):
    """A folder, a path whose folder does not exist, a file that is not SQLite: exit 2 and
    one line naming the path (a folder or a missing one was an internal error, exit 1)."""
    if where == "a folder":
        ck = tmp_path / "ck"
        ck.mkdir()
        why = "is a folder, not a checkpoint file"
    elif where == "in a missing folder":
        ck = tmp_path / "nowhere" / "c.sqlite"
        why = "its folder does not exist"
    else:
        ck = tmp_path / "c.sqlite"
        ck.write_text("some notes, not a checkpoint\n" * 100)
        why = "not a usable checkpoint (file is not a database)"
    _refused(_count(model, ck), f"{ck}: {why}")
    if where == "not a database":
        assert ck.read_text() == "some notes, not a checkpoint\n" * 100
