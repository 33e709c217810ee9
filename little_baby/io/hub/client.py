"""Talking to the Hub through huggingface_hub: a repo id checked, whether the Hub answers,
the client's log lines kept quiet, and its errors worded as ours (one line each)."""
import contextlib
import logging
import warnings
from typing import NamedTuple

from ...errors import HubError, ModelNotFoundError, on_cli

PROBE_TIMEOUT = 3.0  # seconds the Hub has to answer before it counts as unreachable


def check_repo_id(repo):
    from huggingface_hub.errors import HFValidationError
    from huggingface_hub.utils import validate_repo_id
    try:
        validate_repo_id(repo)
    except HFValidationError as e:
        given = f"--repo {repo}" if on_cli() else f"repo={repo!r}"
        raise ModelNotFoundError(f"{given} is neither a folder nor a Hub repo id "
                                 f"(namespace/name).") from e



class HubFiles(NamedTuple):
    sizes: dict  # {path: size in bytes, or None when the repo has no such file}
    commit: str  # the commit they were read at (or the revision asked for, none being read)


def hub_file_sizes(repo_id, paths, revision=None, token=None, timeout=10.0, repo_type=None):
    """HubFiles: the sizes of files of Hub repo `repo_id`, from the Hub's file metadata
    (one HEAD request each, no retries, nothing downloaded), so that a file too big can be
    refused before it is fetched, and the commit they are of: the first answer's commit
    pins the other requests, so the sizes are of one commit however the repo changes
    meanwhile, and a download given revision=commit gets those very files. A HubError says
    what the Hub answered; a ModelNotFoundError, that there is no such repo or revision."""
    from huggingface_hub import get_hf_file_metadata, hf_hub_url
    from huggingface_hub.errors import RemoteEntryNotFoundError
    check_repo_id(repo_id)
    sizes, commit = {}, None
    for path in paths:
        at = commit or revision
        with hub_answers(repo_id, at, f"ask the Hub repo {repo_id!r} about {path}"):
            try:  # first: a missing file is an HTTP error too, which hub_answers words
                with quiet_client():
                    meta = get_hf_file_metadata(hf_hub_url(repo_id, path, revision=at,
                                                           repo_type=repo_type),
                                                token=token, timeout=timeout)
            except RemoteEntryNotFoundError:
                sizes[path] = None
                continue
        if meta.size is None:
            raise HubError(f"the Hub gave no size for {path} in {repo_id!r}.")
        sizes[path], commit = meta.size, commit or meta.commit_hash
    return HubFiles(sizes, commit or revision)


@contextlib.contextmanager
def hub_answers(repo_id, revision, doing):
    """The client's errors about a repo as ours: no such repo (or one the token cannot
    read), no such revision, or what the Hub or the network answered while `doing`."""
    from huggingface_hub.errors import RepositoryNotFoundError, RevisionNotFoundError
    try:
        yield
    except RepositoryNotFoundError as e:
        raise ModelNotFoundError(f"there is no Hub repo {repo_id!r} (or it is private and the "
                                 f"token cannot read it: log in or pass token=).") from e
    except RevisionNotFoundError as e:
        raise ModelNotFoundError(f"the Hub repo {repo_id!r} has no revision {revision!r}.") from e
    except network_errors() as e:
        raise HubError(f"could not {doing}: {describe_failure(e)}.") from e


def hub_reachable():
    """Whether the Hub's endpoint gives any HTTP answer within PROBE_TIMEOUT seconds,
    through the client's own session (so its proxy settings apply)."""
    from huggingface_hub import constants, get_session
    try:
        with quiet_client():
            get_session().head(constants.ENDPOINT, timeout=PROBE_TIMEOUT)
    except network_errors():
        return False
    return True


@contextlib.contextmanager
def quiet_client():
    """huggingface_hub's log lines (its retries' "Retrying in 1s ...") and warnings
    silenced for one call; they are restored afterwards."""
    client_log = logging.getLogger("huggingface_hub")
    level = client_log.level
    client_log.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        client_log.setLevel(level)



def network_errors():
    """The exceptions a Hub request raises: HTTP answers, transport failures, offline mode."""
    from huggingface_hub.errors import HfHubHTTPError
    from huggingface_hub.utils import httpx  # the HTTP client huggingface_hub uses
    return (HfHubHTTPError, httpx.HTTPError, ConnectionError)


def describe_failure(error):
    """What went wrong with a Hub request, for a person."""
    from huggingface_hub.errors import HfHubHTTPError, OfflineModeIsEnabled
    if isinstance(error, OfflineModeIsEnabled):
        return "HF_HUB_OFFLINE is set (unset it to reach the Hub)"
    response = getattr(error, "response", None) if isinstance(error, HfHubHTTPError) else None
    if response is None:
        return f"the Hub could not be reached ({error})"
    status, said = response.status_code, getattr(error, "server_message", None) or error
    if status == 401:
        return (f"the Hub answered 401 Unauthorized ({said}): no token, or one it does not "
                f"accept. Log in with `hf auth login`, set HF_TOKEN, or pass token=")
    if status == 403:
        return f"the Hub answered 403 Forbidden ({said}): the token may not write to this repo"
    return f"the Hub answered {status} ({said})"
