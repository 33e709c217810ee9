"""A Hub download the Space can end. huggingface_hub's download cannot be cancelled from
another thread, so the shelf runs each in a process of its own (`python -m
baby_space.fetch NAME REPO SECONDS LIMITS`: the library's fetch.locate, which sizes every
file before any is downloaded and refuses one over LIMITS, then fetches them into the Hub
cache or converts an original model into the store, as from_pretrained does, but loads
nothing; it prints where the model is) and ends it at its deadline: SIGTERM, on which
the download's own clean-up removes its partial file, then SIGKILL if it has not ended
within GRACE seconds, after which the partial files it may have left are removed here.
The child also ends itself GRACE seconds after the deadline, so a download outlives a
Space that died by no more than that.
"""
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import little_baby
from little_baby import errors

GRACE = 5.0  # seconds a download has to end by itself once told to
# where the child finds baby_space and little_baby (beside app.py on a Space)
PLACES = [str(Path(__file__).resolve().parents[1]),
          str(Path(little_baby.__file__).resolve().parents[1])]


class DownloadFailed(Exception):
    """A download that failed or was ended; the message says why, as a clause."""


def fetch(name, repo, hub_repo, seconds, limits, grace=GRACE):
    """locate's (folder, GUID, Hub repo id) of the model `name` (`repo`: from_pretrained's
    repo=, None for its default), downloaded from Hub repo `hub_repo` into this machine's
    caches with no file over `limits` ({file name: most bytes}, locate's), in a child
    process ended after `seconds`. Raises the library's own error (rebuilt from its class
    and message) or DownloadFailed."""
    env = dict(os.environ, PYTHONPATH=child_path(os.environ.get("PYTHONPATH", "")))
    child = subprocess.Popen(
        [sys.executable, "-m", "baby_space.fetch", name, repo or "", str(seconds + grace),
         json.dumps(limits)],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, env=env, text=True)
    try:
        out, _ = child.communicate(timeout=seconds)
    except subprocess.TimeoutExpired:
        end(child, grace)
        remove_partial_downloads(hub_repo)
        raise DownloadFailed(f"it took more than {seconds:g} s to download, so the download "
                             f"was stopped") from None
    if child.returncode:
        raise _rebuilt(out, child.returncode)
    return _located(out)


def child_path(pythonpath):
    """The child's PYTHONPATH: PLACES, then the entries of `pythonpath`, with no empty
    entry (one would put the child's working directory on its sys.path)."""
    return os.pathsep.join(p for p in PLACES + pythonpath.split(os.pathsep) if p)


def end(child, grace):
    """Ask `child` to end (SIGTERM), and kill it if it is still there after `grace` s."""
    child.terminate()
    try:
        child.communicate(timeout=grace)
    except subprocess.TimeoutExpired:
        child.kill()
        child.communicate()


def remove_partial_downloads(repo_id):
    """Remove the partial files downloads from `repo_id` left in the Hub cache
    (blobs/<etag>*.incomplete), but not one a live download writes: huggingface_hub holds
    .locks/<repo folder>/<etag>.lock while it does."""
    from filelock import FileLock, Timeout
    from huggingface_hub import constants
    from huggingface_hub.file_download import repo_folder_name
    folder = repo_folder_name(repo_id=repo_id, repo_type="model")
    cache = Path(constants.HF_HUB_CACHE)
    for part in (cache / folder / "blobs").glob("*.incomplete"):
        etag = part.name.split(".", 1)[0]
        try:
            with FileLock(cache / ".locks" / folder / f"{etag}.lock", timeout=0):
                part.unlink(missing_ok=True)
        except Timeout:
            pass  # a download of that file is under way


def _last_line(out):
    """The JSON object the child printed on its last line of output, or None."""
    try:
        said = json.loads(out.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return None
    return said if isinstance(said, dict) else None


def _located(out):
    """The (folder, GUID, Hub repo id) the child reported."""
    said = _last_line(out)
    if said is None or not isinstance(said.get("folder"), str):
        raise DownloadFailed("the download did not say where the model is")
    return Path(said["folder"]), said.get("guid"), said.get("repo_id")


def _rebuilt(out, code):
    """The error the child reported on its last line of output, as an exception."""
    said = _last_line(out) or {}
    kind, message = said.get("error"), said.get("message")
    if not isinstance(kind, str) or not isinstance(message, str):
        return DownloadFailed(f"the download ended with exit code {code}")
    cls = getattr(errors, kind, None)
    if isinstance(cls, type) and issubclass(cls, errors.BabyError):
        return cls(message)
    return DownloadFailed(f"{kind}: {message}")


def _stop(signum, frame):
    raise SystemExit(f"the download was ended (signal {signum})")


def main(argv):
    """The child: NAME REPO ('' for the default) SECONDS (after which it ends itself)
    LIMITS (JSON). Prints one line of JSON: {"folder", "guid", "repo_id"}, or
    {"error", "message"} when it fails."""
    name, repo, seconds, limits = argv
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGALRM, _stop)
    signal.setitimer(signal.ITIMER_REAL, float(seconds))
    from little_baby.io.hub.fetch import locate
    try:
        folder, guid, repo_id = locate(name, repo=repo or None, limits=json.loads(limits))
    except Exception as e:  # noqa: BLE001 - said to the parent, which raises it there
        print(json.dumps({"error": type(e).__name__, "message": str(e)}), flush=True)
        return 1
    print(json.dumps({"folder": str(folder), "guid": guid, "repo_id": repo_id}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
