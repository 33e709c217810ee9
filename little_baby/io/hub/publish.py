"""A model to a folder with its card (`save_pretrained`), and to the Hub (`push_to_hub`: saved
into a temporary folder and uploaded in one commit, so a failed upload changes nothing here)."""
import contextlib
import tempfile
from pathlib import Path

from ...errors import HubError
from ..store.files import write_bytes_atomic, write_text_atomic
from ..store.identity import home
from ..store.model_folder import CARD, LOSS_CURVE, save_model
from .card import model_card
from .client import describe_failure, network_errors


def save_pretrained(baby, folder, repo_id=None, metadata=None):
    """Write `baby`'s folder: config, tokenizer, weights, report, its loss curve (when its
    own folder has one) and its card, README.md. Returns the folder's Path."""
    folder = Path(folder)
    save_model(baby, folder, getattr(baby, "weights_dtype", None))  # as loaded: float16 stays
    curve = _loss_curve(baby)
    if curve is not None and curve.resolve() != (folder / LOSS_CURVE).resolve():
        write_bytes_atomic(folder / LOSS_CURVE, curve.read_bytes())
    card = model_card(baby, repo_id, LOSS_CURVE if curve else None, metadata)
    write_text_atomic(folder / CARD, card)
    return folder


def push_to_hub(baby, repo_id, token=None, private=None, commit_message=None, branch=None,
                create_pr=False, metadata=None):
    """Create the repo if need be and upload `baby`'s folder to its root in one commit;
    returns the commit URL (a huggingface_hub CommitInfo). A failure is a HubError that
    says what happened; nothing local changes, and pushing again retries."""
    from huggingface_hub import HfApi

    api = HfApi(token=token)
    with _upload_errors(repo_id), tempfile.TemporaryDirectory(prefix="little-baby-") as tmp:
        repo_id = api.create_repo(repo_id, private=private, exist_ok=True).repo_id
        save_pretrained(baby, tmp, repo_id, metadata)
        message = commit_message or f"Upload little_baby model {baby.guid or ''}".rstrip()
        return api.upload_folder(repo_id=repo_id, folder_path=tmp, commit_message=message,
                                 revision=branch, create_pr=create_pr)


def _loss_curve(baby):
    """The loss-curve image its report names, in the folder `baby` lives in (identity.home);
    None if there is none."""
    folder = home(baby)
    if not baby.report.get("loss_curve") or folder is None:
        return None
    return folder / LOSS_CURVE if (folder / LOSS_CURVE).is_file() else None


@contextlib.contextmanager
def _upload_errors(repo_id):
    from huggingface_hub.errors import HFValidationError
    try:
        yield
    except HFValidationError as e:
        raise HubError(f"{repo_id!r} is not a valid Hub repo id ({e}).") from e
    except network_errors() as e:
        raise HubError(f"push_to_hub to {repo_id!r} failed: {describe_failure(e)}. The local model is "
                       f"unchanged; push_to_hub again to retry.") from e


