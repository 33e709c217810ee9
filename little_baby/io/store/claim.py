"""Claiming a model folder for one run, so two runs never write the same folder.

A run (a training, a resumed training, a conversion) holds an exclusive flock(2) on a
lock file beside its folder, `.<name>.lock` in the folder's parent (beside, not inside:
a conversion's folder must not exist until it appears whole), for as long as it runs.
The lock file holds the holder's pid, host, start time and command, so a refused run
can say who holds the folder. The kernel drops a flock when its process ends, however
it ends, so a run killed with SIGKILL leaves no live lock, only its lock file: that is
how `list` and `info` tell a run that is still going from one that was stopped
(`run_status`). Released normally (end, error, Ctrl-C, SIGTERM), the lock file is
removed; a claimant checks that the file it locked is still the one at the path
(otherwise another run removed it meanwhile) and tries again.

flock works between the processes of one machine; on NFS, Linux (since 2.6.12) emulates
it with fcntl byte-range locks, which other clients see too (flock(2), NOTES).
"""
import contextlib
import errno
import fcntl
import json
import os
import shlex
import signal
import socket
import sys
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

from ...errors import FolderTakenError
from .places import refuse_shipped

RETRY_SECONDS = 0.5  # how long a claimant retries a lock another process may only be probing


def lock_path(folder):
    """The lock file of model folder `folder`: .<name>.lock beside it."""
    folder = Path(folder).resolve()
    return folder.parent / f".{folder.name}.lock"


class Claim:
    """A held claim on `folder` (see claimed); `release()` gives it up."""

    def __init__(self, folder, fd, created):
        self.folder, self.fd, self.created = Path(folder), fd, created

    def release(self):
        """Remove the lock file (while still holding it), then drop the lock; remove the
        folders the claim created (the store, say) if nothing was written into them."""
        if self.fd is None:
            return
        with contextlib.suppress(FileNotFoundError):
            os.unlink(lock_path(self.folder))
        os.close(self.fd)  # drops the flock
        self.fd = None
        _remove_if_empty(self.created)


def claim(folder, purpose, wait=0.0):
    """A Claim on model folder `folder` for `purpose` ('a training run', 'a conversion'), or a
    FolderTakenError naming the live run that holds it. `wait`: seconds to wait for that
    run to let go first."""
    folder = Path(folder)
    refuse_shipped(folder, f"claimed for {purpose}")
    lock = lock_path(folder)
    deadline = time.monotonic() + max(wait, RETRY_SECONDS)
    created = []
    while True:
        created += _make_folders(lock.parent)  # the store, or --out's parent
        try:
            fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
        except FileNotFoundError:  # a claim released meanwhile removed the empty parent
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            if e.errno not in (errno.EAGAIN, errno.EACCES):
                os.close(fd)
                raise
            if time.monotonic() < deadline:
                os.close(fd)
                time.sleep(0.05)
                continue
            holder = _read_holder(fd)
            os.close(fd)
            _remove_if_empty(created)
            raise FolderTakenError(taken_message(folder, holder)) from None
        if _same_file(fd, lock):
            break
        os.close(fd)  # its holder removed it as we opened it: lock the new one
    _write_holder(fd, purpose)
    return Claim(folder, fd, created)


@contextlib.contextmanager
def claimed(folder, purpose, wait=0.0):
    """Hold model folder `folder` for the with-block (claim, then release on every way
    out). In the main thread a SIGTERM, whose default would end the process on the spot,
    raises SystemExit(143) instead for the block's time, so the claim is released (and
    a training run's own handler, installed inside, still checkpoints first)."""
    held = claim(folder, purpose, wait)
    try:
        with _sigterm_exits():
            yield held
    finally:
        held.release()


def holder(folder):
    """The live run holding `folder` (dict: pid, host, since, command, purpose; {} while
    it has not written them yet), or None when no live process holds it."""
    try:
        fd = os.open(lock_path(folder), os.O_RDONLY)
    except OSError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError as e:
            if e.errno in (errno.EAGAIN, errno.EACCES):
                return _read_holder(fd)
            return None
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def run_status(folder, status):
    """What a report's `status` means now: 'running' only while a live run holds the
    folder; 'stopped' when the run that held it ended without finishing (killed, or the
    machine went down); 'running?' when no lock file says either (a run started by a
    version without claims, or a folder copied here). Other statuses are returned as
    they are."""
    if status != "running":
        return status
    if holder(folder) is not None:
        return "running"
    return "stopped" if lock_path(folder).exists() else "running?"


def describe_holder(holder_info):
    """'a training run (pid 123 since 2026-..., `little-baby train ...`)', naming the host
    when it is another one; a vaguer phrase when the holder has not written it yet."""
    if not holder_info:
        return "another run (which has not said which yet)"
    where = "" if holder_info.get("host") == socket.gethostname() else \
        f" on host {holder_info.get('host')}"
    return (f"{holder_info.get('purpose', 'a run')} (pid {holder_info.get('pid')}{where} since "
            f"{holder_info.get('since')}: `{holder_info.get('command')}`)")


def taken_message(folder, holder_info):
    return (f"{folder} is held by {describe_holder(holder_info)}: wait for it to finish, stop "
            f"it (kill {holder_info.get('pid', 'PID')}), or choose another folder. Nothing was "
            f"changed.")


def command_line():
    """This process's command, as the user typed it where it can tell."""
    argv = list(sys.argv)
    if argv and Path(argv[0]).name in ("__main__.py", "little-baby"):
        argv[0] = "little-baby"
    else:
        argv.insert(0, Path(sys.executable).name)
    return shlex.join(argv)


def _write_holder(fd, purpose):
    info = {"pid": os.getpid(), "host": socket.gethostname(), "purpose": purpose,
            "since": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "command": command_line()}
    data = (json.dumps(info) + "\n").encode()
    os.ftruncate(fd, 0)
    os.pwrite(fd, data, 0)


def _read_holder(fd, patience=1.0):
    """The holder's dict from the lock file (it writes it just after it takes the lock:
    wait up to `patience` seconds for it), or {}."""
    deadline = time.monotonic() + patience
    while True:
        try:
            return json.loads(os.pread(fd, 4096, 0))
        except (OSError, ValueError):  # empty or half-written: its holder is writing it
            if time.monotonic() > deadline:
                return {}
        time.sleep(0.05)


def _same_file(fd, path):
    try:
        return os.stat(path).st_ino == os.fstat(fd).st_ino
    except FileNotFoundError:
        return False


def _make_folders(folder):
    """Create `folder` and its missing parents; returns those it created, deepest first."""
    missing = [p for p in (folder, *folder.parents) if not p.exists()]
    folder.mkdir(parents=True, exist_ok=True)
    return missing


def _remove_if_empty(folders):
    """Remove `folders` (deepest first) that are still empty; leave the others."""
    for folder in folders:
        with contextlib.suppress(OSError):
            folder.rmdir()


@contextlib.contextmanager
def _sigterm_exits():
    if (threading.current_thread() is not threading.main_thread()
            or signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL):
        yield
        return

    def exit_on_sigterm(signum, frame):
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, exit_on_sigterm)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
