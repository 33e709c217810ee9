"""Who a model is and where it lives, said once: every writer (a training run, a finetune,
a conversion of the original's files, a GPT-2 import, a fetch from the Hub) goes through
this module, and every reader (info, list, the card, the Space) reads it back here.

Who it is, recorded in its report.json (report.py checks the fields' types):
    guid         its GUID, a canonical lower-case UUID: its folder's name in the store
    parent_guid  the model it was finetuned from; None for any other
    lineage      its ancestors' GUIDs, parent first
    origin       how it came to be, {"kind": KIND, ...}:
                   trained    trained from scratch with this library
                   finetuned  trained on top of parent_guid; "base_model": the Hub repo that
                              parent was pulled from, when it was (the card's base_model)
                   converted  from the original project's JSON files; "repo" (and "commit",
                              "revision") or "folder": where they were (report's "original"
                              holds each file's sha256)
                   gpt2       a GPT-2 checkpoint read without torch; "repo": its Hub repo
A report written before `origin` existed is read by the same rules (origin()).

Where it lives: the folder of a GUID in the store is model_dir(guid, store). A model in
memory knows where it was read from, `baby.source` = {"guid", "folder", "repo_id"} (its
folder on this machine; the Hub repo it was pulled from, or None), set by found_at()
whenever a model is loaded, fetched, trained or resumed, so that its loss curve and card
are looked for beside it (home()).
"""
import re
import uuid
from pathlib import Path

from ...errors import StoreError
from .places import store_dir

_GUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
KINDS = ("trained", "finetuned", "converted", "gpt2")
ORIGINAL_PROJECT = "the original project (The Little Baby, koureasstavros/TheLittleBaby)"
WHERE = ("repo", "revision", "commit", "folder")  # where a conversion's or import's files were


# ---- the GUID ----------------------------------------------------------------------------------
def new_guid():
    """A fresh random GUID (uuid4) for a new model."""
    return str(uuid.uuid4())


def is_guid(name):
    return isinstance(name, str) and _GUID.fullmatch(name) is not None


def check_guid(guid):
    """`guid` itself if it is a canonical lower-case UUID, else a StoreError."""
    if not is_guid(guid):
        raise StoreError(f"{guid!r} is not a model GUID (expected the form "
                         f"xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx, lower-case hex).")
    return guid


def gpt2_guid(weights):
    """The GUID of a GPT-2 checkpoint, the same each time its files are read: a UUID5 of the
    weights file's real path (a Hub cache's is its commit's snapshot), size and time, so a
    finetune's lineage and card name the checkpoint it began from."""
    folder, st = Path(weights).parent.resolve(), Path(weights).stat()  # the snapshot, not blobs/
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"gpt2:{folder}:{st.st_size}:{st.st_mtime_ns}"))


# ---- who a model is: the report's fields -------------------------------------------------------
def for_training(baby, guid=None):
    """The identity of the model a training run on `baby` makes: GUID `guid` (else a fresh
    one); a model that has a GUID already (trained, loaded) is its parent, and the Hub repo
    that parent was pulled from its base_model."""
    guid = check_guid(guid) if guid is not None else new_guid()
    parent = baby.guid
    if parent is None:
        return {"guid": guid, "parent_guid": None, "lineage": [], "origin": {"kind": "trained"}}
    base_model = pulled_from(baby)
    return {"guid": guid, "parent_guid": parent, "lineage": [parent, *lineage(baby)],
            "origin": {"kind": "finetuned", **({"base_model": base_model} if base_model else {})}}


def _converted_origin(where):
    """A conversion's origin: where its files were (the WHERE keys `where` has)."""
    return {"kind": "converted", **{k: where[k] for k in WHERE if where.get(k)}}


def converted(guid, where):
    """The identity of a model converted from the original's files; `where`: {"repo",
    "revision", "commit"} or {"folder"} of those files."""
    return {"guid": guid, "parent_guid": None, "lineage": [],
            "origin": _converted_origin(where)}


def imported_gpt2(weights=None):
    """The identity of a GPT-2 checkpoint read from `weights` (its model.safetensors), or
    of one handed over in memory (None: a fresh GUID)."""
    guid = gpt2_guid(weights) if weights is not None else new_guid()
    return {"guid": guid, "parent_guid": None, "lineage": [], "origin": {"kind": "gpt2"}}


def identify(baby, report):
    """Make `baby` the model `report` describes: its report, its GUID and its parent's."""
    baby.report = report
    baby.guid = report.get("guid") or None
    baby.parent_guid = report.get("parent_guid") or None
    return baby


def recorded(baby):
    """baby.report with the GUIDs `baby` holds now (which code may have set by hand): what
    its report.json says."""
    return {**baby.report, "guid": baby.guid, "parent_guid": baby.parent_guid}


def lineage(baby):
    """Its ancestors' GUIDs, parent first: its report's lineage, else its parent alone."""
    return list(baby.report.get("lineage") or ([baby.parent_guid] if baby.parent_guid else []))


def origin(report):
    """How the model of `report` came to be: {"kind": one of KINDS or "unknown", ...}. A
    report from before `origin`, or whose kind this version does not know, is read by its
    other fields: a conversion's "original" record, a parent, a training run's "final"."""
    recorded_origin = report.get("origin")
    if isinstance(recorded_origin, dict) and recorded_origin.get("kind") in KINDS:
        return recorded_origin
    original = report.get("original")
    if original:
        where = original if isinstance(original, dict) else {}
        return _converted_origin(where)
    if report.get("parent_guid"):
        return {"kind": "finetuned"}
    return {"kind": "trained" if "final" in report else "unknown"}


def describe(report):
    """How the model came to be, in a sentence without its full stop ('Converted from the
    JSON files of the original project ... in the Hub repo X'); None when unknown."""
    found = origin(report)
    kind, repo = found["kind"], found.get("repo")
    if kind == "converted":
        if repo:
            commit = f" (commit {found['commit'][:12]})" if found.get("commit") else ""
            where = f" in the Hub repo {repo}{commit}"
        else:
            where = f" in the folder {found['folder']}" if found.get("folder") else ""
        return f"Converted from the JSON files of {ORIGINAL_PROJECT}{where}"
    if kind == "gpt2":
        return "A GPT-2 checkpoint, read without torch" + (f", from the Hub repo {repo}"
                                                            if repo else "")
    if kind == "finetuned":
        base = found.get("base_model")
        return (f"Finetuned from {report.get('parent_guid') or 'a model'}"
                + (f", a model of the Hub repo {base}" if base else ""))
    return "Trained from scratch" if kind == "trained" else None


def base_model(report):
    """The Hub repo id the Hub's model card calls base_model: the repo a finetune's parent
    was pulled from; None for any other model."""
    found = origin(report)
    return found.get("base_model") if found["kind"] == "finetuned" else None


# ---- where it lives ----------------------------------------------------------------------------
def model_dir(guid, store=None):
    """The folder of model `guid` in the store (places.store_dir); it need not exist yet."""
    return store_dir(store) / check_guid(guid)


def found_at(baby, folder, repo_id=None, guid=None):
    """Record where `baby` was read from (or trained into): `folder` on this machine, and
    `repo_id`, the Hub repo it was pulled from (None if local); `guid`, the GUID it was
    found by, is its own when its files do not say one. A GPT-2 checkpoint pulled from
    the Hub records that repo in its origin too: its files are who it is."""
    baby.guid = baby.guid or guid
    baby.source = {"guid": baby.guid, "folder": folder, "repo_id": repo_id}
    if repo_id and origin(baby.report)["kind"] == "gpt2":
        baby.report["origin"] = {**baby.report["origin"], "repo": repo_id}
    return baby


def pulled_from(baby):
    """The Hub repo `baby` came from: where it was just fetched from, else the repo its
    report records (a conversion's or a GPT-2's); None for a model of this machine."""
    source = baby.source or {}
    if source.get("repo_id") and source.get("guid") == baby.guid:
        return source["repo_id"]
    return origin(baby.report).get("repo")


def home(baby):
    """The folder on this machine `baby` was read from or trained into; for a model that
    has a GUID but no such folder, its GUID's folder in the default store; else None."""
    source = baby.source or {}
    if source.get("folder") is not None and source.get("guid") == baby.guid:
        return Path(source["folder"])
    return model_dir(baby.guid) if is_guid(baby.guid) else None
