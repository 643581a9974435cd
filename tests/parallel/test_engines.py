"""``--executor ray`` and ``--executor dask``: real local clusters (``ray.init(num_cpus=2)``,
``distributed.LocalCluster``), no mocks. The count on a cluster equals the count in one
process on every path, every region reaches ``on_region`` once, a checkpoint resumes across
engines, and an interrupt gives a lower bound."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from test_local import _maxout_net

from milpregions.api import count_regions
from milpregions.errors import InputError
from milpregions.onnx.export import to_onnx
from milpregions.testing import constructions as C

from child_processes import wait_for_lines

ray = pytest.importorskip("ray")
distributed = pytest.importorskip("distributed")
# one worker of -n 2 runs the module: one Ray and one Dask cluster for the suite, not two
pytestmark = pytest.mark.xdist_group("clusters")

NETS = [
    ("compiled walk", lambda: C.he_mlp(3, [12, 12, 8], 0)),
    ("lp path", lambda: C.he_mlp(8, [6, 6], 1)),
    ("python path (max groups)", _maxout_net),
]


@pytest.fixture(scope="module")
def ray_cluster():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def dask_address():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=":0") as cluster:
        yield cluster.scheduler_address


def _patterns(model, box, **kw):
    found = []
    res = count_regions(model, box, on_region=lambda r: found.append(
        json.dumps([[int(x) for x in p] for p in r.pattern])), **kw)
    return res, found


@pytest.mark.parametrize("name,make", NETS, ids=[n for n, _ in NETS])
def test_a_ray_cluster_counts_what_one_process_counts(name, make, ray_cluster):
    net = make()
    one, found1 = _patterns(net, (-1.0, 1.0))
    res, found = _patterns(net, (-1.0, 1.0), executor="ray")
    assert res.exact and res.regions == one.regions == len(found) > 1
    assert sorted(found) == sorted(found1)


@pytest.mark.parametrize("name,make", NETS, ids=[n for n, _ in NETS])
def test_a_dask_cluster_counts_what_one_process_counts(name, make, dask_address):
    net = make()
    one, found1 = _patterns(net, (-1.0, 1.0))
    res, found = _patterns(net, (-1.0, 1.0), executor="dask", address=dask_address)
    assert res.exact and res.regions == one.regions == len(found) > 1
    assert sorted(found) == sorted(found1)


COMMITTED = [  # every committed model, in the domain of models/README.md, and its count
    ("montufar_1d_p2_d3", (0.0, 1.0), 8), ("montufar_2d_p2_d2", (0.0, 1.0), 16),
    ("serra_1d_3x3", (0.0, 1.0), 16), ("zaslavsky_2d_8", (-1.0, 1.0), 37),
    ("zaslavsky_3d_6", (-1.0, 1.0), 42), ("he_2d_8x8", (-1.0, 1.0), 102),
    ("he_2d_16x16", (-1.0, 1.0), 412), ("he_3d_16x16", (-1.0, 1.0), 3524),
    ("he_4d_8x8", (-1.0, 1.0), 1780), ("he_8d_8x8", (-1.0, 1.0), 11628),
    ("concurrent_2d_8x8", (-1.0, 1.0), 109), ("maxout_mlp", (-1.0, 1.0), 2),
    ("hardtanh_mlp", (-1.0, 1.0), 3), ("relu6_mlp", (-1.0, 1.0), 10),
    ("residual_mlp", (-1.0, 1.0), 575), ("digits_mlp", 0.5, 14), ("digits_mlp_bn", 0.5, 2303),
    ("digits_mlp_dynamic", 0.5, 14), ("digits_mlp_dropout", 0.5, 8), ("digits_cnn", 0.05, 144),
]


def test_the_list_holds_every_committed_model(models_dir):
    assert sorted(m for m, _, _ in COMMITTED) == sorted(p.stem for p in models_dir.glob("*.onnx"))


# digits_mlp_bn in its ball of radius 0.5 (2,303 regions) costs ~40 s of CPU a count: it runs
# under -m slow, and the default suite counts it at r = 0.3 (177 regions)
SMALLER = {"digits_mlp_bn": (0.3, 177)}
EXECUTORS = ("local", "ray", "dask")
# every model on every executor under -m slow. By default the CNN on all three, like the
# 64-input ball below; the local workers (two spawned processes a count, ~2 s of CPU) count
# only those two (test_local.py counts chains, max groups and the LP path on them), and Ray and
# Dask take the other models in turn (nine each, of every other kind)
EVERYWHERE = {"digits_cnn"}
CLUSTERS = [m for m, _, _ in COMMITTED if m not in EVERYWHERE and m not in SMALLER]


def _by_default(model: str, executor: str) -> bool:
    if model in EVERYWHERE:
        return True
    return model in CLUSTERS and executor == ("ray", "dask")[CLUSTERS.index(model) % 2]


CASES = [pytest.param(m, d, n, ex, id=f"{m}-{ex}",
                      marks=[] if _by_default(m, ex) else [pytest.mark.slow])
         for m, d, n in COMMITTED for ex in EXECUTORS]
CASES += [pytest.param(m, *SMALLER[m], ex, id=f"{m}-smaller-{ex}") for m in SMALLER
          for ex in EXECUTORS]


# one test per model and executor, so that the suite's workers share them out
@pytest.mark.parametrize("model,domain,regions,executor", CASES)
def test_every_committed_model_counts_the_same_on_every_executor(model, domain, regions,
                                                                  executor, models_dir,
                                                                  request):
    path = models_dir / f"{model}.onnx"
    if isinstance(domain, tuple):
        where = {"box": domain}
    else:
        where = {"center": models_dir / "digits_test_image.npy", "radius": domain}
    if executor == "local":
        kw = {"jobs": 2}
    elif executor == "ray":
        request.getfixturevalue("ray_cluster")
        kw = {"executor": "ray"}
    else:
        kw = {"executor": "dask", "address": request.getfixturevalue("dask_address")}
    assert count_regions(path, **where).regions == regions, model       # one process
    res = count_regions(path, **where, **kw)
    assert res.exact and res.regions == regions, (model, kw)


def _cli(*args, timeout=300):
    return subprocess.run([sys.executable, "-m", "milpregions", "count", *args],
                          capture_output=True, text=True, timeout=timeout)


# ~53 s (935,763 regions, counted on two local clusters): under -m slow; the twin below
# resumes a Dask checkpoint with Ray on a count of thousands
@pytest.mark.slow
def test_the_cli_starts_a_local_dask_cluster_and_ray_resumes_its_checkpoint(tmp_path):
    """A dask run interrupted once its checkpoint holds a finished batch; a local Ray cluster
    counts the rest: the count of one process."""
    import sqlite3

    model = tmp_path / "he_6d_16x16.onnx"
    to_onnx(C.he_mlp(6, [16, 16], 0), model)
    ck = tmp_path / "run.sqlite"
    common = [sys.executable, "-m", "milpregions", "count", str(model), "--box", "-1,1",
              "--json", "--checkpoint", str(ck), "--jobs", "2"]
    proc = subprocess.Popen(common + ["--executor", "dask"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    end = time.monotonic() + 240
    while time.monotonic() < end and proc.poll() is None:
        time.sleep(0.5)
        if ck.exists():
            with sqlite3.connect(ck) as db:
                if db.execute("SELECT COUNT(*) FROM batch").fetchone()[0]:
                    break
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 3, err
    part = json.loads(out)
    assert part["stopped"] == "interrupted" and 0 < part["regions"] < 935_763
    second = subprocess.run(common + ["--executor", "ray"], capture_output=True, text=True,
                            timeout=600)
    assert second.returncode == 0, second.stderr
    whole = json.loads(second.stdout)
    assert whole["exact"] and whole["regions"] == 935_763


def test_ray_resumes_a_checkpoint_of_a_dask_cluster_with_batches_missing(tmp_path, ray_cluster,
                                                                         dask_address):
    """The fast twin of the test above, on the module's clusters: a count on Dask with a
    checkpoint; every other recorded batch is taken out (what an interrupted run leaves: a
    batch is recorded whole or not at all); Ray counts the missing ones: the count of one
    process, every batch recorded once. (The CLI starting a local Dask cluster, and Ctrl-C
    on it, are ``test_ctrl_c_on_a_dask_run_prints_a_lower_bound``.)"""
    import sqlite3
    from contextlib import closing

    from milpregions.api import count
    from milpregions.parallel import Checkpoint
    from milpregions.problem import prepare
    from milpregions.settings import Settings

    net = C.he_mlp(4, [12, 12], 0)
    want = count_regions(net, (-1.0, 1.0)).regions
    ck = tmp_path / "run.sqlite"

    def run(**where):
        book = Checkpoint(ck, {"model": "he_mlp(4, [12, 12], 0)", "box": [-1, 1]})
        try:
            return count(prepare(net, (-1.0, 1.0), Settings(**where)), checkpoint=book)
        finally:
            book.close()

    first = run(executor="dask", address=dask_address)
    assert first.exact and first.regions == want > 1000
    with closing(sqlite3.connect(ck)) as db, db:
        assert db.execute("SELECT COUNT(*) FROM task").fetchone()[0] == 0   # none handed back
        ids = [row[0] for row in db.execute("SELECT id FROM batch ORDER BY id")]
        assert len(ids) >= 4
        db.executemany("DELETE FROM batch WHERE id = ?", [(i,) for i in ids[::2]])
    second = run(executor="ray")
    assert second.exact and second.regions == want
    with closing(sqlite3.connect(ck)) as db:
        assert [row[0] for row in db.execute("SELECT id FROM batch ORDER BY id")] == ids


def test_ctrl_c_on_a_dask_run_prints_a_lower_bound(tmp_path):
    """Ctrl-C at a terminal signals the whole process group, the local cluster's workers too:
    the count still ends with its lower bound (it once ended in an internal error, the workers
    killed with the problem scattered to them), every region written once."""
    model = tmp_path / "he_6d_20x20.onnx"
    to_onnx(C.he_mlp(6, [20, 20], 0), model)
    regions = tmp_path / "regions.jsonl"
    proc = subprocess.Popen([sys.executable, "-m", "milpregions", "count", str(model), "--box",
                             "-1,1", "--executor", "dask", "--jobs", "1", "--json",
                             "--regions", str(regions), "--task-seconds", "0.5"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    wait_for_lines(regions, 1, proc)                # the cluster is counting (a first task
    #                                                 handed back its regions)
    os.killpg(proc.pid, signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 3, err
    assert err == ""
    res = json.loads(out)
    assert res["stopped"] == "interrupted" and not res["exact"] and res["lower_bound"]
    lines = regions.read_text().splitlines()
    assert 0 < res["regions"] == len(lines) == len(set(lines))


def test_executor_settings_are_checked():
    net = C.he_mlp(2, [4, 4], 0)
    with pytest.raises(InputError, match="--address needs --executor ray or dask"):
        count_regions(net, (-1.0, 1.0), address="tcp://127.0.0.1:8786")
    with pytest.raises(InputError, match="unknown executor 'spark'; choose one of local, ray, dask"):
        count_regions(net, (-1.0, 1.0), executor="spark")
    with pytest.raises(InputError, match="--max-regions cannot be combined with --executor ray"):
        count_regions(net, (-1.0, 1.0), executor="ray", max_regions=3)
    with pytest.raises(InputError, match="--executor dask needs --method tree"):
        count_regions(net, (-1.0, 1.0), executor="dask", method="milp")
    bad = _cli("x.onnx", "--box", "-1,1", "--address", "auto")
    assert bad.returncode == 2 and "--address needs --executor ray or dask" in bad.stderr


def _listening(pids: set[int]) -> list[str]:
    """The TCP addresses that processes ``pids`` listen on (``ss``, real sockets)."""
    out = subprocess.run(["ss", "-Htlnp"], capture_output=True, text=True, check=True).stdout
    found = []
    for line in out.splitlines():
        if any(f"pid={pid}," in line for pid in pids):
            found.append(line.split()[3])
    return found


def _tree(pid: int) -> set[int]:
    import psutil

    me = psutil.Process(pid)
    return {pid} | {p.pid for p in me.children(recursive=True)}


def test_a_local_dask_cluster_listens_on_loopback_only():
    """The scheduler, the nannies and the workers of the cluster a count starts: their
    advertised addresses, and every socket the worker processes listen on."""
    from milpregions.parallel.engines import DaskEngine
    from milpregions.problem import prepare
    from milpregions.settings import Settings

    engine = DaskEngine(prepare(C.he_mlp(3, [6, 6], 0), (-1.0, 1.0), Settings()), None, 2)
    try:
        info = engine.client.scheduler_info()
        advertised = [engine.cluster.scheduler_address, *info["workers"]]
        advertised += [w.get("nanny") for w in info["workers"].values() if w.get("nanny")]
        assert len(advertised) >= 3
        assert all(a.startswith("tcp://127.0.0.1:") for a in advertised), advertised
        link = engine.cluster.dashboard_link
        assert not link or link.startswith("http://127.0.0.1:"), link
        pids = set(engine.client.run(os.getpid).values())
        pids |= {p.ppid() for p in map(__import__("psutil").Process, pids)}   # the nannies
        pids.discard(os.getpid())
        listening = _listening(pids)
        assert listening, "the workers listen somewhere"
        assert all(a.startswith("127.0.0.1:") for a in listening), listening
    finally:
        engine.close()


def test_a_local_ray_cluster_refuses_a_client_without_the_token(tmp_path):
    """Ray's gcs_server, raylet and workers listen on every interface whatever node address is
    given (no setting binds them to loopback), so the local cluster a count starts takes token
    authentication: a client with no token (another HOME, auth off) is refused by the GCS, a
    client with this user's token gets in. The client is Ray's own GCS client (a public
    ``ray.init`` retries for ~20 s before it gives up)."""
    code = ("import os\n"
            "from milpregions.parallel.engines import RayEngine\n"
            "from milpregions.problem import prepare\n"
            "from milpregions.settings import Settings\n"
            "from milpregions.testing.constructions import he_mlp\n"
            "e = RayEngine(prepare(he_mlp(3, [6, 6], 0), (-1.0, 1.0), Settings()), None, 2)\n"
            "import ray\n"
            "print(ray._private.worker.global_worker.node.gcs_address, flush=True)\n"
            "print(os.environ['RAY_AUTH_MODE'], flush=True)\n"
            "input()\n"
            "e.close()\n")
    client = ("import sys\n"
              "from ray._raylet import InnerGcsClient\n"
              "try:\n"
              "    c = InnerGcsClient.standalone(sys.argv[1], None, 5000)\n"
              "    c.internal_kv_keys(b'', None, timeout=5)\n"
              "    print('in')\n"
              "except Exception as e:\n"
              "    print('refused', 'InvalidAuthToken' in str(e))\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_")}
    proc = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True, env=env)
    try:
        gcs = proc.stdout.readline().strip()
        assert proc.stdout.readline() == "token\n"
        outsider = dict(env, HOME=str(tmp_path), RAY_AUTH_MODE="disabled")
        out = subprocess.run([sys.executable, "-c", client, gcs], env=outsider, text=True,
                             capture_output=True, timeout=120).stdout
        assert out == "refused True\n", out
        out = subprocess.run([sys.executable, "-c", client, gcs],
                             env=dict(env, RAY_AUTH_MODE="token"), text=True,
                             capture_output=True, timeout=120).stdout
        assert out == "in\n", out
    finally:
        proc.communicate("\n", timeout=120)


def _closed_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("engine,address,env", [
    ("ray", "127.0.0.1:{port}", {}),
    ("ray", "ray://127.0.0.1:{port}", {}),
    ("dask", "tcp://127.0.0.1:{port}", {}),
    ("ray", None, {"RAY_ADDRESS": "127.0.0.1:{port}"}),
])
def test_an_unreachable_cluster_is_refused_promptly(engine, address, env, tmp_path):
    port = _closed_port()
    model = tmp_path / "m.onnx"
    to_onnx(C.he_mlp(3, [6, 6], 0), model)
    cmd = [sys.executable, "-m", "milpregions", "count", str(model), "--box", "-1,1",
           "--executor", engine]
    if address is not None:
        cmd += ["--address", address.format(port=port)]
    environ = dict(os.environ, **{k: v.format(port=port) for k, v in env.items()})
    start = time.monotonic()
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=environ)
    assert p.returncode == 2 and p.stdout == "", p.stderr
    named = (address or env["RAY_ADDRESS"]).format(port=port)
    assert p.stderr.splitlines()[-1] == (f"milpregions: --address {named}: cannot reach the "
                                         f"{engine} cluster (Connection refused within 10 s)")
    assert time.monotonic() - start < 30


#: the --connect-timeout the tests of a silent address give (the default is 30 s)
SILENT_TIMEOUT = 1.0


@pytest.mark.parametrize("engine,address", [("ray", "127.0.0.1:{port}"),
                                            ("dask", "tcp://127.0.0.1:{port}")])
def test_an_address_that_is_not_a_cluster_is_refused_in_bounded_time(engine, address, tmp_path):
    """A port that accepts TCP connections but never answers as a cluster (another server, a
    firewall holding connections): exit 2 naming the address within ``--connect-timeout``.
    Dask waited for ever there (SIGTERM did not end it), Ray for minutes."""
    import socket
    import threading

    server = socket.create_server(("127.0.0.1", 0))
    held = []

    def accept() -> None:            # take every connection and say nothing
        while True:
            try:
                held.append(server.accept()[0])
            except OSError:
                return

    threading.Thread(target=accept, daemon=True).start()
    try:
        port = server.getsockname()[1]
        model = tmp_path / "m.onnx"
        to_onnx(C.he_mlp(3, [6, 6], 0), model)
        named = address.format(port=port)
        start = time.monotonic()
        p = subprocess.run([sys.executable, "-m", "milpregions", "count", str(model), "--box",
                            "-1,1", "--executor", engine, "--address", named,
                            "--connect-timeout", f"{SILENT_TIMEOUT:g}"],
                           capture_output=True, text=True, timeout=SILENT_TIMEOUT + 90)
        took = time.monotonic() - start
    finally:
        server.close()
        for c in held:
            c.close()
    assert p.returncode == 2 and p.stdout == "", p.stderr
    assert p.stderr.splitlines()[-1] == (
        f"milpregions: --address {named}: no {engine} cluster answered there within "
        f"{SILENT_TIMEOUT:g} s (something accepts connections at that port)")
    # the process starts and imports the engine (seconds) before the handshake it waits on
    assert took < SILENT_TIMEOUT + 25, took


def test_the_handshake_waits_the_connect_timeout_and_30_s_by_default():
    """``connect_within`` gives up after the seconds it is given (the engines pass the
    count's ``connect_timeout``; 30 s unless told), and returns what a prompt connect returns."""
    import threading

    from milpregions.parallel.engines import HANDSHAKE_SECONDS, connect_within
    from milpregions.settings import Settings

    assert HANDSHAKE_SECONDS == Settings().connect_timeout == 30.0
    hold = threading.Event()
    start = time.monotonic()
    with pytest.raises(InputError, match=r"^--address h:1: no ray cluster answered there "
                                         r"within 0.5 s \(something accepts"):
        connect_within("ray", "h:1", hold.wait, 0.5)
    assert 0.5 <= time.monotonic() - start < 5
    hold.set()
    assert connect_within("dask", "h:1", lambda: "client", 0.5) == "client"
    with pytest.raises(OSError, match="refused"):             # the connect's own error
        connect_within("dask", "h:1", lambda: (_ for _ in ()).throw(OSError("refused")), 0.5)


@pytest.mark.parametrize("value", ["0", "-3", "nan", "inf"])
def test_connect_timeout_must_be_a_positive_number(value, cli, models_dir):
    code, out, err = cli("count", models_dir / "zaslavsky_2d_8.onnx", "--box", "-1,1",
                         "--executor", "dask", "--address", "tcp://127.0.0.1:1",
                         "--connect-timeout", value)
    assert (code, out) == (2, "")
    assert err == f"milpregions: connect timeout must be positive, got {float(value)}\n"


def test_connect_timeout_that_is_not_a_number_is_refused(cli, models_dir):
    code, out, err = cli("count", models_dir / "zaslavsky_2d_8.onnx", "--box", "-1,1",
                         "--connect-timeout", "soon")
    assert (code, out) == (2, "")
    assert err.splitlines() == ["milpregions: count: argument --connect-timeout: invalid float "
                                "value: 'soon' (see 'milpregions count --help')"]


def test_connect_timeout_bounds_the_tcp_check_too(cli, models_dir):
    """Below 10 s, the timeout also bounds the wait for the port (the error names it)."""
    port = _closed_port()
    code, out, err = cli("count", models_dir / "he_2d_8x8.onnx", "--box", "-1,1",
                         "--executor", "dask", "--address", f"tcp://127.0.0.1:{port}",
                         "--connect-timeout", "2")
    assert (code, out) == (2, "")
    assert err == (f"milpregions: --address tcp://127.0.0.1:{port}: cannot reach the dask "
                   "cluster (Connection refused within 2 s)\n")
