"""The local model store: one folder per model GUID under the cache directory.

The cache directory is `--cache DIR` (the `cache` argument), else $LITTLE_BABY_CACHE,
else ./cache. A GUID must be a canonical UUID, so no name can reach outside it.
"""
import os
import re
import shutil
import uuid
from pathlib import Path

from ..errors import CacheError
from .store import is_model_folder, read_report

CACHE_ENV = "LITTLE_BABY_CACHE"
DEFAULT_MODEL = Path(__file__).resolve().parents[1] / "default_model"
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


def find_model(name=None, cache=None):
    """The folder of an existing model: a model folder's path, a GUID in the cache, a
    unique GUID prefix (at least 4 characters), or None for the packaged default model."""
    if name is None:
        if not is_model_folder(DEFAULT_MODEL):
            raise CacheError("this installation has no default model; name a model GUID "
                             "(`little-baby list` shows them).")
        return DEFAULT_MODEL
    if not is_guid(name) and is_model_folder(name):
        return Path(name)
    folder = cache_dir(cache)
    if is_guid(name) and is_model_folder(folder / name):
        return folder / name
    matches = [m for m in _guids(folder) if len(name) >= 4 and m.startswith(name)]
    if len(matches) == 1:
        return folder / matches[0]
    if len(matches) > 1:
        raise CacheError(f"{name!r} matches {len(matches)} models in {folder}: "
                         f"{', '.join(matches[:5])}; give more of the GUID.")
    raise CacheError(f"no model {name!r} in {folder} (and no model folder by that path); "
                     f"`little-baby list` shows the models there.")


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
    """Remove model `guid`'s folder from the cache; returns the removed path."""
    path = model_dir(guid, cache)
    if path.is_symlink() or not is_model_folder(path):
        raise CacheError(f"no model {guid!r} in {cache_dir(cache)}; nothing was deleted.")
    shutil.rmtree(path)
    return path


def _guids(folder):
    """GUIDs of the model folders directly in `folder`."""
    if not folder.is_dir():
        return []
    return sorted(p.name for p in folder.iterdir() if is_guid(p.name) and is_model_folder(p))
