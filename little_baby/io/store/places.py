"""Where models and texts live, in one place: the age models shipped inside the package
(read-only to this library), the user's model store, and the folders texts are read from.

The model store (one folder per model GUID) is `store=` / `--store DIR`, else
$LITTLE_BABY_STORE, else $XDG_CACHE_HOME/little_baby/models (~/.cache/little_baby/models):
under the user's cache directory and movable by one variable, as huggingface_hub keeps its
Hub cache (~/.cache/huggingface/hub, $HF_HUB_CACHE). Its older names still work: `cache=`,
`--cache DIR` and $LITTLE_BABY_CACHE. It is never the package's own folder: a store
that is, or lies inside, the shipped models' folder is refused, so nothing a user runs
can delete, overwrite or train into a shipped model.

Texts (training corpora, the data sets of training/datasets.py) are looked for in
$LITTLE_BABY_INPUTS, then ./inputs; the library knows no other folder (the tests point
the variable at a shared copy).
"""
import os
from pathlib import Path

from ...errors import ShippedModelError, StoreError

SHIPPED = Path(__file__).resolve().parents[2] / "shipped"  # links to the checkout's shipped/
STORE_ENV = "LITTLE_BABY_STORE"
OLD_STORE_ENV = "LITTLE_BABY_CACHE"  # the variable's name before the store was the store
INPUTS_ENV = "LITTLE_BABY_INPUTS"


def input_folders():
    """The folders texts are looked for in, first first: $LITTLE_BABY_INPUTS (when set),
    then ./inputs (where data sets are downloaded when the variable is unset)."""
    return [Path(p).expanduser() for p in (os.environ.get(INPUTS_ENV), "inputs") if p]


def default_store():
    """$XDG_CACHE_HOME/little_baby/models, or ~/.cache/little_baby/models."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "little_baby" / "models"


def store_variable():
    """The environment variable that names the store: $LITTLE_BABY_STORE, else its older
    name $LITTLE_BABY_CACHE, when set; else None."""
    return next((name for name in (STORE_ENV, OLD_STORE_ENV) if os.environ.get(name)), None)


def one_store(store, cache):
    """The model store a call names: `store`, or `cache`, the older name it still takes
    (store= and cache=, --store and --cache); both naming two folders is a StoreError."""
    if store is not None and cache is not None and \
            Path(store).expanduser().absolute() != Path(cache).expanduser().absolute():
        raise StoreError(f"the store {str(store)!r} and {str(cache)!r} (given by the store's "
                         f"older name, cache) are two folders: name the store once.")
    return cache if store is None else store


def store_dir(store=None):
    """The model store: `store`, else the folder store_variable() names, else
    default_store(). A ShippedModelError when that is the shipped models' folder or
    inside it."""
    variable = store_variable()
    folder = Path(store or (os.environ[variable] if variable else default_store())).expanduser()
    if is_shipped(folder):
        raise ShippedModelError(
            f"{folder} is the folder of the models shipped with the package, which are "
            f"read-only: it cannot be a model store. Use the default store "
            f"({default_store()}) or another folder (--store DIR, ${STORE_ENV}).")
    return folder


def is_shipped(path):
    """Whether `path` is the shipped models' folder or anything inside it."""
    try:
        path, shipped = Path(path).resolve(), SHIPPED.resolve()
    except (OSError, RuntimeError):  # a link loop: not ours
        return False
    return path == shipped or shipped in path.parents


def refuse_shipped(path, action):
    """A ShippedModelError when `path` is (inside) a shipped model: `action` ('saved
    into', 'deleted', 'trained into') says what was refused."""
    if is_shipped(path):
        raise ShippedModelError(
            f"{path} is a model shipped with the package and cannot be {action}: shipped "
            f"models are read-only. Finetune it into a new model instead (`little-baby "
            f"finetune AGE --corpus FILE`), or save a copy elsewhere.")
