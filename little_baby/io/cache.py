"""The local model store: one folder per model GUID under the cache directory.

The cache directory is `--cache DIR` (the `cache` argument), else $LITTLE_BABY_CACHE,
else ./cache. A GUID must be a canonical UUID, so no name can reach outside it. What a
name means (a GUID's start, an age, a folder) is resolve.py's to say.
"""
import os
import re
import shutil
import uuid
from pathlib import Path

from ..errors import CacheError
from .claim import claimed
from .store import is_model_folder, read_report

CACHE_ENV = "LITTLE_BABY_CACHE"
_GUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def cache_dir(cache=None):
    """The cache directory: `cache`, else $LITTLE_BABY_CACHE, else ./cache."""
    return Path(cache or os.environ.get(CACHE_ENV) or "cache")


def new_guid():
    """A fresh random GUID (uuid4) for a new model."""
    return str(uuid.uuid4())


def is_guid(name):
    return isinstance(name, str) and _GUID.fullmatch(name) is not None


def check_guid(guid):
    """`guid` itself if it is a canonical lower-case UUID, else a CacheError."""
    if not is_guid(guid):
        raise CacheError(f"{guid!r} is not a model GUID (expected the form "
                         f"xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx, lower-case hex).")
    return guid


def model_dir(guid, cache=None):
    """The folder of model `guid` in the cache (it need not exist yet)."""
    return cache_dir(cache) / check_guid(guid)


def stored_guids(cache=None):
    """The GUIDs of the models in the cache, sorted. Names (GUID starts, ages, folders)
    are read by resolve.py, which also finds a model's folder from its name."""
    return _guids(cache_dir(cache))


def list_models(cache=None):
    """The models in the cache, oldest first: dicts with guid, path, parent_guid,
    status, n_params, val_loss, size (bytes) and modified (seconds since the epoch)."""
    folder = cache_dir(cache)
    models = []
    for guid in _guids(folder):
        path = folder / guid
        report = read_report(path)
        stats = [stat for _, stat in folder_files(path)]
        models.append({
            "guid": guid, "path": path, "parent_guid": report.get("parent_guid"),
            "status": report.get("status", "complete"), "n_params": report.get("n_params"),
            "val_loss": report.get("final", {}).get("val_loss"),
            "size": sum(st.st_size for st in stats),
            "modified": max((st.st_mtime for st in stats), default=0.0)})
    return sorted(models, key=lambda m: m["modified"])


def folder_files(folder):
    """(path, stat) of every file under `folder`, sorted; a file that vanishes meanwhile (a
    checkpoint's temporary file, renamed into place) is passed over."""
    found = []
    for path in sorted(Path(folder).rglob("*")):
        try:
            stat = path.stat()
        except FileNotFoundError:
            continue
        if path.is_file():
            found.append((path, stat))
    return found


def delete_model(guid, cache=None):
    """Remove model `guid`'s folder from the cache; returns the removed path. The folder
    is claimed first (claim.py), so a live run's folder is refused (FolderTakenError)."""
    path = model_dir(guid, cache)
    if path.is_symlink() or not is_model_folder(path):
        raise CacheError(f"no model {guid!r} in {cache_dir(cache)}; nothing was deleted.")
    with claimed(path, "a deletion"):
        shutil.rmtree(path)
    return path


def _guids(folder):
    """GUIDs of the model folders directly in `folder`."""
    if not folder.is_dir():
        return []
    return sorted(p.name for p in folder.iterdir() if is_guid(p.name) and is_model_folder(p))
