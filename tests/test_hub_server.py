"""The test Hub server driven by the real `huggingface_hub` client: uploads, downloads, the cache,
offline mode, errors and injected failures."""

import json
import random
from pathlib import Path

import huggingface_hub
import pytest
from huggingface_hub import HfApi, constants, hf_hub_download, scan_cache_dir, snapshot_download
from huggingface_hub.errors import (
    EntryNotFoundError,
    HfHubHTTPError,
    LocalEntryNotFoundError,
    OfflineModeIsEnabled,
    RemoteEntryNotFoundError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)

pytest_plugins = ["tests.conftest_hub"]

FILES = {
    "config.json": json.dumps({"n_layer": 2, "n_embd": 16}).encode(),
    "README.md": b"---\nlicense: mit\nlibrary_name: little_baby\n---\n# A tiny model\n",
    "ckpt/sub dir/notes.txt": b"nested file",  # the space checks percent-encoding
    "weights.bin": random.Random(0).randbytes(2 * 1024 * 1024),  # the real Hub would want LFS for this
}


def write_folder(folder: Path, files: dict[str, bytes]) -> Path:
    """Write `files` (path in repo -> content) under `folder`."""
    for path, data in files.items():
        (folder / path).parent.mkdir(parents=True, exist_ok=True)
        (folder / path).write_bytes(data)
    return folder


@pytest.fixture
def repo_id(hub_env, tmp_path):
    """A public repo of the test user holding FILES, uploaded with upload_folder."""
    repo_id = f"{hub_env.server.user}/lb-tiny"
    api = HfApi()
    api.create_repo(repo_id)
    api.upload_folder(repo_id=repo_id, folder_path=write_folder(tmp_path / "up", FILES))
    return repo_id


def test_settings_follow_the_environment_and_are_restored(hub_server):
    # Imported here: importing the plugin module before pytest loads it (pytest_plugins) makes pytest
    # warn that it cannot rewrite its asserts.
    from tests.conftest_hub import sync_client_settings

    before = (constants.ENDPOINT, huggingface_hub.hf_api.api.endpoint, constants.HF_HUB_OFFLINE)
    monkeypatch = pytest.MonkeyPatch()
    monkeypatch.setenv("HF_ENDPOINT", hub_server.endpoint)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    sync_client_settings(monkeypatch)
    after = (constants.ENDPOINT, huggingface_hub.hf_api.api.endpoint, constants.HF_HUB_OFFLINE)
    monkeypatch.undo()
    assert after == (hub_server.endpoint, hub_server.endpoint, True)
    assert (constants.ENDPOINT, huggingface_hub.hf_api.api.endpoint, constants.HF_HUB_OFFLINE) == before


def test_create_repo_public_private_and_exist_ok(hub_env):
    api, user = HfApi(), hub_env.server.user
    url = api.create_repo(f"{user}/public")
    assert (url.repo_id, url.endpoint) == (f"{user}/public", hub_env.server.endpoint)
    assert api.list_repo_files(f"{user}/public") == [".gitattributes"]  # like a new repo on the Hub

    with pytest.raises(HfHubHTTPError) as error:
        api.create_repo(f"{user}/public")
    assert error.value.response.status_code == 409
    # exist_ok=True reads the "url" of the 409 answer
    assert api.create_repo(f"{user}/public", exist_ok=True).repo_id == f"{user}/public"

    api.create_repo(f"{user}/secret", private=True)
    assert api.model_info(f"{user}/secret").private is True
    with pytest.raises(RepositoryNotFoundError):  # without the owner's token, private looks missing
        api.model_info(f"{user}/secret", token=False)
    assert not api.repo_exists(f"{user}/secret", token=False)


def test_upload_folder_is_listed_and_stored(hub_env, repo_id):
    server = hub_env.server
    assert HfApi().list_repo_files(repo_id) == sorted([".gitattributes", *FILES])
    assert [entry.path for entry in HfApi().list_repo_tree(repo_id, "ckpt")] == ["ckpt/sub dir"]
    info = huggingface_hub.model_info(repo_id)  # the module-level function: hf_api.api is patched too
    assert info.sha == server.repo(repo_id).head
    assert {s.rfilename: s.size for s in info.siblings}["weights.bin"] == len(FILES["weights.bin"])
    assert {path: server.repo(repo_id).files()[path] for path in FILES} == FILES
    # The 2 MB file went inline as a "regular" file: no LFS batch call, no Xet token request.
    assert server.count(path=r"\.git/info/lfs|xet") == 0
    assert server.count("POST", r"/validate-yaml$") >= 1


def test_hf_hub_download_then_cache(hub_env, repo_id):
    server = hub_env.server
    path = hf_hub_download(repo_id, "weights.bin")
    assert Path(path).read_bytes() == FILES["weights.bin"]
    assert Path(path).is_relative_to(hub_env.cache_dir)
    assert [repo.repo_id for repo in scan_cache_dir().repos] == [repo_id]

    server.requests.clear()
    assert hf_hub_download(repo_id, "weights.bin") == path  # "main": one HEAD for the ETag, no GET
    assert (server.count("HEAD"), server.count("GET")) == (1, 0)

    server.requests.clear()
    assert hf_hub_download(repo_id, "weights.bin", revision=server.repo(repo_id).head) == path
    assert server.requests == []  # a cached file at a commit id needs no request at all


def test_snapshot_download_and_subfolder(hub_env, repo_id):
    folder = Path(snapshot_download(repo_id))
    assert folder.name == hub_env.server.repo(repo_id).head
    assert {path: (folder / path).read_bytes() for path in FILES} == FILES

    path = hf_hub_download(repo_id, "notes.txt", subfolder="ckpt/sub dir")
    assert Path(path).read_bytes() == FILES["ckpt/sub dir/notes.txt"]
    assert Path(path).relative_to(folder) == Path("ckpt/sub dir/notes.txt")
    assert hub_env.server.count("HEAD", r"/resolve/main/ckpt/sub%20dir/notes\.txt$") == 1


def test_offline_mode_reads_the_cache_and_makes_no_request(hub_env, repo_id):
    cached = hf_hub_download(repo_id, "config.json")
    hub_env.setenv("HF_HUB_OFFLINE", "1")  # read at import by the client: setenv re-syncs it
    hub_env.server.requests.clear()

    assert hf_hub_download(repo_id, "config.json") == cached  # main -> refs/main -> snapshot
    with pytest.raises(LocalEntryNotFoundError) as error:  # not cached
        hf_hub_download(repo_id, "weights.bin")
    assert isinstance(error.value.__cause__, OfflineModeIsEnabled)
    assert hub_env.server.requests == []


def test_wrong_or_missing_token(hub_env, repo_id, tmp_path):
    with pytest.raises(HfHubHTTPError) as error:  # an unknown token fails even on a public repo
        HfApi(token="hf_wrong").model_info(repo_id)
    assert error.value.response.status_code == 401
    assert not isinstance(error.value, RepositoryNotFoundError)
    with pytest.raises(HfHubHTTPError) as error:
        hf_hub_download(repo_id, "config.json", token="hf_wrong")
    assert error.value.response.status_code == 401

    folder = write_folder(tmp_path / "more", {"extra.txt": b"x"})
    with pytest.raises(HfHubHTTPError) as error:
        HfApi(token=False).upload_folder(repo_id=repo_id, folder_path=folder)  # anonymous write
    assert error.value.response.status_code == 401
    assert "extra.txt" not in hub_env.server.repo(repo_id).files()


def test_missing_file_revision_and_repo(hub_env, repo_id):
    api = HfApi()
    with pytest.raises(RemoteEntryNotFoundError) as error:
        hf_hub_download(repo_id, "nope.txt")
    assert isinstance(error.value, EntryNotFoundError) and isinstance(error.value, HfHubHTTPError)
    assert not api.file_exists(repo_id, "nope.txt")
    with pytest.raises(RevisionNotFoundError):
        hf_hub_download(repo_id, "config.json", revision="no-such-branch")
    with pytest.raises(RepositoryNotFoundError):
        hf_hub_download(f"{hub_env.server.user}/no-such-repo", "config.json")
    assert not api.repo_exists(f"{hub_env.server.user}/no-such-repo")


def test_failed_commit_changes_nothing_and_a_retry_succeeds(hub_env, repo_id, tmp_path):
    server = hub_env.server
    head_before, files_before = server.repo(repo_id).head, server.repo(repo_id).files()
    folder = write_folder(tmp_path / "v2", {"config.json": b'{"n_layer": 3}', "ckpt/step2.txt": b"2"})
    server.fail_next("POST", r"/commit/", status=500)

    with pytest.raises(HfHubHTTPError) as error:  # with Xet off, the client does not retry commits
        HfApi().upload_folder(repo_id=repo_id, folder_path=folder)
    assert error.value.response.status_code == 500
    assert (server.repo(repo_id).head, server.repo(repo_id).files()) == (head_before, files_before)

    commit = HfApi().upload_folder(repo_id=repo_id, folder_path=folder)
    assert server.repo(repo_id).head == commit.oid != head_before
    assert HfApi().list_repo_files(repo_id) == sorted([".gitattributes", *FILES, "ckpt/step2.txt"])
    path = Path(hf_hub_download(repo_id, "config.json"))
    assert path.read_bytes() == b'{"n_layer": 3}' and path.parent.name == commit.oid
    assert server.count("POST", r"/commit/") == 3  # first upload, injected failure, retry


def test_whoami_space_and_delete_repo(hub_env, tmp_path):
    api, user = HfApi(), hub_env.server.user
    assert api.whoami()["name"] == user
    space = api.create_repo(f"{user}/demo", repo_type="space", space_sdk="gradio")
    assert space.repo_type == "space"
    folder = write_folder(tmp_path / "app", {"app.py": b"import gradio\n"})
    api.upload_folder(repo_id=space.repo_id, repo_type="space", folder_path=folder)
    app = hf_hub_download(space.repo_id, "app.py", repo_type="space")
    assert Path(app).read_bytes() == b"import gradio\n"

    api.delete_repo(space.repo_id, repo_type="space")
    assert not api.repo_exists(space.repo_id, repo_type="space")
    api.delete_repo(space.repo_id, repo_type="space", missing_ok=True)
