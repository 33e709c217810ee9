"""Models by name, fetched from the Hugging Face Hub when this machine lacks them.

`from_pretrained(name)` takes what resolve.py reads as a model's name: a model folder's
path, a GUID or a unique start of one, an age ('age-48-months') or a Hub repo id
('someone/baby-sophocles'). A GUID is looked for in
    1. <store>/<guid>/   the local model store (places.py, catalog.py)
    2. the package       the age models shipped inside it (ages.py)
    3. the Hub cache     files downloaded before, without asking the network
    4. the Hub           the repo in $LITTLE_BABY_REPO (default koureasstavros/TheLittleBaby)
                         or `repo=`, which may also be a local folder laid out like a repo
and, inside a repo (3 and 4), in one of three layouts, tried in this order:
    ours       <guid>/config.json, tokenizer.json, model.safetensors (+ report.json and
               loss_curve.png when there: EXTRA_FILES)
    original   configs/config_<guid>.json, tokenizers/tokenizer_<guid>.json and
               models/model_<guid>.json, converted once into <store>/<guid>/ (original.py;
               its report records where they were and the files' sha256)
    root       the repo's own model (what push_to_hub writes), if its report names the GUID
With `repo=` named, the model must come from that repo: the shipped models, and a stored
folder that did not come from it (its origin: identity.py), are passed over, and an
original conversion whose <store>/<guid>/ holds another model goes to
<store>/repos/<owner>--<name>/<guid>/ instead (repo_folder).
A repo id whose root holds a GPT-2 checkpoint (config.json naming model_type 'gpt2', as
openai-community/gpt2) gets config.json, model.safetensors and tokenizer.json (or
vocab.json + merges.txt) alone, read by LittleBaby.from_gpt2 (no torch).
A repo id is read from the repo's root through the Hub cache (online, the client checks
for a newer commit). Offline (HF_HUB_OFFLINE=1, local_files_only=True, or no network)
whatever is on this machine loads, and anything else is a NotCachedError that says what
to download or where to put it. "No network" is found out in at most PROBE_TIMEOUT
seconds, and the client's retries and their log lines are kept out of it
(sources.HubRepo.get).
Given `limits` ({file name: most bytes}, names of FETCHED_FILES), each layout's files are
sized from the Hub's file metadata before any is downloaded, one over its limit is a
FileTooBigError, and the downloads are pinned to the commit the sizes were read at
(sources.HubRepo.plan).

This uses huggingface_hub's functions (hf_hub_download, HfApi, ModelCard), not its
ModelHubMixin: the mixin's from_pretrained knows folders and repo ids only (no GUIDs, ages
or original files), its save_pretrained deletes config.json before writing and keeps an
old README.md, and its push_to_hub raises the client's own errors; with all three
overridden it would have nothing left to do. The methods keep the mixin's names and
keywords (revision, token, cache_dir, force_download, local_files_only, private, branch).
"""
import hashlib
import os
from pathlib import Path

from ...bpe import GPT2_FILES
from ...errors import ConfigError, ModelFolderError, ModelNotFoundError, NotCachedError, on_cli
from ..formats.gpt2_checkpoint import WEIGHTS as GPT2_WEIGHTS
from ..formats.original import convert_original, original_files
from ..store import resolve
from ..store.claim import claimed
from ..store.identity import check_guid, found_at, model_dir, origin
from ..store.model_folder import (CONFIG, LOSS_CURVE, REPORT, TOKENIZER, WEIGHTS,
                                  is_gpt2_folder, is_model_folder, read_report)
from ..store.places import store_dir
from .client import check_repo_id
from .sources import HubCache, HubRepo, RepoFolder

REPO_ENV = "LITTLE_BABY_REPO"
DEFAULT_REPO = "koureasstavros/TheLittleBaby"
MODEL_FILES = (CONFIG, TOKENIZER, WEIGHTS)  # what loading needs
CONVERT_WAIT = 60.0  # seconds from_pretrained waits for another process converting the model
EXTRA_FILES = (REPORT, LOSS_CURVE)  # fetched beside them when there
# every file a fetch downloads, by the name `limits=` gives its limit under: ours, or a
# GPT-2's; the original's config, tokenizer and model count as MODEL_FILES
FETCHED_FILES = tuple(dict.fromkeys(MODEL_FILES + EXTRA_FILES + (GPT2_WEIGHTS,) + GPT2_FILES))


def default_repo():
    """The Hub repo GUIDs are looked up in: $LITTLE_BABY_REPO, else DEFAULT_REPO."""
    return os.environ.get(REPO_ENV) or DEFAULT_REPO


# ---- from_pretrained -------------------------------------------------------------------------
def from_pretrained(cls, name, repo=None, revision=None, token=None, store=None,
                    cache_dir=None, force_download=False, local_files_only=False,
                    **config_overrides):
    """The model `name` names (see the module's docstring), as a `cls` (LittleBaby) built
    by cls.load; `config_overrides` as for that. Sets `baby.source`: its guid, folder and
    Hub repo (None if local)."""
    return load_located(cls, locate(name, repo, revision, token, store, cache_dir,
                                    force_download, local_files_only), **config_overrides)


def load_located(cls, located, **config_overrides):
    """The model at locate's (folder, GUID, Hub repo id) `located`, as from_pretrained."""
    folder, guid, repo_id = located
    return found_at(cls.load(folder, **config_overrides), folder, repo_id, guid)


def locate(name, repo=None, revision=None, token=None, store=None, cache_dir=None,
           force_download=False, local_files_only=False, limits=None):
    """(folder, GUID or None, Hub repo id or None) of the model `name` names (read by
    resolve.parse), downloaded or converted into a folder on this machine if need be;
    `limits`: the most bytes of each file downloaded (the module's docstring)."""
    _check_limits(limits)
    if repo is not None:  # repo= holds GUIDs: the name must be one (or an age)
        parsed = resolve.parse_guid(name, store, "--repo" if on_cli() else "repo=")
    else:
        parsed = resolve.parse(name, store)
    if parsed.kind == "folder":
        return resolve.find_model(name, store), None, None
    hub, offline = _hub_options(revision, token, cache_dir, force_download, local_files_only)
    if parsed.kind == "guid":
        folder, repo_id = _find_guid(parsed, str(repo or default_repo()), store, hub, offline,
                                     pinned=repo is not None, limits=limits)
        return folder, parsed.guid, repo_id
    return _find_repo_model(parsed.repo_id, hub, offline, limits), None, parsed.repo_id


def _check_limits(limits):
    """A ConfigError for a name in `limits` that no fetch downloads (a limit never applied)."""
    unknown = sorted(set(limits or ()) - set(FETCHED_FILES))
    if unknown:
        raise ConfigError(f"limits= names {', '.join(unknown)}, which no fetch downloads: give "
                          f"limits for {', '.join(FETCHED_FILES)}.")


def _hub_options(revision, token, cache_dir, force_download, local_files_only):
    """(hf_hub_download's options, why the Hub is not to be asked or None)."""
    from huggingface_hub import constants

    offline = ("local_files_only=True" if local_files_only else
               "HF_HUB_OFFLINE is set" if constants.HF_HUB_OFFLINE else None)
    hub = dict(revision=revision, token=token, cache_dir=cache_dir,
               force_download=force_download, local_files_only=offline is not None)
    return hub, offline


def came_from(folder, repo):
    """Whether the model folder `folder` was converted from Hub repo or folder `repo`."""
    where = origin(read_report(folder))
    return where.get("repo") == repo or where.get("folder") == str(Path(repo).resolve())


def repo_folder(guid, repo, store=None):
    """Where an original conversion from `repo` goes when <store>/<guid>/ holds another
    model: <store>/repos/<owner>--<name>/<guid>/ (a folder repo: its name and the start of
    its path's sha256, so two folders of one name never share it)."""
    if os.path.isdir(repo):
        path = str(Path(repo).resolve())
        slug = f"{Path(path).name}-{hashlib.sha256(path.encode()).hexdigest()[:12]}"
    else:
        slug = repo.replace("/", "--")
    return store_dir(store) / "repos" / slug / guid


def _find_guid(name, repo, store, hub, offline, pinned=False, limits=None):
    """(folder, Hub repo id or None) of the model of resolve.Name `name` (a GUID), in the
    order of the module docstring. `hub`: hf_hub_download's options; `offline`: why the
    Hub is not to be asked, or None; `pinned`: the caller named `repo`, so the model
    must come from it; `limits`: as locate's."""
    local = resolve.local_folder(name, store)
    if local is not None and (not pinned or came_from(local, repo)):
        return local, None
    guid, stored = name.guid, model_dir(name.guid, store)
    if pinned and is_model_folder(stored):  # another model's: convert beside it, not over it
        stored = repo_folder(guid, repo, store)
        if is_model_folder(stored):
            return stored, None
    shipped = " or among the age models shipped with the package" if name.age else ""
    where = f"{stored}/{shipped}, nor in the Hub cache of {repo}"
    if os.path.isdir(repo):
        found = _in_repo(guid, RepoFolder(repo, limits), stored)
        if found is None:
            raise ModelNotFoundError(f"no model {guid} in {stored}/ or in the folder {repo} "
                                     f"({_layouts(guid)}).")
        return found, None
    check_repo_id(repo)
    if not hub["force_download"]:
        found = _in_repo(guid, HubCache(repo, hub, limits), stored)
        if found is not None:
            return found, repo
    fetch = (f"`little-baby info {guid} --repo {repo}`" if on_cli() else
             f"LittleBaby.from_pretrained({guid!r})")
    advice = (f"Download it while online — {fetch} or `hf download "
              f"{repo} --include '{guid}/*' '*_{guid}.json'` — or put its folder (config.json, "
              f"tokenizer.json, model.safetensors) at {stored}/.")
    if offline:
        raise NotCachedError(f"model {name.label} is not in {where}, and {offline}. {advice}")
    found = _in_repo(guid, HubRepo(repo, hub, f"model {name.label} is not in {where}, and the "
                                           f"Hub cannot be reached. {advice}", limits), stored)
    if found is None:
        raise ModelNotFoundError(f"no model {guid} in {stored}/ or in the Hub repo {repo} "
                                 f"({_layouts(guid)}); another repo: {'--repo REPO' if on_cli() else 'repo=...'} or "
                                 f"${REPO_ENV}.")
    return found, repo


def _find_repo_model(repo_id, hub, offline, limits=None):
    """The folder of the model at the root of Hub repo `repo_id` (downloaded if need be)."""
    source = HubRepo(repo_id, hub, (
        f"the Hub repo {repo_id!r} is not in the Hub cache, and "
        f"{offline or 'the Hub cannot be reached'}. "
        f"Download it while online — "
        + (f"`little-baby info {repo_id}`" if on_cli() else
           f"LittleBaby.from_pretrained({repo_id!r})") + " or `hf download "
        f"{repo_id}` — or save it to a folder and load that folder."), limits)
    source.plan(FETCHED_FILES)  # ours or a GPT-2's: which, config.json says once read
    config = source.get(CONFIG)
    folder = config and (_get_gpt2(source, config) or _get_model(source, ""))
    if folder is None:
        raise ModelNotFoundError(f"the Hub repo {repo_id!r} has no {CONFIG} at its root: it is "
                                 f"not a little_baby model (for a GUID inside it: " + (
                                     f"`little-baby info GUID --repo {repo_id}`)." if on_cli()
                                     else f"from_pretrained(guid, repo={repo_id!r}))."))
    return folder


def _get_gpt2(source, config):
    """The folder of the GPT-2 checkpoint at a repo's root (transformers' files, e.g.
    openai-community/gpt2: its config.json names model_type 'gpt2'), with model.safetensors
    and tokenizer.json, else vocab.json + merges.txt; None if config.json is not GPT-2's.
    Only these are fetched: never a pickled pytorch_model.bin, nor the other formats."""
    if not is_gpt2_folder(config.parent):
        return None
    if source.get(GPT2_WEIGHTS) is None:
        raise ModelNotFoundError(f"{source.where} holds a GPT-2 without {GPT2_WEIGHTS} (a pickled "
                                 f"pytorch_model.bin is never read): convert it to safetensors.")
    if (source.get(TOKENIZER, optional=True) is None
            and source.get_all(GPT2_FILES) is None):
        raise ModelNotFoundError(f"{source.where} holds a GPT-2 without {TOKENIZER}, nor "
                                 f"vocab.json + merges.txt: its tokens cannot be read.")
    return config.parent



def _in_repo(guid, source, stored):
    """The folder of `guid` in one of the three layouts of `source`, or None."""
    folder = _get_model(source, f"{guid}/")
    if folder is not None:
        return folder
    original = original_files(guid)
    source.plan(original, MODEL_FILES)  # its config, tokenizer and model
    files = source.get_all(original)
    if files is not None:  # converted once, by one process (claim.py) at a time
        with claimed(stored, "a conversion", wait=CONVERT_WAIT):
            if is_model_folder(stored):  # another process converted it meanwhile
                return stored
            return convert_original(files, guid, stored, source.where_from(files[0]))
    source.plan((REPORT,) + MODEL_FILES + EXTRA_FILES)  # the root's model, if its report names it
    report = source.get(REPORT, optional=True)
    if report is not None and read_report(report.parent).get("guid") == guid:
        return _get_model(source, "")
    return None


def convert(repo, guid, out=None, store=None, revision=None, token=None, cache_dir=None,
            force_download=False, local_files_only=False):
    """Convert the original project's files of model `guid` in `repo` (a Hub repo id, or a
    folder laid out like one) into the model folder `out` (default <store>/<guid>/), which
    must not exist yet; returns its Path. A Hub repo's files come from the Hub cache when
    they are there, else are downloaded into it. Nothing is written when anything fails."""
    guid = check_guid(str(guid).lower())
    folder = Path(out) if out is not None else model_dir(guid, store)
    _check_absent(folder, guid)
    names, repo = original_files(guid), str(repo)
    if os.path.isdir(repo):
        sources = [RepoFolder(repo)]
    else:
        check_repo_id(repo)
        hub, offline = _hub_options(revision, token, cache_dir, force_download, local_files_only)
        sources = [] if force_download else [HubCache(repo, hub)]
        sources.append(HubRepo(repo, hub, (
            f"the original files of model {guid} are not in the Hub cache of {repo}, and "
            f"{offline or 'the Hub cannot be reached'}. Download them while online "
            f"(`hf download {repo} --include '*_{guid}.json'`), or put them in a folder laid "
            f"out like the repo and convert that.")))
    for source in sources:
        files = source.get_all(names)
        if files is not None:
            with claimed(folder, "a conversion"):  # refused if another run holds it
                _check_absent(folder, guid)  # again: it may have appeared meanwhile
                return convert_original(files, guid, folder, source.where_from(files[0]))
    raise ModelNotFoundError(f"{sources[-1].where} has no {names[0]}: model {guid} is not there "
                             f"in the original project's layout ({', '.join(names)}).")


def _check_absent(folder, guid):
    if folder.exists():
        raise ModelFolderError(f"{folder} already exists: delete it (`little-baby delete {guid}` "
                               f"in the store) or convert into another folder with --out.")


def _get_model(source, prefix):
    """The folder holding `prefix` + the model files (and the extras there are), or None."""
    source.plan([prefix + name for name in MODEL_FILES + EXTRA_FILES])
    files = source.get_all([prefix + name for name in MODEL_FILES])
    if files is None:
        return None
    for name in EXTRA_FILES:
        source.get(prefix + name, optional=True)
    return files[0].parent


def _layouts(guid):
    return (f"looked for {guid}/{CONFIG}, {original_files(guid)[0]}, and a {REPORT} at the "
            f"root naming it")


