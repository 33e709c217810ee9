"""A small Hugging Face Hub stand-in that runs inside the test process.

It speaks just enough of the Hub's HTTP protocol for the real `huggingface_hub` client (2.4) to
create and delete repos, commit files, list them and download them (the protocol is described in
/work/shared/research/hub-gradio-cupy.md, section 2). Point the client at `HubServer.endpoint`
through `HF_ENDPOINT`; the `hub_env` fixture in `tests/conftest_hub.py` does that.

Design choices:
- Everything lives in memory. A repo is a dict of commits plus a `main` ref, and each commit holds
  a full snapshot of the repo (`{path: bytes}`). Wasteful, but test repos are tiny and the code stays
  obvious.
- Preupload always answers "regular", so the client sends file contents inline (base64) in the
  commit call and never needs LFS or Xet, whatever the file size. No `X-Xet-*` header is ever sent.
- Errors carry the `X-Error-Code` header. The client maps that header, not the status, to
  RepositoryNotFoundError, RevisionNotFoundError and RemoteEntryNotFoundError.
- Tests can inject failures (`fail_next`) and inspect every request (`requests`, `count`).
"""

import base64
import hashlib
import json
import re
import secrets
import threading
import traceback
from dataclasses import dataclass, field
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, unquote, urlsplit

# New Hub repos start with one commit holding a .gitattributes: a fresh repo has a sha and one file.
INITIAL_GITATTRIBUTES = b"*.safetensors filter=lfs diff=lfs merge=lfs -text\n"

# Repo types as they appear in API paths (/api/models/...) and in the create/delete payloads ("model").
_KINDS = {"models": "model", "datasets": "dataset", "spaces": "space"}
# Web URL prefix of each repo type: models have none (https://huggingface.co/ns/name).
_URL_PREFIXES = {"model": "", "dataset": "datasets/", "space": "spaces/"}

# What the Hub says about an unknown token. The client raises a plain HfHubHTTPError for it (not a
# RepositoryNotFoundError), even on public repos.
INVALID_TOKEN_MESSAGE = "Invalid credentials in Authorization header"


def git_blob_sha1(data: bytes) -> str:
    """Git's blob id of `data`: what the Hub uses as the ETag and `oid` of a regular (non-LFS) file."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


class HubError(Exception):
    """An error answer. `code` goes into `X-Error-Code`, which the client turns into its exceptions."""

    def __init__(self, status: int, message: str, code: str | None = None, headers: dict | None = None):
        super().__init__(message)
        self.status, self.message, self.code, self.headers = status, message, code, headers or {}

    def reply(self) -> "Reply":
        """The HTTP answer, with the message both in `X-Error-Message` (what the client reads on HEAD)
        and in the JSON body (what it reads otherwise)."""
        headers = {**self.headers, "X-Error-Message": self.message}
        if self.code:
            headers["X-Error-Code"] = self.code
        return Reply(self.status, {"error": self.message}, headers)


@dataclass
class Reply:
    """An HTTP answer. A `bytes` body is sent as is, anything else as JSON."""

    status: int = 200
    body: object = None
    headers: dict = field(default_factory=dict)


@dataclass
class Call:
    """One request, read and parsed; `HubServer._route` sets `user` from the token."""

    method: str
    path: str
    query: dict[str, str]
    headers: Message
    body: bytes
    user: str | None = None

    def json(self):
        """The body parsed as JSON."""
        return json.loads(self.body)


@dataclass(frozen=True)
class LoggedRequest:
    """What `HubServer.requests` records per request; `path` is raw (percent-encoded), without query."""

    method: str
    path: str
    status: int


@dataclass
class Commit:
    """A commit: its 40-hex id, its message and the full content of the repo at that point."""

    oid: str
    message: str
    files: dict[str, bytes]


@dataclass
class Repo:
    """A repo: its commits by id and its refs (only `main`: branches and PRs are not supported)."""

    repo_id: str
    private: bool
    commits: dict[str, Commit] = field(default_factory=dict)
    refs: dict[str, str] = field(default_factory=dict)

    @property
    def owner(self) -> str:
        """The namespace, which is also the only user allowed to write or to read it when private."""
        return self.repo_id.split("/")[0]

    @property
    def head(self) -> str:
        """The id of the last commit on `main`."""
        return self.refs["main"]

    def files(self, revision: str = "main") -> dict[str, bytes]:
        """The files at `revision` (a branch name or a commit id)."""
        return self.resolve(revision).files

    def resolve(self, revision: str) -> Commit:
        """The commit a branch name or commit id points to, or a RevisionNotFound error."""
        commit = self.commits.get(self.refs.get(revision, revision))
        if commit is None:
            raise HubError(404, f"Invalid rev id: {revision}", "RevisionNotFound")
        return commit

    def add_commit(self, message: str, files: dict[str, bytes], branch: str = "main") -> Commit:
        """Record a new snapshot and move `branch` to it. Commit ids are random 40-hex strings: the
        client only needs them to look like git commit ids."""
        commit = Commit(secrets.token_hex(20), message, files)
        self.commits[commit.oid] = commit
        self.refs[branch] = commit.oid
        return commit


@dataclass
class _Fault:
    """A pending injected failure (see `HubServer.fail_next`)."""

    method: str
    pattern: re.Pattern
    status: int
    remaining: int


# Routes, matched in order against the raw path. `kind` is the repo type as in API paths ("models"); it
# is absent from model download paths. Groups are percent-decoded before the handler gets them.
_REPO = r"(?P<kind>models|datasets|spaces)/(?P<repo>[^/]+/[^/]+)"
_ROUTES = [
    ("POST", r"/api/repos/create", "_create_repo"),
    ("DELETE", r"/api/repos/delete", "_delete_repo"),
    ("POST", r"/api/validate-yaml", "_validate_yaml"),
    ("GET", r"/api/whoami-v2", "_whoami"),
    ("GET", rf"/api/{_REPO}(?:/revision/(?P<rev>[^/]+))?", "_repo_info"),
    ("GET", rf"/api/{_REPO}/tree/(?P<rev>[^/]+)(?:/(?P<path>.+))?", "_tree"),
    ("POST", rf"/api/{_REPO}/preupload/(?P<rev>[^/]+)", "_preupload"),
    ("POST", rf"/api/{_REPO}/commit/(?P<rev>[^/]+)", "_commit"),
    (
        "GET HEAD",
        r"/(?:(?P<kind>datasets|spaces)/)?(?P<repo>[^/]+/[^/]+)/resolve/(?P<rev>[^/]+)/(?P<path>.+)",
        "_resolve",
    ),
]
_ROUTES = [(methods.split(), re.compile(pattern), handler) for methods, pattern, handler in _ROUTES]


class HubServer:
    """The Hub stand-in: in-memory repos served on `endpoint` by a background thread.

    `tokens` maps each valid token to its user name. Writes need a valid token whose user owns the
    namespace; private repos are visible only to their owner. Use it as a context manager, or call
    `start()` and `stop()`.
    """

    def __init__(self, tokens: dict[str, str], host: str = "127.0.0.1", port: int = 0):
        self.tokens = dict(tokens)
        self.repos: dict[tuple[str, str], Repo] = {}
        self.requests: list[LoggedRequest] = []
        self._faults: list[_Fault] = []
        self._lock = threading.Lock()  # guards changes to repos, requests, faults: handlers are threads
        self._httpd = ThreadingHTTPServer((host, port), _Handler)
        self._httpd.hub = self
        # A short poll interval makes stop() quick (the default, 0.5 s, would add up over many tests).
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.endpoint = f"http://{host}:{self._httpd.server_port}"

    @property
    def token(self) -> str:
        """The first valid token, the one tests use by default."""
        return next(iter(self.tokens))

    @property
    def user(self) -> str:
        """The user of `token`."""
        return self.tokens[self.token]

    def start(self) -> "HubServer":
        """Serve requests in a daemon thread."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and free the port."""
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join()

    def __enter__(self) -> "HubServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # ----- test helpers ---------------------------------------------------------------------------

    def fail_next(self, method: str, path_pattern: str, status: int = 500, times: int = 1) -> None:
        """Make the next `times` requests with `method` whose raw path matches the regex `path_pattern`
        (searched, not anchored) fail with `status` before anything else happens.

        Example: `fail_next("POST", r"/commit/")` makes the next commit call answer 500."""
        with self._lock:
            self._faults.append(_Fault(method.upper(), re.compile(path_pattern), status, times))

    def count(self, method: str | None = None, path: str | None = None) -> int:
        """How many requests were made, optionally only those with `method` and a raw path matching
        the regex `path` (searched)."""
        return sum(
            1
            for r in list(self.requests)
            if (method is None or r.method == method.upper())
            and (path is None or re.search(path, r.path))
        )

    def repo(self, repo_id: str, kind: str = "model") -> Repo:
        """The stored repo, to check server-side state directly (`.head`, `.files()`, `.commits`)."""
        return self.repos[(kind, repo_id)]

    # ----- request handling -----------------------------------------------------------------------

    def handle(self, call: Call) -> Reply:
        """Answer one request (an injected failure, a route, or 404) and log it."""
        try:
            reply = self._take_fault(call) or self._route(call)
        except HubError as error:
            reply = error.reply()
        except Exception as error:  # a bug here: show it in the client's error and in pytest's output
            traceback.print_exc()
            reply = HubError(500, f"Test Hub server error: {error!r}".replace("\n", " ")).reply()
        with self._lock:
            self.requests.append(LoggedRequest(call.method, call.path, reply.status))
        return reply

    def _take_fault(self, call: Call) -> Reply | None:
        """Consume a matching injected failure, if any."""
        with self._lock:
            for fault in self._faults:
                if fault.remaining and fault.method == call.method and fault.pattern.search(call.path):
                    fault.remaining -= 1
                    return HubError(fault.status, f"Injected failure ({fault.status})").reply()
        return None

    def _route(self, call: Call) -> Reply:
        """Authenticate the caller, then call the first handler whose method and path match."""
        call.user = self._user(call)
        for methods, pattern, handler in _ROUTES:
            match = pattern.fullmatch(call.path)
            if match and call.method in methods:
                args = {k: unquote(v) for k, v in match.groupdict().items() if v is not None}
                if "repo" in args:
                    args["kind"] = _KINDS.get(args.get("kind", "models"))
                return getattr(self, handler)(call, **args)
        raise HubError(404, f"No route for {call.method} {call.path} in the test Hub server")

    def _user(self, call: Call) -> str | None:
        """The user behind the bearer token: None without a token, 401 for an unknown one (as the Hub
        does, even for public repos)."""
        auth = call.headers.get("authorization")
        if auth is None:
            return None
        user = self.tokens.get(auth.removeprefix("Bearer ").strip())
        if user is None:
            raise HubError(401, INVALID_TOKEN_MESSAGE)
        return user

    def _require_user(self, call: Call) -> str:
        """The caller's user name, or 401 for anonymous callers."""
        if call.user is None:
            raise HubError(401, "You must be authenticated to access this resource")
        return call.user

    def _readable_repo(self, call: Call, kind: str, repo_id: str) -> Repo:
        """The repo if the caller may see it. Like the Hub, a missing repo and someone else's private
        repo look the same: 401 for anonymous callers and 404 otherwise, both with `X-Error-Code:
        RepoNotFound`. (The client's own 401 -> RepositoryNotFoundError rule only applies to https
        URLs, so the header is what makes it work on this http endpoint.)"""
        repo = self.repos.get((kind, repo_id))
        if repo is None or (repo.private and call.user != repo.owner):
            raise HubError(401 if call.user is None else 404, "Repository not found", "RepoNotFound")
        return repo

    def _writable_repo(self, call: Call, kind: str, repo_id: str) -> Repo:
        """The repo if the caller may write to it: a valid token of the namespace's owner."""
        user = self._require_user(call)
        repo = self._readable_repo(call, kind, repo_id)
        if user != repo.owner:
            raise HubError(403, f"You don't have the rights to write to {repo_id}")
        return repo

    def _repo_url(self, kind: str, repo_id: str) -> str:
        """The repo's web URL, which the client parses back into a repo id (create_repo, commit URLs)."""
        return f"{self.endpoint}/{_URL_PREFIXES[kind]}{repo_id}"

    # ----- routes ---------------------------------------------------------------------------------

    def _create_repo(self, call: Call) -> Reply:
        """`HfApi.create_repo`. An existing repo gives 409, still with its `url`, which the client reads
        when exist_ok=True."""
        user = self._require_user(call)
        payload = call.json()
        kind = payload.get("type") or "model"
        repo_id = f"{payload.get('organization') or user}/{payload['name']}"
        namespace = repo_id.split("/")[0]
        if namespace != user:
            raise HubError(403, f"You don't have the rights to create a repo under {namespace}")
        url = self._repo_url(kind, repo_id)
        with self._lock:
            if (kind, repo_id) in self.repos:
                return Reply(409, {"error": f"You already created this {kind} repo", "url": url})
            repo = Repo(repo_id, private=payload.get("visibility") == "private")
            repo.add_commit("initial commit", {".gitattributes": INITIAL_GITATTRIBUTES})
            self.repos[(kind, repo_id)] = repo
        return Reply(body={"url": url, "name": repo_id})

    def _delete_repo(self, call: Call) -> Reply:
        """`HfApi.delete_repo`; a missing repo gives RepoNotFound, which missing_ok=True ignores."""
        payload = call.json()
        kind = payload.get("type") or "model"
        repo_id = f"{payload.get('organization') or call.user}/{payload['name']}"
        repo = self._writable_repo(call, kind, repo_id)
        with self._lock:
            del self.repos[(kind, repo.repo_id)]
        return Reply(body={})

    def _validate_yaml(self, call: Call) -> Reply:
        """README metadata check before uploads. The client reads the JSON before the status, so the
        answer must be JSON. The client has parsed the card's YAML already; the Hub's checks of the
        metadata values are out of scope."""
        return Reply(body={"errors": [], "warnings": []})

    def _whoami(self, call: Call) -> Reply:
        """`HfApi.whoami`."""
        user = self._require_user(call)
        auth = {"accessToken": {"role": "write"}}
        return Reply(body={"type": "user", "name": user, "orgs": [], "auth": auth})

    def _repo_info(self, call: Call, kind: str, repo: str, rev: str = "main") -> Reply:
        """`model_info`/`repo_info`/`repo_exists`. The client requires `id`; `snapshot_download` only
        uses `sha`."""
        stored = self._readable_repo(call, kind, repo)
        commit = stored.resolve(rev)
        siblings = [
            {"rfilename": path, "size": len(data), "blobId": git_blob_sha1(data)}
            for path, data in sorted(commit.files.items())
        ]
        info = {"id": repo, "author": stored.owner, "sha": commit.oid, "private": stored.private}
        return Reply(body={**info, "siblings": siblings})

    def _tree(self, call: Call, kind: str, repo: str, rev: str, path: str = "") -> Reply:
        """`list_repo_files`/`list_repo_tree`/`snapshot_download`: all entries in one page (no `Link`
        header for pagination)."""
        commit = self._readable_repo(call, kind, repo).resolve(rev)
        recursive = call.query.get("recursive", "").lower() == "true"
        entries = _tree_entries(commit.files, path, recursive)
        if path and not entries:
            raise HubError(404, f"{path} does not exist on {rev}", "EntryNotFound")
        return Reply(body=entries)

    def _preupload(self, call: Call, kind: str, repo: str, rev: str) -> Reply:
        """Decide how each file is uploaded: always "regular" (inline in the commit, no LFS/Xet). `oid`
        is the current blob id at that path, which lets the client skip unchanged files.
        `shouldIgnore` is required."""
        files = self._writable_repo(call, kind, repo).resolve(rev).files
        answers = [
            {
                "path": item["path"],
                "uploadMode": "regular",
                "shouldIgnore": False,
                "oid": git_blob_sha1(files[item["path"]]) if item["path"] in files else None,
            }
            for item in call.json()["files"]
        ]
        return Reply(body={"files": answers})

    def _commit(self, call: Call, kind: str, repo: str, rev: str) -> Reply:
        """`create_commit`/`upload_folder`: NDJSON, a header line then one line per operation.
        All or nothing: a bad operation or a moved branch leaves the repo as it was."""
        stored = self._writable_repo(call, kind, repo)
        if "create_pr" in call.query:
            raise HubError(400, "Pull requests are not supported by the test Hub server")
        if rev not in stored.refs:
            raise HubError(404, f"Invalid rev id: {rev}", "RevisionNotFound")
        header, *operations = [json.loads(line) for line in call.body.splitlines() if line.strip()]
        with self._lock:
            parent = header["value"].get("parentCommit")
            if parent and parent != stored.refs[rev]:
                raise HubError(412, "A commit has happened since. Please refresh and try again.")
            files = _apply_operations(stored.resolve(rev).files, operations)
            commit = stored.add_commit(header["value"]["summary"], files, branch=rev)
        url = f"{self._repo_url(kind, repo)}/commit/{commit.oid}"
        return Reply(body={"success": True, "commitOid": commit.oid, "commitUrl": url})

    def _resolve(self, call: Call, kind: str, repo: str, rev: str, path: str) -> Reply:
        """`hf_hub_download` (HEAD for metadata, then GET) and `file_exists` (HEAD). The client needs
        `X-Repo-Commit`, an `ETag` (the blob name in its cache) and a true `Content-Length`."""
        commit = self._readable_repo(call, kind, repo).resolve(rev)
        headers = {"X-Repo-Commit": commit.oid}
        if path not in commit.files:  # with X-Repo-Commit, the client caches the miss in .no_exist/
            raise HubError(404, f"Entry not found: {path}", "EntryNotFound", headers)
        data = commit.files[path]
        headers["ETag"] = f'"{git_blob_sha1(data)}"'
        return Reply(body=data, headers=headers)


def _tree_entries(files: dict[str, bytes], folder: str, recursive: bool) -> list[dict]:
    """Tree API entries under `folder`: its direct children, or everything below it when `recursive`.

    Folders get an `oid` too; theirs is made up (the client never uses it)."""
    base = f"{folder.strip('/')}/" if folder.strip("/") else ""
    entries = {}
    for path, data in files.items():
        if not path.startswith(base):
            continue
        parts = path[len(base) :].split("/")
        for depth in range(1, len(parts) if recursive else min(2, len(parts))):
            folder_path = base + "/".join(parts[:depth])
            oid = hashlib.sha1(folder_path.encode()).hexdigest()
            entries[folder_path] = {"type": "directory", "path": folder_path, "oid": oid}
        if recursive or len(parts) == 1:
            entries[path] = {"type": "file", "path": path, "size": len(data), "oid": git_blob_sha1(data)}
    return [entries[path] for path in sorted(entries)]


def _apply_operations(files: dict[str, bytes], operations: list[dict]) -> dict[str, bytes]:
    """A copy of `files` with the commit operations applied; a bad one raises before anything is
    stored."""
    files = dict(files)
    for operation in operations:
        key, path = operation["key"], operation["value"]["path"]
        if key == "file":
            files[path] = base64.b64decode(operation["value"]["content"])
        elif key == "deletedFile":
            if files.pop(path, None) is None:
                raise HubError(404, f"A file with this name doesn't exist: {path}", "EntryNotFound")
        elif key == "deletedFolder":
            for inside in [p for p in files if p.startswith(path.rstrip("/") + "/")]:
                del files[inside]
        else:  # "lfsFile": never asked for, since preupload always answers "regular"
            raise HubError(400, f"Unsupported commit operation {key!r}: the test server has no LFS")
    return files


class _Handler(BaseHTTPRequestHandler):
    """Turns HTTP into `Call`s for `HubServer.handle` and its `Reply`s back into HTTP."""

    # Keep-alive, like the real Hub, for the client's connection pool. Safe because every reply sets
    # Content-Length and every request body is read in full, even when the reply is an error.
    protocol_version = "HTTP/1.1"

    def _serve(self) -> None:
        """Read the whole request, let the hub answer it, send the answer."""
        url = urlsplit(self.path)
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        call = Call(self.command, url.path, dict(parse_qsl(url.query)), self.headers, body)
        self._send(self.server.hub.handle(call))

    do_GET = do_HEAD = do_POST = do_DELETE = _serve

    def _send(self, reply: Reply) -> None:
        """Write the status, headers and (except for HEAD) the body."""
        raw = isinstance(reply.body, bytes)
        payload = reply.body if raw else json.dumps(reply.body).encode()
        self.send_response(reply.status)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Type", "application/octet-stream" if raw else "application/json")
        # On HEAD too: the client takes it as the file size.
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    def log_message(self, format: str, *args) -> None:
        """Stay quiet: `HubServer.requests` is the log."""
