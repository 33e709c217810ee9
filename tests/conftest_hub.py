"""Pytest fixtures that point the real `huggingface_hub` client at an in-process `HubServer`.

Load them in a test module (or, later, in tests/conftest.py) with

    pytest_plugins = ["tests.conftest_hub"]

then ask for `hub_server` (the server alone) or `hub_env` (the server plus an environment in which
the client talks to it, with its cache and token file under tmp_path):

    def test_push(hub_env):
        HfApi().create_repo(f"{hub_env.server.user}/tiny")  # endpoint and token come from the env
        hub_env.server.fail_next("POST", r"/commit/")       # the next commit call gets a 500
        hub_env.setenv("HF_HUB_OFFLINE", "1")               # change a client setting mid-test
"""

import importlib
import runpy
import sys
from pathlib import Path
from types import ModuleType

import pytest
from huggingface_hub import close_session, constants

from tests.hub_server import HubServer

TEST_TOKEN = "hf_test_token"
TEST_USER = "tester"

# Variables that would take precedence over the fixture's settings (cache and token locations, OIDC
# tokens, staging, offline mode): each test starts without them.
_CLEARED_ENV = (
    "HF_HUB_CACHE",
    "HUGGINGFACE_HUB_CACHE",
    "HF_ASSETS_CACHE",
    "HUGGINGFACE_ASSETS_CACHE",
    "HF_XET_CACHE",
    "HF_TOKEN_PATH",
    "HUGGING_FACE_HUB_TOKEN",
    "HF_OIDC_RESOURCE",
    "HUGGINGFACE_CO_STAGING",
    "HF_HUB_OFFLINE",
    "TRANSFORMERS_OFFLINE",
    "HF_HUB_DISABLE_IMPLICIT_TOKEN",
)

# Modules that copy a setting with `from ..constants import X` but that `import huggingface_hub` does
# not load (found with `grep -rn "from .*constants import"` in huggingface_hub 2.4.0). Importing them up
# front gets their copies patched and restored; otherwise a test that imported one first would leave it
# with its temporary values. The CLI-only copies (`cli.auth.ENDPOINT`,
# `utils._git_credential.ENDPOINT`) are left out on purpose.
_MODULES_WITH_COPIES = (
    "huggingface_hub.utils._cache_manager",  # HF_HUB_CACHE, the default of scan_cache_dir()
    "huggingface_hub.utils._cache_assets",  # HF_ASSETS_CACHE, the default of cached_assets_path()
    "huggingface_hub.hf_file_system",  # hffs = HfFileSystem(), built with the import-time ENDPOINT
)


@pytest.fixture
def hub_server():
    """A fresh, empty Hub server on a free port of 127.0.0.1; `TEST_TOKEN` belongs to `TEST_USER`."""
    with HubServer({TEST_TOKEN: TEST_USER}) as server:
        yield server


class HubEnv:
    """What `hub_env` gives a test: the server, the client's folders, a way to change settings."""

    def __init__(self, server: HubServer, hf_home: Path, monkeypatch: pytest.MonkeyPatch):
        self.server = server
        self.hf_home = hf_home
        self._monkeypatch = monkeypatch

    @property
    def cache_dir(self) -> Path:
        """The hub cache the client uses now (`$HF_HOME/hub` unless a test changed it)."""
        return Path(constants.HF_HUB_CACHE)

    def setenv(self, name: str, value: str | None) -> None:
        """Set an environment variable (unset it with None) and make the client see the change right
        away. Undone at the end of the test."""
        if value is None:
            self._monkeypatch.delenv(name, raising=False)
        else:
            self._monkeypatch.setenv(name, value)
        sync_client_settings(self._monkeypatch)


@pytest.fixture
def hub_env(hub_server, tmp_path, monkeypatch):
    """Make the real client talk to `hub_server`, with its HF_HOME (cache, token file) under
    tmp_path, `TEST_TOKEN` as HF_TOKEN, no Xet, no telemetry, no progress bars and no proxy."""
    settings = {
        "HF_ENDPOINT": hub_server.endpoint,
        "HF_HOME": str(tmp_path / "hf_home"),
        "HF_TOKEN": hub_server.token,
        "HF_HUB_DISABLE_XET": "1",
        "HF_HUB_DISABLE_TELEMETRY": "1",
        "HF_HUB_DISABLE_PROGRESS_BARS": "1",
        "NO_PROXY": "127.0.0.1,localhost",
        "no_proxy": "127.0.0.1,localhost",  # when both are set, urllib (and httpx) use the lowercase one
    }
    for name in _CLEARED_ENV:
        monkeypatch.delenv(name, raising=False)
    for name, value in settings.items():
        monkeypatch.setenv(name, value)
    sync_client_settings(monkeypatch)
    # The client's shared HTTP session reads the proxy settings when it is created and keeps
    # connections open: start from a new one, and drop it (and its connections to this server) after.
    close_session()
    yield HubEnv(hub_server, tmp_path / "hf_home", monkeypatch)
    close_session()


def sync_client_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make `huggingface_hub` follow the current environment, although it reads it once, at import.

    `huggingface_hub.constants` turns HF_ENDPOINT, HF_HOME, HF_HUB_CACHE, HF_TOKEN_PATH, HF_HUB_OFFLINE,
    HF_HUB_DISABLE_XET, HF_HUB_DISABLE_TELEMETRY, ... into module variables when it is imported. Most
    of the client reads `constants.X` at call time, but a few places hold their own import-time copy:
    - `from ..constants import X`: `utils.tqdm.HF_HUB_DISABLE_PROGRESS_BARS` and the modules in
      `_MODULES_WITH_COPIES`;
    - objects built at import from `constants.ENDPOINT`: `hf_api.api`, the HfApi behind the
      module-level functions (`huggingface_hub.create_repo`, `upload_folder`, `model_info`, ...), and
      `hf_file_system.hffs`.
    So this re-runs constants.py against the current environment, patches every value that changed,
    then patches the copies (same name, same object as the old value) and the `endpoint` of
    module-level objects. `utils._http._HUB_ORIGINS`, also derived from ENDPOINT, is left alone: it
    only matters for redirects to another origin, and the test server never redirects. monkeypatch
    restores everything after the test.
    """
    for name in _MODULES_WITH_COPIES:
        importlib.import_module(name)
    changed = {}
    for name, new in runpy.run_path(constants.__file__).items():
        is_dunder = name.startswith("__") and name.endswith("__")
        if is_dunder or callable(new) or isinstance(new, ModuleType):
            continue
        old = getattr(constants, name, None)
        if new != old:
            changed[name] = (old, new)
            monkeypatch.setattr(constants, name, new)
    for module in _client_modules():
        for attr, value in list(vars(module).items()):
            if attr in changed and value is changed[attr][0]:
                monkeypatch.setattr(module, attr, changed[attr][1])
            elif "ENDPOINT" in changed and _holds_endpoint(value, changed["ENDPOINT"][0]):
                monkeypatch.setattr(value, "endpoint", changed["ENDPOINT"][1])


def _client_modules() -> list[ModuleType]:
    """The loaded modules of huggingface_hub, except `constants` itself."""
    return [
        module
        for name, module in list(sys.modules.items())
        if name.startswith("huggingface_hub.")
        and isinstance(module, ModuleType)
        and module is not constants
    ]


def _holds_endpoint(value, endpoint: str) -> bool:
    """Whether `value` is an object (not a class, function or module) whose `endpoint` is `endpoint`."""
    if isinstance(value, (type, ModuleType)) or callable(value):
        return False
    return getattr(value, "endpoint", None) == endpoint
