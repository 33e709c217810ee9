"""Where a repo's files are read from: a local folder laid out like a repo, the Hub cache
(no network), or the Hub itself (downloaded into the Hub cache). Each answers get(path)
with a local Path, or None when the file is not there. Before a layout's files are got,
plan(paths) names them all, so that a Hub repo given limits sizes them before any is
downloaded."""
from pathlib import Path, PurePosixPath

from ...errors import FileTooBigError, ModelNotFoundError, NotCachedError
from ..store import resolve
from .client import hub_answers, hub_file_sizes, hub_reachable, quiet_client


class Source:
    """Where repo files are read from: get(path) -> local Path, or None if it is absent.
    Given `limits` ({file name: most bytes}), a file found on this machine over the limit
    of its name is a FileTooBigError before it is read (a Hub repo also sizes files
    before downloading them: HubRepo.plan)."""

    strict = True  # a model with some files but not others is an error (else: not found)
    where = ""

    def __init__(self, limits=None):
        self.limits = limits
        self.names = {}  # path -> the file name its limit is under (plan's `names`)

    def plan(self, paths, names=None):
        """Say that `paths` (one layout, its first file first) may be fetched next, and
        the name each one's limit is under (`names`, in order; default each path's last
        part)."""
        if names:
            self.names.update(zip(paths, names))

    def _within_limit(self, path, size, done="read"):
        """A FileTooBigError when file `path` of `size` bytes is over its limit."""
        name = self.names.get(path, PurePosixPath(path).name)
        limit = (self.limits or {}).get(name)
        if limit is not None and size > limit:
            raise FileTooBigError(
                f"{path} in {self.where} has {size:,} bytes, over the limit of {limit:,} for "
                f"{name}, so nothing was {done}: choose a smaller model, or raise "
                f"limits[{name!r}].")

    def _checked(self, path, file):
        """`file` (a local Path, or None), refused when over its limit."""
        if file is not None and self.limits is not None:
            self._within_limit(path, file.stat().st_size)
        return file

    def get_all(self, paths):
        """Local paths of all `paths`, or None when the first is absent."""
        first = self.get(paths[0])
        if first is None:
            return None
        rest = [self.get(p) for p in paths[1:]]
        if None in rest:
            if not self.strict:
                return None
            missing = [p for p, f in zip(paths[1:], rest) if f is None]
            raise ModelNotFoundError(f"{self.where} has {paths[0]} but not {missing}: "
                                     f"the model there is incomplete.")
        return [first, *rest]


class RepoFolder(Source):
    """A local folder laid out like a repo."""

    def __init__(self, root, limits=None):
        super().__init__(limits)
        self.root, self.where = Path(root), f"the folder {root}"

    def get(self, path, optional=False):
        file = self.root / path
        return self._checked(path, file if file.is_file() else None)

    def where_from(self, path):
        """Where `path` came from, for a converted model's origin (identity.converted)."""
        return {"folder": str(self.root.resolve())}


class HubCache(Source):
    """What the Hub cache holds of a repo, read without the network."""

    strict = False

    def __init__(self, repo_id, hub, limits=None):
        super().__init__(limits)
        self.repo_id, self.hub = repo_id, hub
        self.where = f"the Hub cache of {repo_id}"

    def get(self, path, optional=False):
        from huggingface_hub import try_to_load_from_cache
        found = try_to_load_from_cache(self.repo_id, path, cache_dir=self.hub["cache_dir"],
                                       revision=self.hub["revision"])
        return self._checked(path, Path(found) if isinstance(found, str) else None)

    def where_from(self, path):
        """Where `path` came from: the repo, the revision asked for and the commit (the
        Hub cache keeps each commit's files under snapshots/<commit>/)."""
        parts = Path(path).parts
        commit = parts[parts.index("snapshots") + 1] if "snapshots" in parts else None
        return {k: v for k, v in (("repo", self.repo_id), ("revision", self.hub["revision"]),
                                  ("commit", commit)) if v}


class HubRepo(Source):
    """A Hub repo's files, downloaded into the Hub cache (or found there when offline).

    Before its first download it asks whether the Hub answers at all (hub_reachable):
    when it does not, only the Hub cache is read. Without that, hf_hub_download retries a
    file the Hub cache lacks five times with backoff (1 + 2 + 4 + 8 + 8 s, each attempt
    logging a warning; huggingface_hub's file_download.py and utils/_http.py) before it
    gives up. Its log lines and warnings are kept out of these calls: the errors below
    say what happened.

    Given `limits` ({file name: most bytes}), every file is sized from the Hub's file
    metadata before it is downloaded (plan), and the downloads are pinned to the commit
    the sizes were read at."""

    where_from = HubCache.where_from

    def __init__(self, repo_id, hub, not_cached, limits=None):
        super().__init__(limits)
        self.repo_id, self.hub, self.not_cached = repo_id, hub, not_cached
        self.where = f"the Hub repo {repo_id}"
        self.reachable = None  # asked once, at the first download
        self.sizes = {}  # path -> bytes, or None where the repo has no such file
        self.commit = None  # the commit the sizes are of, which downloads are pinned to

    def plan(self, paths, names=None):
        """With limits, before any of `paths` is downloaded: their sizes, at one commit,
        and a FileTooBigError for one over the limit of its name (`names`, in order;
        default each path's last part). Nothing more is asked when the repo lacks the
        first (get_all passes the layout over)."""
        super().plan(paths, names)
        if self.limits is None or self._options()["local_files_only"]:
            return
        first = paths[0]
        self._size([first])
        if self.sizes[first] is None:
            return
        self._size(paths)
        for path in paths:
            if self.sizes[path] is not None:
                self._within_limit(path, self.sizes[path], "downloaded")

    def _size(self, paths):
        """The sizes of those of `paths` not sized yet, at the commit of the first answer."""
        asked = [p for p in paths if p not in self.sizes]
        if asked:
            found = hub_file_sizes(self.repo_id, asked, token=self.hub["token"],
                                   revision=self.commit or self.hub["revision"])
            self.sizes.update(found.sizes)
            if any(size is not None for size in found.sizes.values()):
                self.commit = found.commit

    def _options(self):
        """hf_hub_download's options now: the Hub cache alone when the Hub does not answer."""
        hub = self.hub
        if not hub["local_files_only"]:
            if self.reachable is None:
                self.reachable = hub_reachable()
            if not self.reachable:
                if hub["force_download"]:  # the Hub cache is not to be used
                    raise NotCachedError(self.not_cached)
                hub = {**hub, "local_files_only": True}
        return hub

    def get(self, path, optional=False):
        from huggingface_hub import hf_hub_download
        from huggingface_hub.errors import (HFValidationError, LocalEntryNotFoundError,
                                            RemoteEntryNotFoundError)
        hub = self._options()
        if self.limits is not None and not hub["local_files_only"]:
            self.plan([path])  # sized now if no plan named it
            if self.sizes[path] is None:
                return None  # not in the repo at the commit sized
            hub = {**hub, "revision": self.commit}
        with hub_answers(self.repo_id, self.hub["revision"],
                          f"download {path} from the Hub repo {self.repo_id!r}"):
            try:  # these first: some are HTTP errors too, which hub_answers words
                with quiet_client():
                    return self._checked(path, Path(hf_hub_download(self.repo_id, path, **hub)))
            except RemoteEntryNotFoundError:
                return None
            except LocalEntryNotFoundError as e:
                if optional:
                    return None
                raise NotCachedError(self.not_cached) from e
            except HFValidationError as e:
                raise ModelNotFoundError(resolve.unknown_name(self.repo_id)) from e

