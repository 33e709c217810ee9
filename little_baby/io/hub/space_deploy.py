"""The Gradio Space on the Hub in one call: `deploy_space("owner/name")`, or on the command
line `little-baby space deploy owner/name`.

It creates the Space repo if need be (repo_type="space", the Gradio SDK; `private` and
`hardware` as the Hub allows) and uploads, in one commit, exactly what the Space needs
to start: spaces/app.py, requirements.txt and README.md (the card, whose YAML header
tells the Hub how to run it), spaces/baby_space/*.py, and the little_baby package beside
them (its .py files, its model-card template and the five age models it ships). Files
of an earlier deploy that are no longer part of it (in little_baby/, baby_space/ and
models/) are deleted in that commit. Nothing else goes: no hidden file (.env, .git), no
__pycache__, no cache, no model of the user's, unless named with `models=` (each goes
to models/<name>/, which the Space offers beside the ages). `dry_run=True` lists what
would be uploaded and asks nothing of the Hub.

huggingface_hub's own calls are used: HfApi.create_repo, create_commit (and
request_space_hardware for a Space that exists); to copy someone else's Space, the Hub
client's HfApi.duplicate_repo(..., repo_type="space") does it (duplicate_space is gone
from huggingface_hub 2).
"""
from pathlib import Path
from typing import NamedTuple

from ...errors import BabyError
from ..store.ages import AGES
from .client import describe_failure, network_errors
from .fetch import locate
from ..store.model_folder import read_report

SPACE_TOP = ("app.py", "requirements.txt", "README.md")  # spaces/<these>
OWNED = ("little_baby/", "baby_space/", "models/")  # what a new deploy replaces whole
MODEL_FILES = ("config.json", "tokenizer.json", "model.safetensors", "report.json", "README.md",
               "loss_curve.png")


class SpaceDeployError(BabyError, ValueError):
    """A Space that cannot be deployed as asked; the message says what to change."""


class Deployment(NamedTuple):
    url: str      # the Space's page
    files: dict   # path in the Space repo -> its size in bytes
    commit: str | None  # the commit's URL (None in a dry run)
    dry_run: bool
    created: bool | None = None  # the Space was new (None in a dry run)


def checkout():
    """The repository the package was imported from (spaces/ beside little_baby/)."""
    return Path(__file__).resolve().parents[3]


def space_files(source=None, models=(), ages=True):
    """{path in the Space repo: local Path} of what a Space needs. `source`: a checkout of
    the repository (default: the one the package runs from); `models`: model names
    (folders, GUIDs, ages, repo ids) to put in models/<name>/; `ages`: the five shipped
    age models too (else the Space fetches them from the Hub when first asked)."""
    root = Path(source) if source is not None else checkout()
    spaces, package = root / "spaces", root / "little_baby"
    if not (spaces / "app.py").is_file() or not (package / "__init__.py").is_file():
        raise SpaceDeployError(f"{root} is not a checkout of the-little-baby (it needs "
                               f"spaces/app.py and little_baby/): deploy from a clone of the "
                               f"repository, or pass source=.")
    files = {name: spaces / name for name in SPACE_TOP}
    files.update({f"baby_space/{p.name}": p for p in sorted((spaces / "baby_space").glob("*.py"))})
    for p in sorted(package.rglob("*.py")):
        rel = p.relative_to(package)
        if not _hidden(rel) and rel.parts[0] != "shipped":
            files[f"little_baby/{rel.as_posix()}"] = p
    for p in sorted((package / "model_cards").glob("*")):
        if p.is_file() and not _hidden(p.relative_to(package)):
            files[f"little_baby/model_cards/{p.name}"] = p
    if ages:
        for age in AGES.values():
            folder = package / "shipped" / age.guid
            for p in sorted(folder.glob("*")) if folder.is_dir() else []:
                if p.is_file() and not p.name.startswith("."):
                    files[f"little_baby/shipped/{age.guid}/{p.name}"] = p
    for name in models:
        folder, guid, _ = locate(name)
        key = read_report(folder).get("guid") or guid or Path(folder).name
        for file in MODEL_FILES:
            if (Path(folder) / file).is_file():
                files[f"models/{key}/{file}"] = Path(folder) / file
    missing = [k for k, p in files.items() if not p.is_file()]
    if missing:
        raise SpaceDeployError(f"{root} lacks {', '.join(missing)}: the checkout is incomplete.")
    return files


def _hidden(rel):
    return any(part.startswith(".") or part == "__pycache__" for part in rel.parts)


def deploy_space(repo_id, private=None, hardware=None, token=None, models=(), ages=True,
                 dry_run=False, source=None, commit_message=None):
    """Create or update the Gradio Space `repo_id` (owner/name) with what space_files
    lists; returns a Deployment (its url is the Space's page). A failure is a HubError
    that says what the Hub answered; nothing is half-uploaded (one commit)."""
    from huggingface_hub import HfApi, SpaceHardware, constants
    from huggingface_hub.errors import HFValidationError
    from huggingface_hub.utils import validate_repo_id
    try:
        validate_repo_id(repo_id)
    except HFValidationError as e:
        raise SpaceDeployError(f"{repo_id!r} is not a Space name: give owner/name.") from e
    if "/" not in repo_id:
        raise SpaceDeployError(f"{repo_id!r} is not a Space name: give owner/name "
                               f"(e.g. you/the-little-baby).")
    known = [h.value for h in SpaceHardware]
    if hardware is not None and hardware not in known:
        raise SpaceDeployError(f"--hardware {hardware!r} is not one the Hub offers: "
                               f"{', '.join(known)}.")
    files = space_files(source, models, ages)
    sizes = {path: local.stat().st_size for path, local in files.items()}
    url = f"{constants.ENDPOINT}/spaces/{repo_id}"
    if dry_run:
        return Deployment(url, sizes, None, True)

    from huggingface_hub import CommitOperationAdd, CommitOperationDelete
    from ...errors import HubError
    api = HfApi(token=token)
    try:
        existed = api.repo_exists(repo_id, repo_type="space")
        url = str(api.create_repo(repo_id, repo_type="space", space_sdk="gradio",
                                  private=private, exist_ok=True,
                                  space_hardware=None if existed else hardware))
        old = set(api.list_repo_files(repo_id, repo_type="space")) if existed else set()
        stale = sorted(p for p in old - set(files) if p.startswith(OWNED))
        operations = [CommitOperationAdd(path, str(local)) for path, local in files.items()]
        operations += [CommitOperationDelete(path) for path in stale]
        commit = api.create_commit(repo_id, operations, repo_type="space",
                                   commit_message=commit_message or "Deploy The Little Baby")
        if existed and hardware is not None:
            api.request_space_hardware(repo_id, hardware)
    except network_errors() as e:
        raise HubError(f"deploying the Space {repo_id!r} failed: {describe_failure(e)}. Nothing "
                       f"changed if the commit was not made; deploy again to retry.") from e
    return Deployment(url, sizes, commit.commit_url, False, not existed)
