"""Files written atomically and files read with bounds.

Writing: a file is either its old self or complete, never half-written (a temporary file
beside it, fsynced, then one rename). A set of files that belong together (a model
folder's config, tokenizer, weights and report) is committed as a whole through a small
journal, as databases do with a write-ahead log: once every new file is on disk, a
journal naming the renames is made durable, then the renames run, then the journal goes.
A kill before the journal leaves the old set; a kill after it leaves a set that
`committed_path` (readers) and `finish_interrupted_commit` (the next writer) complete to
the new one. Directory entries are made durable with an fsync of the folder (fsync(2):
"calling fsync() on a file descriptor for the directory is also needed").

Reading: `read_limited` opens only regular files (never a FIFO or a device, which hang or
never end) and reads at most a bound, so a spoiled folder costs a clear error, not memory.
"""
import contextlib
import fcntl
import json
import os
import re
import shutil
import stat
import tempfile
from glob import escape as glob_escape
from pathlib import Path

from ...errors import ModelFolderError

_UMASK = os.umask(0)
os.umask(_UMASK)
FILE_MODE = 0o666 & ~_UMASK  # a new file's mode under this process's umask
JOURNAL = ".commit-journal.json"  # names the renames of a commit in progress
_TMP_SUFFIX = ".tmp"
_OURS = re.compile(r"\..+\.[a-z0-9_]{8}\.tmp")  # the names _locked_temporary makes


@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary path beside `path`; on success it replaces `path` in one step.

    On an error (or Ctrl-C) the temporary file is removed and `path` is untouched.
    """
    with atomic_files([path]) as (tmp,):
        yield tmp


@contextlib.contextmanager
def atomic_files(paths):
    """Yield temporary paths for `paths` (files of one folder); once all are written they
    replace `paths` as one commit: a kill at any instant leaves all old or all new
    (readers go through `committed_path`). An error while writing touches none of them."""
    paths = [Path(p) for p in paths]
    folder = paths[0].parent
    if any(p.parent != folder for p in paths):
        raise ValueError("atomic_files commits the files of one folder")
    folder.mkdir(parents=True, exist_ok=True)
    finish_interrupted_commit(folder)
    tmps, fds = [], []
    try:
        for path in paths:
            fd, tmp = _locked_temporary(folder, f".{path.name}.")
            fds.append(fd)
            tmps.append(Path(tmp))
        yield tmps
        for tmp in tmps:
            with open(tmp, "rb+") as f:  # on disk before a rename makes it visible
                os.fsync(f.fileno())
            os.chmod(tmp, FILE_MODE)  # mkstemp makes 0600; give what open() would have given
        if len(paths) == 1:
            os.replace(tmps[0], paths[0])
        else:
            _commit(folder, [(t.name, p.name) for t, p in zip(tmps, paths)])
        fsync_folder(folder)
    finally:
        for tmp in tmps:
            if tmp.exists():
                tmp.unlink()
        for fd in fds:
            os.close(fd)


def _locked_temporary(folder, prefix):
    """(fd, path) of a new temporary file in `folder`, flock'ed for as long as the fd is
    open: the lock tells a live writer's file from one a killed writer left behind (the
    kernel drops a flock when its process ends)."""
    fd, tmp = tempfile.mkstemp(prefix=prefix, suffix=_TMP_SUFFIX, dir=folder)
    fcntl.flock(fd, fcntl.LOCK_EX)
    return fd, tmp


def _commit(folder, renames):
    """Make the journal of `renames` ((temporary name, final name) in `folder`) durable,
    run them, then remove the journal."""
    fd, journal_tmp = _locked_temporary(folder, f"{JOURNAL}.")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump({"renames": renames}, f)
        f.flush()
        os.fsync(f.fileno())
        os.replace(journal_tmp, folder / JOURNAL)
    fsync_folder(folder)  # from here on the commit happens, whatever stops this process
    _run_journal(folder, renames)


def _run_journal(folder, renames):
    for tmp, name in renames:
        with contextlib.suppress(FileNotFoundError):  # renamed already (before a kill)
            os.replace(folder / tmp, folder / name)
    fsync_folder(folder)
    (folder / JOURNAL).unlink(missing_ok=True)
    fsync_folder(folder)


def _journal(folder):
    """The renames of `folder`'s unfinished commit, [] when there is none. A journal that
    is not ours (unreadable, or naming paths outside the folder) is a ModelFolderError."""
    path = Path(folder) / JOURNAL
    if not path.exists():
        return []
    data = parse_json(read_limited(path, 1 << 16), path)
    renames = data.get("renames") if isinstance(data, dict) else None
    ok = isinstance(renames, list) and all(
        isinstance(r, list) and len(r) == 2 and all(isinstance(n, str) and n and "/" not in n
                                                    and n not in (".", "..") for n in r)
        for r in renames)
    if not ok:
        raise ModelFolderError(f"{path} is not a commit journal of ours: remove it.")
    return [tuple(r) for r in renames]


def committed_path(folder, name):
    """Where the committed version of `folder`/`name` is: the file itself, or the new file
    of a commit that a kill interrupted after its journal was written (which is complete,
    and what the next writer renames into place)."""
    for tmp, final in _journal(folder):
        if final == name and (Path(folder) / tmp).is_file():
            return Path(folder) / tmp
    return Path(folder) / name


def finish_interrupted_commit(folder):
    """Before writing into `folder`: finish a commit a kill interrupted (its journal's
    renames) and remove the temporary files killed writers left behind (those no live
    writer holds locked)."""
    folder = Path(folder)
    renames = _journal(folder)
    if renames:
        _run_journal(folder, renames)
    for leftover in folder.glob(f".*{_TMP_SUFFIX}"):
        if _OURS.fullmatch(leftover.name):  # mkstemp's: .<name>.<8 random chars>.tmp
            _remove_if_unheld(leftover)


def fsync_folder(folder):
    """Make `folder`'s entries (new names, renames, removals) durable."""
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_text_atomic(path, text):
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_bytes_atomic(path, data):
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


@contextlib.contextmanager
def atomic_folder(path):
    """Yield a temporary folder beside `path`; on success it becomes `path` in one rename.

    `path` must not exist yet. On an error the temporary folder is removed, so `path`
    either does not exist or is complete; one a killed writer left beside it (flock'ed by
    no one) is removed first.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    for stale in path.parent.glob(f".{glob_escape(path.name)}.*{_TMP_SUFFIX}"):
        if _OURS.fullmatch(stale.name):
            _remove_if_unheld(stale)  # a killed writer's half-made folder
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=_TMP_SUFFIX, dir=path.parent))
    held = os.open(tmp, os.O_RDONLY | os.O_DIRECTORY)
    fcntl.flock(held, fcntl.LOCK_EX)  # as _locked_temporary: tells ours from a dead one's
    try:
        yield tmp
        for child in tmp.iterdir():
            if child.is_file():
                with open(child, "rb") as f:
                    os.fsync(f.fileno())
        fsync_folder(tmp)
        os.rename(tmp, path)
        fsync_folder(path.parent)
    finally:
        os.close(held)
        if tmp.exists():
            shutil.rmtree(tmp)


def _remove_if_unheld(path):
    """Remove a temporary file or folder of ours unless a live writer holds its flock
    (_locked_temporary's, atomic_folder's): what a killed writer left behind."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:  # gone, or a link: not ours to remove
        return
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISREG(mode) or stat.S_ISDIR(mode):  # a FIFO or device is not ours
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # OSError: a live writer's
            if stat.S_ISDIR(mode):
                shutil.rmtree(path)
            else:
                Path(path).unlink(missing_ok=True)
    except OSError:
        pass
    finally:
        os.close(fd)


# ---- reading with bounds ----------------------------------------------------------------
def read_limited(path, max_bytes, what="file"):
    """The bytes of regular file `path`, refused with a ModelFolderError when it is not a
    regular file (a FIFO, a device, a folder) or holds more than `max_bytes`."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)  # a FIFO opens without waiting
    except OSError as e:
        raise ModelFolderError(f"cannot read {path}: {e.strerror or e}.") from e
    with os.fdopen(fd, "rb") as f:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise ModelFolderError(f"{path} is not a regular file (a pipe, device or folder): "
                                   f"a {what} must be an ordinary file.")
        if st.st_size > max_bytes:
            raise ModelFolderError(f"{path} is {st.st_size:,} bytes, more than a {what} may be "
                                   f"({max_bytes:,}): it is not one of ours, or it is damaged.")
        data = f.read(st.st_size + 1)  # read(n) allocates n bytes first: the size, not the bound
    if len(data) > st.st_size:  # it grew while we read: a writer that does not write atomically
        raise ModelFolderError(f"{path} changed while it was read: read it again once it is "
                               f"written.")
    return data


MAX_DIGITS = 40  # a number in our JSON files never needs more


def _bounded_int(text):
    if len(text) > MAX_DIGITS:
        raise ValueError(f"a number of {len(text)} digits")
    return int(text)


def _bounded_float(text):
    if len(text) > 2 * MAX_DIGITS:
        raise ValueError(f"a number of {len(text)} characters")
    return float(text)


def parse_json(data, path):
    """The JSON value of `data` (bytes of file `path`): UTF-8, nesting within Python's
    recursion limit, numbers of at most MAX_DIGITS digits; else a ModelFolderError."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ModelFolderError(f"{path} is not UTF-8 text (byte {e.start}): it is not a JSON "
                               f"file of ours, or it is damaged.") from e
    try:
        return json.loads(text, parse_int=_bounded_int, parse_float=_bounded_float)
    except RecursionError as e:
        raise ModelFolderError(f"{path} is nested too deeply to be one of our JSON files.") from e
    except ValueError as e:  # JSONDecodeError, or a number refused above
        raise ModelFolderError(f"{path} is not valid JSON ({e}).") from e
