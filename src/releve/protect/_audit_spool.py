"""Audit entries waiting for the store on local disk, so a long database outage costs disk, not memory.

While the store refuses writes, the audit log keeps at most `max_pending` entries in memory; past
that it moves them to this process's spool file, `<directory>/audit-<holder>.jsonl` (one JSON
object per line), and writes them to the store, oldest first, once it answers. The file also
outlives the process: each writer holds an exclusive `flock` on its file while it lives, and a
process that starts and finds a file nobody holds (its writer died, even by SIGKILL) adopts it and
writes its entries before its own. Nothing is created until the store first refuses a write.

Why by hand: entries must leave in order, survive the process and be taken up by exactly one
successor; `flock` does the last part and a byte offset the rest, in fewer lines than adapting a
queue library to it.

How far an entry got is a byte offset kept beside the file (`.done`), updated after each write to
the store. A crash between a write and that update writes up to one chunk (1,000 entries) twice:
the chain stays valid (they are appended again, each with its original time). The spool is not
fsynced: it survives the process, not a crash of the machine.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

__all__ = ["AuditSpool", "SpooledChunk"]

logger = logging.getLogger("releve.protect.audit")

Entry = tuple[datetime, str, str, dict[str, Any]]
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


class _SpoolFile:
    """One spool file, locked by this process: its entries from byte `done` on are still to be written."""

    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self.fd = fd
        self.done_path = path.with_name(path.name + ".done")
        self.done = _read_offset(self.done_path)
        self.size = os.fstat(fd).st_size

    @property
    def unread(self) -> bool:
        return self.done < self.size

    def append(self, lines: bytes) -> None:
        os.lseek(self.fd, 0, os.SEEK_END)
        written = 0
        while written < len(lines):
            written += os.write(self.fd, lines[written:])
        self.size += len(lines)

    def read(self, start: int, end: int, limit: int) -> tuple[list[Entry], int]:
        """Up to `limit` entries from byte `start`, never past `end`; the offset after the last one read."""
        entries: list[Entry] = []
        offset = start
        with open(self.path, "rb") as handle:
            handle.seek(start)
            while len(entries) < limit and offset < end:
                line = handle.readline()
                if not line.endswith(b"\n"):
                    break  # cannot happen for our own appends; a torn line from a crash is left unread
                offset += len(line)
                entries.append(_decode(line))
        return entries, offset

    def mark(self, offset: int) -> None:
        temporary = self.done_path.with_name(self.done_path.name + ".tmp")
        temporary.write_text(str(offset))
        os.replace(temporary, self.done_path)
        self.done = offset

    def empty(self) -> None:
        """Everything was written: start the file over (it stays, locked, for the next spill)."""
        os.ftruncate(self.fd, 0)
        self.size = self.done = 0
        with contextlib.suppress(FileNotFoundError):
            self.done_path.unlink()

    def remove(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        with contextlib.suppress(FileNotFoundError):
            self.done_path.unlink()
        self.release()

    def release(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)  # also releases the flock
            self.fd = -1


@dataclass(frozen=True)
class SpooledChunk:
    """Entries read from the spool; `AuditSpool.written(chunk)` once the store has them."""

    entries: list[Entry]
    file: _SpoolFile
    end: int


class AuditSpool:
    """The spool of one process (`holder`, e.g. its replica id) in `directory`, plus the files it adopted."""

    def __init__(self, directory: Path, holder: str) -> None:
        self.directory = directory
        self.holder = holder
        self._own: _SpoolFile | None = None
        self._adopted: list[_SpoolFile] = []
        self.waiting = 0   # entries in the spool, not yet written (counted as spilled or adopted)

    def adopt(self) -> int:
        """Takes over the files of writers that are gone (nobody holds their lock); returns their entries' count.

        Called at start (blocking file I/O: run it in a thread).
        """
        if not self.directory.is_dir():
            return 0
        found = 0
        for path in sorted(self.directory.glob("audit-*.jsonl")):
            if self._own is not None and path == self._own.path:
                continue
            file = _lock(path, create=False)
            if file is None:
                continue
            if not file.unread:
                file.remove()
                continue
            count = _count_lines(file)
            logger.warning("adopting %d audit entries from %s, left by a process that stopped before the store "
                           "took them; they are written first", count, path)
            self._adopted.append(file)
            found += count
        self.waiting += found
        return found

    def spill(self, entries: Sequence[Entry]) -> None:
        """Appends `entries` (older than any appended later) to this process's file, creating it if needed."""
        if not entries:
            return
        if self._own is None:
            self.directory.mkdir(parents=True, exist_ok=True)
            name = "audit-" + _UNSAFE.sub("_", self.holder) + ".jsonl"
            own = _lock(self.directory / name, create=True)
            if own is None:
                raise OSError(f"cannot lock the audit spool {self.directory / name}")
            self._own = own
            logger.warning("the store refuses audit writes: entries past the memory bound wait in %s", own.path)
        self._own.append(b"".join(_encode(entry) for entry in entries))
        self.waiting += len(entries)

    def next_chunk(self, limit: int) -> SpooledChunk | None:
        """The oldest entries still to write (adopted files first), or None when the spool is empty.

        Reads the file (blocking I/O: run it in a thread); safe beside `spill` on the event loop, which only
        appends past the end this read stops at.
        """
        for file in [*self._adopted, *([self._own] if self._own is not None else [])]:
            if file.unread:
                entries, end = file.read(file.done, file.size, limit)
                if entries:
                    return SpooledChunk(entries, file, end)
        return None

    def written(self, chunk: SpooledChunk) -> None:
        """The store took `chunk`: records how far the file got, and clears a file that was all written."""
        file = chunk.file
        file.mark(chunk.end)
        self.waiting = max(0, self.waiting - len(chunk.entries))
        if file.unread:
            return
        if file is self._own:
            file.empty()
        else:
            file.remove()
            self._adopted.remove(file)

    def close(self) -> None:
        """Releases the locks: an empty file goes, one with entries stays for the next process to adopt."""
        for file in [*self._adopted, *([self._own] if self._own is not None else [])]:
            if file.unread:
                file.release()
                logger.warning("%s keeps audit entries the store has not taken; the next start writes them",
                               file.path)
            else:
                file.remove()
        self._adopted.clear()
        self._own = None


def _lock(path: Path, *, create: bool) -> _SpoolFile | None:
    """Opens and locks `path`; None if another process holds it, or it vanished meanwhile (adopted and removed)."""
    try:
        fd = os.open(path, os.O_RDWR | (os.O_CREAT if create else 0), 0o600)
    except FileNotFoundError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    try:
        same = os.stat(path).st_ino == os.fstat(fd).st_ino
    except FileNotFoundError:
        same = False
    if not same:  # its last holder finished it and removed it between our open and our lock
        os.close(fd)
        return None
    return _SpoolFile(path, fd)


def _count_lines(file: _SpoolFile) -> int:
    with open(file.path, "rb") as handle:
        handle.seek(file.done)
        return sum(1 for line in handle if line.endswith(b"\n"))


def _read_offset(path: Path) -> int:
    try:
        return int(path.read_text() or 0)
    except (FileNotFoundError, ValueError):
        return 0


def _encode(entry: Entry) -> bytes:
    at, kind, actor, data = entry
    return orjson.dumps({"at": at.isoformat(), "kind": kind, "actor": actor, "data": data}) + b"\n"


def _decode(line: bytes) -> Entry:
    item = orjson.loads(line)
    return datetime.fromisoformat(item["at"]), item["kind"], item["actor"], item["data"]
