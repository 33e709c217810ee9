"""What a model's name means: read one way by every entry point (the command line,
LittleBaby.from_pretrained, LittleBaby.load, LittleBaby.resume).

A name is one of, in this order:
    None           the default model: ages.DEFAULT_AGE, the 48-month baby
    a folder       the path of a model folder (a str or a Path); an existing folder wins
    an age         'age-48-months' (ages.py: the original project's five models), any case
    a GUID         'b71f2c3e-...', or a unique start of one of at least 4 characters, any
                   case; a start is matched against the models in the store and the ages
    a Hub repo id  'owner/name', and only that form (one '/')
A folder (or a Hub repo's root) may also hold a GPT-2 checkpoint as transformers writes it
(config.json naming model_type 'gpt2'): LittleBaby.load reads it with from_gpt2.
Anything else is a ModelNotFoundError that lists the forms, and says "did you mean
age-48-months?" for a near miss of an age (difflib).

A GUID's model is looked for here in
    1. the model store     <store>/<guid>/ (`store`, else $LITTLE_BABY_STORE, else
                           ~/.cache/little_baby/models: places.py)
    2. the shipped models  the age models inside the package (ages.shipped_folder)
and then, by from_pretrained and the commands that fetch (generate, info, finetune,
export), in the Hub cache and on the Hub (hub/fetch.py). `find_model` is the lookup
without the Hub.
"""
import difflib
import os
import re
from pathlib import Path
from typing import NamedTuple

from ...errors import ModelFolderError, ModelNotFoundError, ShippedModelError, on_cli
from . import catalog
from .ages import AGES, DEFAULT_AGE, shipped_folder
from .identity import check_guid, is_guid
from .model_folder import CONFIG, TOKENIZER, is_gpt2_folder, is_model_folder
from .places import store_dir

MIN_PREFIX = 4  # characters of a GUID's start that name it
_GUID_START = re.compile(r"[0-9a-f][0-9a-f-]{0,35}")  # what could begin a GUID (lower case)
_AGE_OF_GUID = {age.guid: age for age in AGES.values()}


class Name(NamedTuple):
    """A model name, read: `kind` is 'folder', 'guid' or 'repo'."""

    given: object            # what was passed, as it was passed
    kind: str
    folder: Path | None = None   # 'folder'
    guid: str | None = None      # 'guid': canonical, lower case
    repo_id: str | None = None   # 'repo'

    @property
    def age(self):
        """The Age whose GUID this is, or None."""
        return _AGE_OF_GUID.get(self.guid)

    @property
    def label(self):
        """How messages call it: 'age-48-months (GUID 12b8...)', a GUID, a repo id, a path."""
        if self.age is not None:
            return f"{self.age.name} (GUID {self.guid})"
        return self.guid or self.repo_id or str(self.folder)


def parse(name, store=None, complete_guid_starts=True):
    """The Name `name` is (see the module's docstring); a start of a GUID becomes the
    whole GUID of the one model in the store (`store`) or age it begins, or, with
    complete_guid_starts=False, a ModelNotFoundError (a name from someone who must not
    learn the store's GUIDs, as a Space's visitor)."""
    if name is None:
        name = DEFAULT_AGE
    if isinstance(name, os.PathLike):
        return Name(name, "folder", folder=_model_folder(Path(name)))
    if not isinstance(name, str) or not name:
        raise ModelNotFoundError(f"a model's name is a non-empty str or a Path, not {name!r}.")
    if os.path.isdir(name):
        return Name(name, "folder", folder=_model_folder(Path(name)))
    found = _guid_name(name, store, complete_guid_starts)
    if found is not None:
        return found
    if _is_repo_id(name):
        return Name(name, "repo", repo_id=name)
    raise ModelNotFoundError(unknown_name(name))


def parse_guid(name, store=None, why="this"):
    """The Name of the GUID, GUID start or age `name` (never a folder or a repo id: `why`
    names what takes only a GUID, as repo= does); None is the default age."""
    found = _guid_name(str(DEFAULT_AGE if name is None else name), store)
    if found is None:
        raise ModelNotFoundError(f"{why} says where to look for a GUID, but {name!r} is not a "
                                 f"GUID or an age ({', '.join(AGES)}).{did_you_mean(name)}")
    return found


def _guid_name(name, store, complete_starts=True):
    """The Name of an age, a GUID or a GUID's start (any case; completed from the store,
    else refused), or None if `name` is none of them."""
    lower = name.lower()
    if lower in AGES:
        return Name(name, "guid", guid=AGES[lower].guid)
    if is_guid(lower):
        return Name(name, "guid", guid=lower)
    if _GUID_START.fullmatch(lower):
        if not complete_starts:
            raise ModelNotFoundError(f"{name!r} is only the start of a GUID: give the whole "
                                     f"GUID (36 characters).")
        return Name(name, "guid", guid=_whole_guid(name, lower, store))
    return None


def local_folder(name, store=None):
    """The folder of Name `name` on this machine (the store, then the shipped models),
    or None when only the Hub may have it."""
    if name.folder is not None:
        return name.folder
    if name.guid is None:
        return None
    stored = store_dir(store) / name.guid
    return stored if is_model_folder(stored) else shipped_folder(name.guid)


def find_model(name=None, store=None):
    """The folder of the model `name` names, on this machine (no Hub): a folder, or a
    GUID, unique GUID start or age in the store or among the shipped models."""
    parsed = parse(name, store)
    folder = local_folder(parsed, store)
    fetch = (f"`little-baby info {name}` fetches it from the Hub" if on_cli() else
             f"LittleBaby.from_pretrained({str(name)!r}) fetches it from the Hub")
    if parsed.kind == "repo":
        raise ModelNotFoundError(f"{name!r} is a Hub repo id, not a model on this machine "
                                 f"(no folder by that path): {fetch}.")
    if folder is None:
        raise ModelNotFoundError(f"{parsed.label} is not on this machine "
                                 f"({not_here(parsed, store)}): {fetch}.")
    return folder


def store_guid(name, store=None):
    """The whole GUID of a model in the store (not a folder, an age or the Hub), from
    its GUID or a unique start of it in any case: what `delete` takes."""
    lower = str(name).lower()
    age = AGES.get(lower) or _AGE_OF_GUID.get(lower)
    if age is not None and not is_model_folder(store_dir(store) / age.guid):
        raise ShippedModelError(f"{age.name} (GUID {age.guid}) ships with the package: shipped "
                                f"models are read-only, nothing was changed.")
    if not (is_guid(lower) or _GUID_START.fullmatch(lower)):
        check_guid(name)  # "not a model GUID": never a path
    guid = lower if is_guid(lower) else _whole_guid(name, lower, store, ages=False)
    if not is_model_folder(store_dir(store) / guid):
        raise ModelNotFoundError(f"no model {guid} in {store_dir(store)}; nothing was changed.")
    return guid


def not_here(name, store=None):
    """Where a GUID's model was looked for on this machine, for messages."""
    shipped = " or among the age models shipped with the package" if name.age else ""
    return f"not in {store_dir(store)}/{name.guid}/{shipped}"


def unknown_name(name):
    """Why `name` names no model, with the forms that do and the age it may mean."""
    path = f" There is no folder {name!r} in {Path.cwd()}." if _looks_like_path(name) else ""
    return (f"{name!r} is not a model folder, a GUID, an age ({', '.join(AGES)}) or a Hub "
            f"repo id (owner/name).{path} A GUID may be shortened to a unique start of at "
            f"least {MIN_PREFIX} characters (`little-baby list` shows the models in the "
            f"store).{did_you_mean(name)}{_gpt2_hint(name)}")


GPT2_NAMES = ("gpt2", "gpt2-medium", "gpt2-large", "gpt2-xl")  # transformers' old short names


def _gpt2_hint(name):
    """' GPT-2 is the Hub repo openai-community/gpt2.' for transformers' short names."""
    lower = str(name).lower()
    return (f" GPT-2 is the Hub repo openai-community/{lower}: give that name."
            if lower in GPT2_NAMES else "")


def did_you_mean(name):
    """' Did you mean age-48-months?' for a near miss of an age's name, else ''."""
    close = difflib.get_close_matches(str(name).lower(), list(AGES), n=1, cutoff=0.6)
    return f" Did you mean {close[0]}?" if close else ""


def _whole_guid(name, lower, store, ages=True):
    """The one GUID in the store (and, with `ages`, among the ages) that starts `lower`."""
    if len(lower.replace("-", "")) < MIN_PREFIX:
        raise ModelNotFoundError(f"{name!r} is too short to name a model: give at least "
                                 f"{MIN_PREFIX} characters of its GUID.{did_you_mean(name)}")
    known = set(catalog.stored_guids(store)) | (set(_AGE_OF_GUID) if ages else set())
    matches = sorted(g for g in known if g.startswith(lower))
    if len(matches) == 1:
        return matches[0]
    if matches:
        shown = ", ".join(g + (f" ({_AGE_OF_GUID[g].name})" if g in _AGE_OF_GUID else "")
                          for g in matches[:5])
        raise ModelNotFoundError(f"{name!r} is the start of {len(matches)} GUIDs: {shown}; "
                                 f"give more of it.")
    ages_too = " (nor any age model)" if ages else ""
    raise ModelNotFoundError(f"no model in {store_dir(store)}{ages_too} has a GUID that starts "
                             f"with {name!r} (`little-baby list` shows them); a model "
                             f"elsewhere is named by its whole GUID.{did_you_mean(name)}")


def _model_folder(path):
    """`path` if it is a model folder, else a ModelFolderError that says what it lacks."""
    if not path.is_dir():
        raise ModelNotFoundError(f"there is no folder {str(path)!r}" +
                                 (f" in {Path.cwd()}." if not path.is_absolute() else "."))
    if not is_model_folder(path) and not is_gpt2_folder(path):  # GPT-2: vocab.json + merges.txt
        missing = [n for n in (CONFIG, TOKENIZER) if not (path / n).is_file()]
        raise ModelFolderError(f"{str(path)!r} is a folder but not a model folder: it has no "
                               f"{' and no '.join(missing)}.")
    return path


def _is_repo_id(name):
    """Whether `name` has the Hub's owner/name form (checked by huggingface_hub)."""
    from huggingface_hub.errors import HFValidationError
    from huggingface_hub.utils import validate_repo_id
    if name.count("/") != 1:
        return False
    try:
        validate_repo_id(name)
    except HFValidationError:
        return False
    return True


def _looks_like_path(name):
    return "/" in name or "\\" in name or name.startswith((".", "~"))
