"""Writers of the database: one at a time, and never the file a reader has open.

Every command that writes the database (ingest, a demo build, a rollup rebuild) does so
inside `writing(db, ...)`:

1. It takes the writer lock, `<db>.lock` (fcntl.flock, not waiting): a second writer is
   refused at once with the holder's pid and command. The lock goes with the process,
   so a killed writer never leaves it held.
2. It builds the next generation of the database in `.<db name>.writing/` beside it (a
   copy of the current file to add to, or a new file), and checkpoints it.
3. `publish()` renames it over the database path: one atomic rename is the commit.
   Readers (the bot, `toprank ask`) keep the old file open until they notice the new
   one (sql/engine.py) and never wait on, or block, a writer.

Anything before the rename leaves the database untouched, and the working directory is
removed on the way out (Ctrl-C and errors included; after kill -9 or a power cut the next
writer removes what is left, and `toprank data info` says it is there).

The extra disk a write needs is one copy of the database plus what it adds, in the
database's own directory (a rename cannot cross file systems). The copy is a reflink
where the file system has them (btrfs, XFS: no bytes copied), else a full copy.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import signal
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import duckdb

from toprank.data.db import FileIdentity, StartupError

NO_SPACE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})
_NO_SPACE_WORDS = ("no space left on device", "disk quota exceeded", "file too large")


class WriterBusy(StartupError):
    """Another command is writing the same database."""


class GenerationConflict(RuntimeError):
    """The database file changed under a writer (something not taking the lock)."""


def lock_path(db: Path) -> Path:
    return db.with_name(db.name + ".lock")


def work_dir(db: Path) -> Path:
    return db.with_name(f".{db.name}.writing")


def _legacy_leftovers(db: Path) -> list[Path]:
    """Temporary files of writers from before the working directory (same directory)."""
    patterns = (
        f"{db.stem}.*.duckdb.tmp",
        f"{db.stem}.*.duckdb.tmp.wal",
        f"{db.stem}.*.spill.tmp",
        f"{db.stem}.rejects.*.csv.partial",
    )
    return [p for pattern in patterns for p in db.parent.glob(pattern)]


def leftovers(db: Path) -> list[Path]:
    """What interrupted writers left beside `db` (removed by the next writer)."""
    found = [work_dir(db)] if work_dir(db).exists() else []
    return found + _legacy_leftovers(db)


def current_holder(db: Path) -> Holder | None:
    """The writer working on `db` now, if any (from the lock file: a holder line whose
    process is alive; a killed writer leaves its line, but not its process)."""
    try:
        holder = Holder.parse(lock_path(db).read_text(encoding="utf-8", errors="replace"))
    except OSError:
        return None
    if holder is None:
        return None
    try:
        os.kill(holder.pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass  # alive, another user's
    return holder


def size_of(path: Path) -> int:
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    try:
        return path.stat().st_size
    except OSError:
        return 0


@dataclass(frozen=True)
class Holder:
    pid: int
    command: str
    since: str

    @classmethod
    def parse(cls, text: str) -> Holder | None:
        parts = text.strip().split("\t")
        if len(parts) != 3 or not parts[0].isdigit():
            return None
        return cls(int(parts[0]), parts[1], parts[2])

    def line(self) -> str:
        return f"{self.pid}\t{self.command}\t{self.since}\n"


class WriterLock:
    """The one-writer lock on `<db>.lock`; the file holds the holder's pid and command."""

    def __init__(self, db: Path, command: str, wait: float = 0.0) -> None:
        self.db = db
        self.path = lock_path(db)
        self.command = " ".join(command.split())[:200]
        self.wait = wait  # seconds to wait for the holder (0: refuse at once)
        self._fd: int | None = None

    def acquire(self) -> None:
        import fcntl

        self.db.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        deadline = time.monotonic() + self.wait
        try:
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise
                    time.sleep(0.1)
        except BlockingIOError:
            holder = Holder.parse(os.pread(fd, 4096, 0).decode("utf-8", "replace"))
            os.close(fd)
            who = (
                f"pid {holder.pid}, `{holder.command}`, since {holder.since}"
                if holder
                else "another process"
            )
            raise WriterBusy(
                f"another toprank command is writing {self.db} ({who}); run this one when "
                "it has finished (the bot keeps answering meanwhile)"
            ) from None
        except BaseException:
            os.close(fd)
            raise
        holder = Holder(os.getpid(), self.command, datetime.now().strftime("%Y-%m-%d %H:%M:%S"))
        os.ftruncate(fd, 0)
        os.pwrite(fd, holder.line().encode(), 0)
        self._fd = fd

    def release(self) -> None:
        import fcntl

        if self._fd is None:
            return
        with contextlib.suppress(OSError):
            os.ftruncate(self._fd, 0)
        fcntl.flock(self._fd, fcntl.LOCK_UN)
        os.close(self._fd)
        self._fd = None

    def __enter__(self) -> WriterLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


class Draft:
    """The next generation of the database, being written in the working directory."""

    def __init__(self, db: Path, base: FileIdentity | None) -> None:
        self.db = db
        self.dir = work_dir(db)
        self.path = self.dir / "next.duckdb"
        self.base = base  # the file the draft started from (None: a new database)
        self.published = False
        self.cleaned_up = 0  # bytes of leftovers removed at the start

    def scratch(self, name: str) -> Path:
        """A path in the working directory (removed with it)."""
        return self.dir / name

    def publish(self) -> None:
        """The commit: the draft, flushed to disk, replaces the database in one rename."""
        if FileIdentity.of(self.db) != self.base:
            raise GenerationConflict(
                f"{self.db} was changed by something else while this command ran (a writer "
                "not taking the lock?); nothing was changed by this one"
            )
        wal = Path(f"{self.path}.wal")
        if wal.exists():  # a draft is checkpointed before it is published
            raise RuntimeError(f"{self.path} was not checkpointed")
        _fsync(self.path)
        os.replace(self.path, self.db)
        self.published = True
        _fsync(self.db.parent)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _remove_tree(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(OSError):
            path.unlink()


def _checkpoint_legacy_wal(db: Path) -> None:
    """A `<db>.wal` is what an older toprank left when it was killed mid-write: fold it
    into the file first, so a copy of the file misses nothing."""
    if not Path(f"{db}.wal").exists():
        return
    try:
        con = duckdb.connect(str(db))
    except duckdb.Error as exc:
        raise WriterBusy(
            f"{db} has a write-ahead log left by an interrupted write and is open elsewhere "
            f"({str(exc).splitlines()[0]}); stop the program using it once and run this again"
        ) from None
    try:
        con.execute("CHECKPOINT")
    finally:
        con.close()


@contextlib.contextmanager
def writing(db: Path, command: str, *, copy: bool, wait: float = 0.0) -> Iterator[Draft]:
    """Hold the writer lock and a draft of the next generation (a copy of the current
    database when `copy` and there is one, else nothing yet: the caller creates it).
    Without `draft.publish()`, nothing changes and the draft is removed. A symlinked
    database path is followed: the new generation replaces the file it names."""
    db = Path(os.path.realpath(db))
    with WriterLock(db, command, wait):
        freed = 0
        for stale in leftovers(db):
            freed += size_of(stale)
            _remove_tree(stale)
        base = FileIdentity.of(db)
        draft = Draft(db, base)
        draft.cleaned_up = freed
        try:
            draft.dir.mkdir(parents=True)
            if copy and base is not None:
                _checkpoint_legacy_wal(db)
                draft.base = FileIdentity.of(db)
                copy_file(db, draft.path)
            yield draft
        finally:
            _remove_tree(draft.dir)


# Linux's FICLONE ioctl: the new file shares the old one's blocks until either is written
# (copy-on-write, btrfs and XFS): a copy in constant time, as safe as a full one.
_FICLONE = 0x40049409


def copy_file(source: Path, target: Path) -> None:
    """The draft's copy of the database: a reflink where the file system has them (no
    data copied, whatever the size), else a full copy (ext4, tmpfs, other systems)."""
    try:
        import fcntl

        with source.open("rb") as src, target.open("wb") as dst:
            fcntl.ioctl(dst.fileno(), _FICLONE, src.fileno())
        return
    except (OSError, ImportError, AttributeError):
        pass  # no reflinks here: copy the bytes (copyfile truncates the target first)
    shutil.copyfile(source, target)


# --------------------------------------------------------------------- failures


def _chain(exc: BaseException | None) -> Iterator[BaseException]:
    seen = 0
    while exc is not None and seen < 10:
        yield exc
        exc = exc.__cause__ or exc.__context__
        seen += 1


def no_space(exc: BaseException | None) -> bool:
    """True when `exc` (or what caused it) is a full disk, quota or file-size limit."""
    return any(
        (isinstance(e, OSError) and e.errno in NO_SPACE_ERRNOS)
        or any(word in str(e).lower() for word in _NO_SPACE_WORDS)
        for e in _chain(exc)
    )


def _file_size_limit(exc: BaseException | None) -> bool:
    return any(
        (isinstance(e, OSError) and e.errno == errno.EFBIG) or "file too large" in str(e).lower()
        for e in _chain(exc)
    )


def no_space_message(db: Path, exc: BaseException | None = None) -> str:
    from toprank.data.demo import human_bytes

    if _file_size_limit(exc):
        return (
            f"the file-size limit of this process (ulimit -f) stopped the write of the new "
            f"database in {db.parent} (the database's directory)"
        )
    try:
        free = human_bytes(shutil.disk_usage(db.parent).free)
    except OSError:
        free = "unknown"
    size = human_bytes(size_of(db)) if db.exists() else "new"
    return (
        f"not enough disk space in {db.parent} (the database's directory: {free} free) to "
        f"write the new database; a write needs room for a copy of the database ({size}) "
        "plus the new data"
    )


@dataclass
class InterruptWatch:
    """Whether Ctrl-C was pressed while the watch was on (main thread only)."""

    pressed: bool = False


@contextlib.contextmanager
def watching_interrupts() -> Iterator[InterruptWatch]:
    """Ctrl-C still stops the work (KeyboardInterrupt, which DuckDB turns into an
    interrupted query), but is also remembered: an error it caused on the way out
    (a UDF's or reader's failure) is then reported as the interruption it was."""
    watch = InterruptWatch()
    if threading.current_thread() is not threading.main_thread():
        yield watch
        return

    def handler(signum: int, frame: object) -> None:
        watch.pressed = True
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield watch
    finally:
        signal.signal(signal.SIGINT, previous)


@contextlib.contextmanager
def interrupts_deferred() -> Iterator[InterruptWatch]:
    """Ctrl-C is held until the block ends: around the commit and the steps that must
    follow it, so "interrupted" is never said of work that was in fact committed."""
    watch = InterruptWatch()
    if threading.current_thread() is not threading.main_thread():
        yield watch
        return

    def handler(signum: int, frame: object) -> None:
        watch.pressed = True

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield watch
    finally:
        signal.signal(signal.SIGINT, previous)


def command_line() -> str:
    """The command a lock holder is shown as."""
    name = Path(sys.argv[0]).name if sys.argv else "python"
    return " ".join([name, *sys.argv[1:]]) if name == "toprank" else " ".join(sys.argv) or name
