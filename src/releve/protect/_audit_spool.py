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
fsynced: it survives the process, not a crash of the machine. A line that cannot be read back (a
machine crash's torn or zeroed tail) is moved to `<file>.bad`, logged and counted
(`AuditSpool.unreadable`), and the rest goes on: one bad line never stops the audit log.
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

    def __init__(self, path: Path, fd: int, *, adopted: bool) -> None:
        self.path = path
        self.fd = fd
        self.adopted = adopted  # its writer is gone: an unfinished last line will never be finished
        self.done_path = path.with_name(path.name + ".done")
        self.done = _read_offset(self.done_path)
        self.size = os.fstat(fd).st_size
        self.unreadable = 0

    @property
    def unread(self) -> bool:
        return self.done < self.size

    def append(self, lines: bytes) -> None:
        written = 0
        try:
            while written < len(lines):
                written += os.pwrite(self.fd, lines[written:], self.size + written)
        except OSError:
            # Disk full halfway: take the partial lines back, or the next append would glue onto them.
            with contextlib.suppress(OSError):
                os.ftruncate(self.fd, self.size)
            raise
        self.size += len(lines)

    def read(self, start: int, end: int, limit: int) -> tuple[list[Entry], int, int]:
        """Up to `limit` lines from byte `start`, never past `end`: the entries, the offset after the last line
        and how many lines that was (unreadable ones included)."""
        entries: list[Entry] = []
        offset = start
        lines = 0
        with open(self.path, "rb") as handle:
            handle.seek(start)
            while lines < limit and offset < end:
                line = handle.readline(end - offset)
                if not line.endswith(b"\n") and not self.adopted:
                    break  # our own appends are whole lines; this one is still being written
                offset += len(line)
                lines += 1
                try:
                    entries.append(_decode(line))
                except (ValueError, KeyError, TypeError) as exc:
                    self._set_aside(line, exc)
        return entries, offset, lines

    def _set_aside(self, line: bytes, exc: Exception) -> None:
        self.unreadable += 1
        bad = self.path.with_name(self.path.name + ".bad")
        logger.error("an audit spool line cannot be read (%s); moved to %s, the rest goes on", exc, bad)
        with contextlib.suppress(OSError), open(bad, "ab") as handle:
            handle.write(line if line.endswith(b"\n") else line + b"\n")

    def mark(self, offset: int) -> None:
        """Records how far the store has taken the file. The store has the entries already: a failure to note
        it on disk is logged, never raised (raising would write them again at every retry)."""
        self.done = offset
        temporary = self.done_path.with_name(self.done_path.name + ".tmp")
        try:
            temporary.write_text(str(offset))
            os.replace(temporary, self.done_path)
        except OSError as exc:
            logger.warning("cannot note audit spool progress in %s (%s): a restart now would write up to %d "
                           "bytes of entries again", self.done_path, exc, offset)

    def empty(self) -> None:
        """Everything was written: start the file over (it stays, locked, for the next spill)."""
        os.ftruncate(self.fd, 0)
        self.size = self.done = 0
        with contextlib.suppress(OSError):
            self.done_path.unlink()

    def remove(self) -> None:
        for path in (self.path, self.done_path, self.done_path.with_name(self.done_path.name + ".tmp")):
            with contextlib.suppress(OSError):
                path.unlink()
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
    lines: int   # lines consumed: the entries, and any set aside as unreadable


class AuditSpool:
    """The spool of one process (`holder`, e.g. its replica id) in `directory`, plus the files it adopted."""

    def __init__(self, directory: Path, holder: str) -> None:
        self.directory = directory
        self.holder = holder
        self._own: _SpoolFile | None = None
        self._adopted: list[_SpoolFile] = []
        self.waiting = 0   # entries in the spool, not yet written (counted as spilled or adopted)
        self._unreadable_before = 0  # lines set aside in files since removed

    @property
    def unreadable(self) -> int:
        """Lines that could not be read back (set aside in `.bad` files): entries the chain will miss."""
        files = [*self._adopted, *([self._own] if self._own is not None else [])]
        return self._unreadable_before + sum(file.unreadable for file in files)

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
            file = _lock(path, create=False, adopted=True)
            if file is None:
                continue
            if not file.unread:
                file.remove()
                continue
            try:
                count = _count_lines(file)
            except OSError:
                file.release()
                raise
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
            own = _lock(self.directory / name, create=True, adopted=False)
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
                entries, end, lines = file.read(file.done, file.size, limit)
                if end > file.done:
                    return SpooledChunk(entries, file, end, lines)
        return None

    def written(self, chunk: SpooledChunk) -> None:
        """The store took `chunk`: records how far the file got, and clears a file that was all written."""
        file = chunk.file
        file.mark(chunk.end)
        self.waiting = max(0, self.waiting - chunk.lines)
        if file.unread:
            return
        if file is self._own:
            file.empty()
        else:
            self._unreadable_before += file.unreadable
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


def _lock(path: Path, *, create: bool, adopted: bool) -> _SpoolFile | None:
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
        on_disk, opened = os.stat(path), os.fstat(fd)
        same = (on_disk.st_dev, on_disk.st_ino) == (opened.st_dev, opened.st_ino)
    except FileNotFoundError:
        same = False
    if not same:  # its last holder finished it and removed it between our open and our lock
        os.close(fd)
        return None
    try:
        return _SpoolFile(path, fd, adopted=adopted)
    except OSError:
        os.close(fd)
        raise


def _count_lines(file: _SpoolFile) -> int:
    with open(file.path, "rb") as handle:
        handle.seek(file.done)
        return sum(1 for _ in handle)


def _read_offset(path: Path) -> int:
    try:
        return int(path.read_text() or 0)
    except FileNotFoundError:
        return 0
    except ValueError:
        logger.warning("unreadable audit spool offset %s: the file is written again from its start", path)
        return 0


def _encode(entry: Entry) -> bytes:
    at, kind, actor, data = entry
    return orjson.dumps({"at": at.isoformat(), "kind": kind, "actor": actor, "data": data}) + b"\n"


def _decode(line: bytes) -> Entry:
    item = orjson.loads(line)
    at = datetime.fromisoformat(item["at"])
    if at.utcoffset() is None or not isinstance(item["data"], dict):
        raise ValueError("not an audit entry")
    return at, str(item["kind"]), str(item["actor"]), item["data"]
