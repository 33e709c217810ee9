"""What the model store holds: its models listed (with their figures) and deleted. The
store is one folder per model GUID (where it is: places.py; a GUID's folder:
identity.model_dir).

A GUID must be a canonical UUID, so no name can reach outside the store. What a name
means (a GUID's start, an age, a folder) is resolve.py's to say. The models shipped with
the package are listed beside the store's, marked as shipped, and are never deleted.
"""
import shutil
from pathlib import Path

from ...errors import BabyError, ShippedModelError, StoreError
from . import places
from .ages import AGES, shipped_folder
from .claim import claimed
from .identity import is_guid, model_dir
from .model_folder import check_model_folder, is_model_folder, read_report
from .report import model_loss

def stored_guids(store=None):
    """The GUIDs of the models in the store, sorted. Names (GUID starts, ages, folders)
    are read by resolve.py, which also finds a model's folder from its name."""
    return _guids(places.store_dir(store))


def list_models(store=None, shipped=False):
    """The models in the store, oldest first (with `shipped`, the age models shipped with
    the package after them): dicts with guid, path, shipped, parent_guid, status,
    n_params, val_loss (held-out loss where measured, else the last validation loss),
    spoiled (why the folder cannot be loaded, or None), size (bytes) and modified
    (seconds since the epoch). A spoiled folder is listed as such, never an error."""
    folder = places.store_dir(store)
    models = sorted((_describe(guid, folder / guid, False) for guid in _guids(folder)),
                    key=lambda m: m["modified"])
    if shipped:
        models += [_describe(age.guid, shipped_folder(age.guid), True) for age in AGES.values()
                   if shipped_folder(age.guid) is not None]
    return models


def _describe(guid, path, shipped):
    spoiled, report = None, {}
    try:
        check_model_folder(path)
        report = read_report(path)
    except BabyError as e:
        spoiled = str(e)
    stats = [stat for _, stat in folder_files(path)]
    return {"guid": guid, "path": path, "shipped": shipped, "spoiled": spoiled,
            "parent_guid": report.get("parent_guid"),
            "status": "spoiled" if spoiled else report.get("status", "complete"),
            "n_params": report.get("n_params"), "val_loss": model_loss(report)[0],
            "size": sum(st.st_size for st in stats),
            "modified": max((st.st_mtime for st in stats), default=0.0)}


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


def delete_model(guid, store=None):
    """Remove model `guid`'s folder from the store; returns the removed path. The folder
    is claimed first (claim.py), so a live run's folder is refused (FolderTakenError)."""
    if guid in {age.guid for age in AGES.values()} and not is_model_folder(model_dir(guid, store)):
        raise ShippedModelError(
            f"{guid} is a model shipped with the package ({_age_name(guid)}): shipped models "
            f"are read-only and cannot be deleted.")
    path = model_dir(guid, store)
    places.refuse_shipped(path, "deleted")
    if path.is_symlink() or not is_model_folder(path):
        raise StoreError(f"no model {guid!r} in {places.store_dir(store)}; nothing was deleted.")
    with claimed(path, "a deletion"):
        shutil.rmtree(path)
    return path


def _age_name(guid):
    return next(age.name for age in AGES.values() if age.guid == guid)


def _guids(folder):
    """GUIDs of the model folders directly in `folder`."""
    if not folder.is_dir():
        return []
    return sorted(p.name for p in folder.iterdir() if is_guid(p.name) and is_model_folder(p))
