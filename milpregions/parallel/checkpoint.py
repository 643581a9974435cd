"""A count's progress on disk (SQLite, stdlib): what it counts, and each finished batch.

The identity (a hash of the model file, the domain, the settings that change the count) is
stored first; reopening it for another count is refused with a one-line error. The batches are
fixed by the first run (their number is stored), so a resumed run, with any number of workers,
counts exactly the batches still missing. A batch is recorded in one transaction, after its
regions were written and synced to ``--regions``: the record holds the length of that file,
and a resumed run cuts the file back to the last recorded length, so a run killed at any
moment leaves every region of the finished batches there exactly once. A task that outgrew
its budget is recorded with the tasks it handed back (the rest of its walk, pickled), so a
resumed run counts those too.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from pathlib import Path

from ..errors import InputError
from ..ir.result import CountResult

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS batch (id INTEGER PRIMARY KEY, result TEXT NOT NULL,
                                  regions_end INTEGER);
CREATE TABLE IF NOT EXISTS task (id INTEGER PRIMARY KEY, root INTEGER NOT NULL,
                                 cells BLOB NOT NULL);
"""

#: the CountResult fields a batch record keeps (what ``local._merge`` sums)
_FIELDS = ("regions", "nodes", "lps", "near_margin", "thin_dropped", "thickest_dropped",
           "min_radius", "undecided")


class Checkpoint:
    """Open or create the checkpoint at ``path`` for the count ``identity`` (a JSON-able dict).
    ``sync_regions()``, when given, flushes the regions file to disk and returns its length."""

    def __init__(self, path, identity: dict, sync_regions: Callable[[], int] | None = None):
        self.path = Path(path)
        self.sync_regions = sync_regions
        try:
            self.db = sqlite3.connect(self.path, isolation_level=None)
            self.db.executescript(_SCHEMA)
        except sqlite3.Error as e:
            raise InputError(f"{self.path}: not a usable checkpoint ({e})") from None
        key = json.dumps(identity, sort_keys=True)
        row = self.db.execute("SELECT value FROM meta WHERE name = 'identity'").fetchone()
        if row is None:
            self.db.execute("INSERT INTO meta VALUES ('identity', ?)", (key,))
        elif row[0] != key:
            old = json.loads(row[0])
            diff = sorted(k for k in set(old) | set(identity) if old.get(k) != identity.get(k))
            raise InputError(f"{self.path}: this checkpoint is of another count (different "
                             f"{', '.join(diff)}); remove it or name another file")

    def batches(self, n: int) -> int:
        """The number of batches: ``n`` for a new checkpoint, the stored one on a resume."""
        row = self.db.execute("SELECT value FROM meta WHERE name = 'batches'").fetchone()
        if row is not None:
            return int(row[0])
        self.db.execute("INSERT INTO meta VALUES ('batches', ?)", (str(n),))
        return n

    def finished(self) -> dict[int, CountResult]:
        """The recorded batches: id -> their statistics as a CountResult."""
        out = {}
        for bid, text in self.db.execute("SELECT id, result FROM batch"):
            d = json.loads(text)
            out[int(bid)] = CountResult(exact=True, method="tree", seconds=0.0, **d)
        return out

    def regions_end(self) -> int:
        """The length of the regions file after the last recorded batch (0 if none)."""
        row = self.db.execute("SELECT MAX(regions_end) FROM batch").fetchone()
        return int(row[0] or 0)

    def pending_tasks(self) -> list[tuple[int, int, bytes]]:
        """The tasks a finished one handed back and that are not finished yet: (id, the batch
        of layer-1 cells it descends from, its pickled cells)."""
        return [(int(t), int(r), bytes(c)) for t, r, c in self.db.execute(
            "SELECT id, root, cells FROM task WHERE id NOT IN (SELECT id FROM batch) "
            "ORDER BY id")]

    def record(self, bid: int, result: CountResult,
               children: list[tuple[int, int, bytes]] = ()) -> None:
        """Task ``bid`` is finished, with the new tasks it handed back (id, root, pickled
        cells): after its regions are on disk, one transaction."""
        end = None if self.sync_regions is None else int(self.sync_regions())
        text = json.dumps({k: getattr(result, k) for k in _FIELDS})
        self.db.execute("BEGIN IMMEDIATE")
        self.db.execute("INSERT OR REPLACE INTO batch VALUES (?, ?, ?)", (bid, text, end))
        self.db.executemany("INSERT OR REPLACE INTO task VALUES (?, ?, ?)", children)
        self.db.execute("COMMIT")

    def close(self) -> None:
        self.db.close()
