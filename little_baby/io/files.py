"""Atomic file writes: a file is either its old self or complete, never half-written."""
import contextlib
import os
import shutil
import tempfile
from pathlib import Path

_UMASK = os.umask(0)
os.umask(_UMASK)
FILE_MODE = 0o666 & ~_UMASK  # a new file's mode under this process's umask


@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary path beside `path`; on success it replaces `path` in one step.

    On an error (or Ctrl-C) the temporary file is removed and `path` is untouched.
    """
    with atomic_files([path]) as (tmp,):
        yield tmp


@contextlib.contextmanager
def atomic_files(paths):
    """atomic_path for several files that belong together: yields their temporary paths;
    once every one is written and flushed to disk, they replace their paths one rename
    after another. An error while writing or flushing touches none of `paths`."""
    paths, tmps = [Path(p) for p in paths], []
    try:
        for path in paths:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
            os.close(fd)
            tmps.append(Path(tmp))
        yield tmps
        for tmp in tmps:
            with open(tmp, "rb+") as f:  # on disk before a rename makes it visible
                os.fsync(f.fileno())
            os.chmod(tmp, FILE_MODE)  # mkstemp makes 0600; give what open() would have given
        for tmp, path in zip(tmps, paths):
            os.replace(tmp, path)
    finally:
        for tmp in tmps:
            if tmp.exists():
                tmp.unlink()


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
    either does not exist or is complete.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    try:
        yield tmp
        os.rename(tmp, path)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
