"""A count's progress on disk (SQLite, stdlib): what it counts, and each finished batch.

What a checkpoint guarantees:

- **Identity.** The first run stores what defines the count: a digest of the counted network
  (the model as restricted to the domain and normalised: the tensor counted on, the domain and
  every weight enter it), the model file's hash, the domain, the margin and every setting that
  changes the count, and the regions file with its format. A run whose identity differs is
  refused with a one-line error naming what differs.
- **One run at a time.** A run holds an exclusive lock on the checkpoint (``flock``; the
  kernel drops it when the process dies, even by kill -9); a second run is refused.
- **Fixed batches.** The first run stores their number, so a resumed run, with any number of
  workers, counts exactly the batches still missing.
- **Records are checked.** A batch is recorded in one transaction, after its regions were
  written and synced to ``--regions``: the record holds the file's length after it and the
  SHA-256 of the bytes the batch appended, and every record (and every stored task) carries a
  SHA-256 of its own fields. A damaged record or task is refused, never counted.
- **The regions file is verified.** A resumed run checks that the regions file is the one the
  checkpoint was started with and that its recorded prefix is byte for byte what the recorded
  batches wrote, then cuts it back to that prefix (the regions of unrecorded batches are
  counted again). Anything else is refused with a message; the file is never padded.
- **No pickle.** The tasks that a finished task handed back are stored as plain arrays with
  dtype and shape (``task_codec``); reading a checkpoint runs no code from it.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import sqlite3
from collections.abc import Callable
from pathlib import Path

from ..errors import InputError
from ..ir.file_lock import FileLock
from ..ir.result import CountResult
from . import task_codec

FORMAT = "2"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS batch (id INTEGER PRIMARY KEY, result TEXT NOT NULL,
                                  regions_start INTEGER, regions_end INTEGER,
                                  regions_sha256 TEXT, digest TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS task (id INTEGER PRIMARY KEY, root INTEGER NOT NULL,
                                 cells BLOB NOT NULL, digest TEXT NOT NULL);
"""

#: the CountResult fields a batch record keeps (what ``local._merge`` sums)
_FIELDS = ("regions", "nodes", "lps", "near_margin", "thin_dropped", "thickest_dropped",
           "min_radius", "undecided")


def _writable(path: Path) -> bool:
    """Whether a file can be made next to ``path`` and the file itself opened for writing
    (tried, not asked: ``os.access`` says yes to root on a read-only or immutable folder)."""
    import tempfile

    try:
        with tempfile.TemporaryFile(dir=path.parent):
            pass
        if path.exists():
            os.close(os.open(path, os.O_WRONLY))
    except OSError:
        return False
    return True


def _guarded(method):
    """A damaged database file is an input error naming the file, not an internal one; so is
    one in a folder this run cannot write to, which says so."""
    @functools.wraps(method)
    def run(self, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except sqlite3.Error as e:
            if "readonly" in str(e) or not _writable(self.path):
                raise InputError(f"{self.path}: cannot write to this checkpoint ({e}); is it "
                                 "and its folder writable?") from None
            raise InputError(f"{self.path}: damaged checkpoint ({e}); remove it and count "
                             "again") from None
    return run


def _digest(*parts) -> str:
    h = hashlib.sha256()
    for p in parts:
        b = p if isinstance(p, bytes) else repr(p).encode()
        h.update(len(b).to_bytes(8, "little") + b)
    return h.hexdigest()


class Checkpoint:
    """Open or create the checkpoint at ``path`` for the count ``identity`` (a JSON-able dict),
    locked for this run. ``regions``: the regions file this run writes (None: none); a resume
    must name the same one. ``sync_regions()``, when given, flushes the regions file to disk
    and returns its length."""

    def __init__(self, path, identity: dict, regions: str | os.PathLike | None = None,
                 sync_regions: Callable[[], int] | None = None):
        self.path = Path(path)
        self.sync_regions = sync_regions
        self.regions_path = None if regions is None else str(regions)
        self._end: int | None = None
        self._file_lock: FileLock | None = None
        self.db: sqlite3.Connection | None = None
        if self.path.is_dir():
            raise InputError(f"{self.path}: is a folder, not a checkpoint file")
        if not self.path.parent.is_dir():
            raise InputError(f"{self.path}: its folder does not exist")
        try:
            self.db = sqlite3.connect(self.path, isolation_level=None)
            self._lock()
            self.db.executescript(_SCHEMA)
            self.db.execute("SELECT COUNT(*) FROM meta").fetchone()
        except sqlite3.Error as e:
            self.close()
            raise InputError(f"{self.path}: not a usable checkpoint ({e})") from None
        try:
            self._claim(dict(identity, regions_file=_regions_name(regions)))
        except BaseException:
            self.close()
            raise

    def _lock(self) -> None:
        self._file_lock = FileLock(self.path, "another run is using this checkpoint; wait for "
                                   "it to end (or stop it), then resume")

    def _meta(self, name: str) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE name = ?", (name,)).fetchone()
        return None if row is None else row[0]

    @_guarded
    def _claim(self, identity: dict) -> None:
        key = json.dumps(identity, sort_keys=True)
        stored = self._meta("identity")
        if stored is None:
            if self.db.execute("SELECT COUNT(*) FROM batch").fetchone()[0]:
                raise InputError(f"{self.path}: damaged checkpoint (batches without an identity)")
            self.db.execute("BEGIN IMMEDIATE")
            self.db.execute("INSERT INTO meta VALUES ('format', ?)", (FORMAT,))
            self.db.execute("INSERT INTO meta VALUES ('identity', ?)", (key,))
            self.db.execute("INSERT INTO meta VALUES ('identity_sha256', ?)", (_digest(key),))
            self.db.execute("COMMIT")
            return
        try:                            # a resume must be able to record: say so now
            self.db.execute("BEGIN IMMEDIATE")
            self.db.execute("COMMIT")
        except sqlite3.Error as e:
            raise InputError(f"{self.path}: cannot write to this checkpoint ({e}); is it and "
                             "its folder writable?") from None
        if not _writable(self.path):    # an empty transaction writes nothing: try a file
            raise InputError(f"{self.path}: cannot write to this checkpoint (a file cannot be "
                             "made next to it or it cannot be opened for writing); is it and "
                             "its folder writable?")
        if self._meta("format") != FORMAT:
            raise InputError(f"{self.path}: a checkpoint of an older milpregions (format "
                             f"{self._meta('format') or 1}); remove it and count again")
        if self._meta("identity_sha256") != _digest(stored):
            raise InputError(f"{self.path}: damaged checkpoint (its identity record fails its "
                             "checksum); remove it and count again")
        if stored != key:
            old = json.loads(stored)
            diff = sorted(k for k in set(old) | set(identity) if old.get(k) != identity.get(k))
            if "regions_file" in diff and set(diff) <= {"regions_file", "region_fields"}:
                was = old.get("regions_file")
                raise InputError(
                    f"{self.path}: this count was started "
                    + (f"with --regions {was}" if was else "without --regions")
                    + "; resume it the same way (or remove the checkpoint)")
            # the counted network's digest follows from the rest; named only when alone
            named = [k for k in diff if k != "network_sha256"] or ["counted network"]
            raise InputError(f"{self.path}: this checkpoint is of another count (different "
                             f"{', '.join(named)}); remove it or name another file")

    @_guarded
    def batches(self, n: int) -> int:
        """The number of batches: ``n`` for a new checkpoint, the stored one on a resume."""
        stored = self._meta("batches")
        if stored is not None:
            if self._meta("batches_sha256") != _digest(stored):
                raise InputError(f"{self.path}: damaged checkpoint (its batch count fails its "
                                 "checksum); remove it and count again")
            return int(stored)
        self.db.execute("BEGIN IMMEDIATE")
        self.db.execute("INSERT INTO meta VALUES ('batches', ?)", (str(n),))
        self.db.execute("INSERT INTO meta VALUES ('batches_sha256', ?)", (_digest(str(n)),))
        self.db.execute("COMMIT")
        return n

    def _batch_rows(self) -> list[tuple]:
        rows = []
        for row in self.db.execute("SELECT id, result, regions_start, regions_end, "
                                   "regions_sha256, digest FROM batch ORDER BY id"):
            if row[5] != _digest(*row[:5]):
                raise InputError(f"{self.path}: damaged checkpoint (the record of task "
                                 f"{row[0]} fails its checksum); remove it and count again")
            rows.append(row)
        return rows

    @_guarded
    def finished(self) -> dict[int, CountResult]:
        """The recorded batches: id -> their statistics as a CountResult."""
        out = {}
        for bid, text, *_ in self._batch_rows():
            d = json.loads(text)
            out[int(bid)] = CountResult(exact=True, method="tree", seconds=0.0, **d)
        return out

    @_guarded
    def regions_end(self) -> int:
        """The length of the regions file after the last recorded batch (0 if none)."""
        if self._end is None:
            ends = [row[3] for row in self._batch_rows() if row[3] is not None]
            self._end = max(ends, default=0)
        return self._end

    @_guarded
    def verify_regions(self) -> int:
        """Check that the regions file holds, for every recorded batch, the bytes it wrote;
        returns the length of that prefix (what a resumed run keeps). Refuses (``InputError``)
        a file that is missing, shorter than it or different from it."""
        spans = sorted((row[2], row[3], row[4], row[0]) for row in self._batch_rows()
                       if row[3] is not None)
        end = spans[-1][1] if spans else 0
        if self.regions_path is None or end == 0:
            return end
        name = self.regions_path
        try:
            f = open(name, "rb")
        except OSError as e:
            raise InputError(f"{name}: cannot read the regions this checkpoint recorded "
                             f"({e.strerror or e}); restore the file, or remove the checkpoint "
                             "and count again") from None
        with f:
            size = os.fstat(f.fileno()).st_size
            if size < end:
                raise InputError(f"{name}: holds {size} bytes, but the checkpoint recorded "
                                 f"{end} bytes of regions; it was changed or replaced since "
                                 "(restore it, or remove the checkpoint and count again)")
            for start, stop, sha, bid in spans:
                f.seek(start)
                if hashlib.sha256(f.read(stop - start)).hexdigest() != sha:
                    raise InputError(f"{name}: the regions of recorded task {bid} (bytes "
                                     f"{start}-{stop}) differ from what was written; the file "
                                     "was changed (restore it, or remove the checkpoint and "
                                     "count again)")
        return end

    @_guarded
    def pending_tasks(self) -> list[tuple[int, int, object]]:
        """The tasks a finished one handed back and that are not finished yet: (id, the batch
        of layer-1 cells it descends from, its cells)."""
        out = []
        for t, r, c, digest in self.db.execute(
                "SELECT id, root, cells, digest FROM task WHERE id NOT IN (SELECT id FROM batch) "
                "ORDER BY id"):
            c = bytes(c)
            if digest != _digest(t, r, c):
                raise InputError(f"{self.path}: damaged checkpoint (stored task {t} fails its "
                                 "checksum); remove it and count again")
            try:
                cells = task_codec.decode(c)
            except task_codec.TaskFormatError as e:
                raise InputError(f"{self.path}: damaged checkpoint (stored task {t}: {e})") \
                    from None
            out.append((int(t), int(r), cells))
        return out

    @_guarded
    def record(self, bid: int, result: CountResult,
               children: list[tuple[int, int, object]] = ()) -> None:
        """Task ``bid`` is finished, with the new tasks it handed back (id, root, cells): after
        its regions are on disk, one transaction."""
        start = end = sha = None
        if self.sync_regions is not None:
            start = self.regions_end()
            end = int(self.sync_regions())
            sha = self._segment_sha(start, end)
        text = json.dumps({k: getattr(result, k) for k in _FIELDS})
        rows = []
        for tid, root, cells in children:
            blob = task_codec.encode(cells)
            rows.append((tid, root, blob, _digest(tid, root, blob)))
        self.db.execute("BEGIN IMMEDIATE")
        self.db.execute("INSERT OR REPLACE INTO batch VALUES (?, ?, ?, ?, ?, ?)",
                        (bid, text, start, end, sha, _digest(bid, text, start, end, sha)))
        self.db.executemany("INSERT OR REPLACE INTO task VALUES (?, ?, ?, ?)", rows)
        self.db.execute("COMMIT")
        if end is not None:
            self._end = end

    def _segment_sha(self, start: int, end: int) -> str:
        """SHA-256 of bytes ``start:end`` of the regions file, read back from disk."""
        if self.regions_path is None:
            raise ValueError("a checkpoint that syncs regions needs the regions file's name")
        with open(self.regions_path, "rb") as f:
            f.seek(start)
            return hashlib.sha256(f.read(end - start)).hexdigest()

    def close(self) -> None:
        try:
            if self.db is not None:
                self.db.close()
        finally:
            if self._file_lock is not None:
                self._file_lock.release()
                self._file_lock = None


def _regions_name(regions) -> str | None:
    return None if regions is None else str(Path(regions).resolve())


def network_digest(net) -> str:
    """SHA-256 of everything in a ``Network`` that its regions depend on: every layer's kind,
    weights (dense or sparse, by value), biases, slopes and groups, and the output map."""
    import numpy as np

    h = hashlib.sha256()

    def add(tag: str, a) -> None:
        if hasattr(a, "tocsr"):                     # scipy.sparse
            a = a.tocsr()
            a.sum_duplicates()
            a.sort_indices()
            add(tag + ".shape", np.array(a.shape))
            for part in ("data", "indices", "indptr"):
                add(f"{tag}.{part}", getattr(a, part))
            return
        a = np.ascontiguousarray(a)
        h.update(f"{tag}|{a.dtype.str}|{a.shape}|".encode())
        h.update(a.tobytes())

    def affine(tag: str, aff) -> None:
        for s, W in sorted(aff.W.items()):
            add(f"{tag}.W{s}", W)
        add(f"{tag}.b", aff.b)

    h.update(f"input_dim={net.input_dim}".encode())
    for k, layer in enumerate(net.layers):
        tag = f"layer{k}.{type(layer).__name__}"
        affine(tag, layer.affine)
        for field in ("neg_slope", "groups"):
            if hasattr(layer, field):
                add(f"{tag}.{field}", getattr(layer, field))
    affine("output", net.output)
    return h.hexdigest()
