"""Several users of one study at once: who may open the store, who waits, and what they are told.

DuckDB lets many processes open a database file *read-only* together, or one process open it for
writing, never both. fieldsurvey therefore

* opens the store **read-only** for every command that only reads (``status``, ``compare``,
  ``benchmark``, ``export-data``, reports ...), so readers run beside each other;
* opens it for **writing** only for the short moment an ingest stores its rows (the file is read
  and checked before), and records who is writing in ``store.duckdb.writer.json``;
* when the store is held in a way that excludes it (a reader while someone writes, a writer while
  others read or write), **waits** and retries until the holder is done, up to
  ``$FIELDSURVEY_LOCK_TIMEOUT`` seconds (default 120). Past that it stops with
  :class:`~fieldsurvey.errors.StudyBusyError`, saying which command holds the study and since
  when.

A store that is missing, empty, truncated or not a DuckDB file is a
:class:`~fieldsurvey.errors.StoreError` naming the file, never a traceback and never a new empty
store created in its place by a command that only reads.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from fieldsurvey.errors import StoreError, StudyBusyError

TIMEOUT_ENV = "FIELDSURVEY_LOCK_TIMEOUT"
DEFAULT_TIMEOUT = 120.0
_LOCKED = "Could not set lock on file"
_HOLDER_PID = re.compile(r"\(PID (\d+)\)")
_MAX_DEFER = 30.0  # seconds a reader lets a waiting writer go first


def lock_timeout() -> float:
    """Seconds to wait for a busy store: ``$FIELDSURVEY_LOCK_TIMEOUT`` or 120."""
    raw = os.environ.get(TIMEOUT_ENV, "")
    try:
        return max(0.0, float(raw)) if raw.strip() else DEFAULT_TIMEOUT
    except ValueError:
        return DEFAULT_TIMEOUT


def writer_file(store: Path) -> Path:
    """The note an ingest leaves beside the store while it writes."""
    return store.with_name(store.name + ".writer.json")


def connect(store: Path, *, read_only: bool, timeout: float | None = None
            ) -> duckdb.DuckDBPyConnection:
    """Open the store, waiting while another process holds it in a conflicting way.

    A writer that has to wait says so in ``store.duckdb.waiting-writer.json``; readers arriving
    meanwhile let it go first, so a steady stream of readers cannot starve an ingest.

    Raises
    ------
    StoreError
        The store is missing (read-only), or not a readable DuckDB database.
    StudyBusyError
        It stayed locked for ``timeout`` seconds (default :func:`lock_timeout`).
    """
    if read_only and not store.is_file():
        raise StoreError(
            "this study store is missing (deleted or moved?): the study has no stored "
            "responses to read. Restore it from a backup, or ingest the files again "
            "(fieldsurvey ingest) to build a new store",
            file=str(store), code="store_missing")
    wait = lock_timeout() if timeout is None else timeout
    deadline = time.monotonic() + wait
    pause, announced = 0.05, False
    try:
        while True:
            if read_only:
                _let_waiting_writer_in(store, deadline)
            try:
                return duckdb.connect(str(store), read_only=read_only)
            except duckdb.IOException as exc:
                message = str(exc)
                if _LOCKED not in message:
                    raise damaged(store, exc) from None
                if time.monotonic() >= deadline:
                    raise StudyBusyError(busy_message(store, message, read_only, wait),
                                         file=str(store)) from None
                if not read_only and not announced:
                    announced = _announce_waiting_writer(store)
                time.sleep(min(pause, max(0.0, deadline - time.monotonic())))
                pause = min(pause * 1.5, 0.5)
            except duckdb.Error as exc:
                raise damaged(store, exc) from None
    finally:
        if announced:
            _withdraw_waiting_writer(store)


def _waiting_writer_file(store: Path) -> Path:
    return store.with_name(store.name + ".waiting-writer.json")


def _announce_waiting_writer(store: Path) -> bool:
    try:
        _waiting_writer_file(store).write_text(json.dumps({"pid": os.getpid()}), encoding="utf-8")
        return True
    except OSError:
        return False


def _withdraw_waiting_writer(store: Path) -> None:
    note = _waiting_writer_file(store)
    try:
        if json.loads(note.read_text(encoding="utf-8")).get("pid") == os.getpid():
            note.unlink()
    except (OSError, ValueError, AttributeError):
        pass


def _let_waiting_writer_in(store: Path, deadline: float) -> None:
    """Before a reader opens the store: while a live writer waits, step aside (for a while)."""
    note = _waiting_writer_file(store)
    limit = min(deadline, time.monotonic() + _MAX_DEFER)
    while time.monotonic() < limit:
        try:
            pid = int(json.loads(note.read_text(encoding="utf-8"))["pid"])
        except (OSError, ValueError, KeyError, TypeError):
            return
        if pid == os.getpid() or not _alive(pid):
            return
        time.sleep(0.05)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def damaged(store: Path, exc: BaseException) -> StoreError:
    """The error for a store DuckDB cannot read."""
    detail = str(exc).splitlines()[0]
    return StoreError(
        f"this study store cannot be read: it is damaged, truncated or not a fieldsurvey "
        f"store ({detail}). Restore it from a backup, or move it aside and ingest the files "
        "again",
        file=str(store), code="store_damaged")


@contextmanager
def writing(store: Path, command: str | None = None) -> Iterator[duckdb.DuckDBPyConnection]:
    """A write connection to the store, with a note saying who writes and since when."""
    con = connect(store, read_only=False)
    note = writer_file(store)
    try:
        try:
            note.write_text(json.dumps({
                "pid": os.getpid(),
                "command": command or _command_line(),
                "since": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
            }), encoding="utf-8")
        except OSError:
            pass  # the note only improves a busy message; a read-only folder still works
        yield con
    finally:
        con.close()
        try:
            note.unlink(missing_ok=True)
        except OSError:
            pass


def _command_line() -> str:
    args = [Path(sys.argv[0]).name if sys.argv else "python", *sys.argv[1:3]]
    return " ".join(a for a in args if a)


def busy_message(store: Path, message: str, read_only: bool, waited: float) -> str:
    """Which command holds the study, and since when, from DuckDB's message and our notes."""
    match = _HOLDER_PID.search(message)
    pid = int(match.group(1)) if match else None
    holder = _holder(store, pid)
    want = "read" if read_only else "write to"
    return (f"the study is busy: {holder}, so this command could not {want} it within "
            f"{waited:g} s. Try again when that has finished (or set {TIMEOUT_ENV} to wait "
            "longer)")


def _holder(store: Path, pid: int | None) -> str:
    note = writer_file(store)
    try:
        info = json.loads(note.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        info = None
    if isinstance(info, dict) and (pid is None or info.get("pid") == pid):
        return (f"'{info.get('command')}' (process {info.get('pid')}) has been writing to it "
                f"since {info.get('since')}")
    if pid is None:
        return "another command is using it"
    started = _process_start(pid)
    command = _process_command(pid)
    what = f"'{command}' " if command else ""
    since = f", running since {started}" if started else ""
    return f"{what}(process {pid}{since}) is using it"


def _process_command(pid: int) -> str:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return ""
    parts = [p.decode(errors="replace") for p in raw.split(b"\0") if p]
    return " ".join(parts[:4])[:120]


def _process_start(pid: int) -> str:
    """When a process started (Linux /proc), as local ISO time; "" when unknown."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks = int(fields[19])
        boot = next(int(line.split()[1]) for line in Path("/proc/stat").read_text().splitlines()
                    if line.startswith("btime"))
        seconds = boot + ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, StopIteration):
        return ""
    return dt.datetime.fromtimestamp(seconds).astimezone().isoformat(timespec="seconds")
