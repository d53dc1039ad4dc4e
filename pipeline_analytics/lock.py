"""One writer at a time: an advisory lock file next to the warehouse, `<warehouse>.lock`.

The lock is an `fcntl.flock` on that file, so the kernel releases it the moment its holder exits,
however it exits (`kill -9` included): a lock can never outlive its process on this machine. The
file's content, JSON with the holder's pid, host, command and start time, only serves to name the
holder to whoever finds the warehouse busy. A holder that finishes empties the file; a file found
non-empty while its lock is free was therefore left by a process that died, and is reported as a
stale lock when taken over. The file itself is never deleted: deleting a lock file lets two
processes lock two different files of the same name.

flock works between processes of one machine; a warehouse on a network share needs a single host
running the jobs.

The file is opened without following a symbolic link (O_NOFOLLOW): taking the lock truncates the
file, and a link planted at `<warehouse>.lock` would otherwise have its target emptied.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import socket
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType

from pipeline_analytics.errors import InputError, LockBusy

log = logging.getLogger(__name__)

POLL_SECONDS = 0.2


@dataclass(frozen=True)
class LockHolder:
    pid: int | None
    hostname: str | None
    command: str | None
    started_at: str | None

    def describe(self) -> str:
        if self.pid is None:
            return "a process that has not written its details yet"
        host = f" on {self.hostname}" if self.hostname else ""
        command = f" (`{self.command}`)" if self.command else ""
        return f"pid {self.pid}{host}{command}, started {self.started_at}"


# A holder between taking the lock and writing its details, or whose file is unreadable.
UNKNOWN_HOLDER = LockHolder(None, None, None, None)


def lock_path(db_path: Path) -> Path:
    return db_path.with_name(db_path.name + ".lock")


def read_holder(path: Path) -> LockHolder | None:
    """The holder recorded in a lock file, or None when the file is absent or empty."""
    try:
        text = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    if not text:
        return None
    try:
        raw = json.loads(text)
    except json.JSONDecodeError:
        return UNKNOWN_HOLDER
    return LockHolder(
        raw.get("pid"), raw.get("hostname"), raw.get("command"), raw.get("started_at")
    )


class WarehouseLock:
    """Exclusive lock on a warehouse, held from `acquire` until `release` (or the process ends)."""

    def __init__(self, db_path: Path, command: str) -> None:
        self.db_path = db_path
        self.path = lock_path(db_path)
        self.command = command
        self._fd: int | None = None

    def acquire(self, wait_seconds: float = 0.0) -> None:
        """Take the lock, polling for up to wait_seconds; raise LockBusy naming the holder."""
        fd = self._open()
        deadline = time.monotonic() + wait_seconds
        announced = False
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                holder = read_holder(self.path) or UNKNOWN_HOLDER
                if time.monotonic() >= deadline:
                    os.close(fd)
                    raise LockBusy(self._busy_message(holder, wait_seconds)) from None
                if not announced:
                    log.info(
                        "warehouse %s is locked by %s; waiting up to %g s",
                        self.db_path,
                        holder.describe(),
                        wait_seconds,
                        extra={"event": "lock_wait", "holder_pid": holder.pid},
                    )
                    announced = True
                time.sleep(POLL_SECONDS)
        self._fd = fd
        stale = read_holder(self.path)
        if stale is not None:
            log.warning(
                "cleared a stale lock on %s left by %s, which ended without releasing it "
                "(killed or crashed)",
                self.db_path,
                stale.describe(),
                extra={"event": "stale_lock_cleared", "holder_pid": stale.pid},
            )
        self._write_holder()

    def _open(self) -> int:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            return os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644)
        except OSError as exc:
            if self.path.is_symlink():
                raise InputError(
                    f"lock file {self.path} is a symbolic link (to {os.readlink(self.path)}); "
                    "remove the link: pipeline-analytics creates the lock file itself"
                ) from None
            raise unwritable_location(self.path, exc) from None

    def release(self) -> None:
        if self._fd is None:
            return
        os.ftruncate(self._fd, 0)  # an empty file tells the next holder we finished cleanly
        fcntl.flock(self._fd, fcntl.LOCK_UN)
        os.close(self._fd)
        self._fd = None

    def __enter__(self) -> WarehouseLock:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()

    def _write_holder(self) -> None:
        assert self._fd is not None
        details = {
            "pid": os.getpid(),
            "hostname": socket.gethostname(),
            "command": self.command,
            "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        os.ftruncate(self._fd, 0)
        os.pwrite(self._fd, json.dumps(details).encode("utf-8"), 0)

    def _busy_message(self, holder: LockHolder, wait_seconds: float) -> str:
        waited = f" after waiting {wait_seconds:g} s" if wait_seconds > 0 else ""
        return (
            f"warehouse {self.db_path} is in use by {holder.describe()}{waited}; "
            "let it finish, or pass --wait SECONDS to wait for it (lock file: "
            f"{self.path})"
        )


def unwritable_location(path: Path, exc: OSError) -> InputError:
    """The one-line error for a warehouse (or its lock) that cannot be created where configured."""
    return InputError(
        f"cannot write the warehouse at {path.parent} ({exc.strerror or exc}); make that folder "
        "writable, or point [warehouse] path in the config (or --db PATH) to a writable folder"
    )
