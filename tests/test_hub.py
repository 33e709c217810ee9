"""LittleBaby on the Hugging Face Hub: the real huggingface_hub client against the test
server (tests/hub_server.py) — push, download, snapshot, model info, the model store
and the Hub cache, size limits, offline mode, auth errors, failed uploads — and the
original project's files."""
import hashlib
import socket
from pathlib import Path

import numpy as np
import pytest
from huggingface_hub import HfApi, ModelCard, snapshot_download
from safetensors.numpy import load

from little_baby import LittleBaby
from little_baby.errors import WeightsError
from little_baby.io.store import identity
from little_baby.io.store.identity import new_guid
from little_baby.errors import (ConfigError, FileTooBigError, HubError, ModelNotFoundError,
                                NotCachedError)
from little_baby.io.hub import sources
from little_baby.io.hub.fetch import FETCHED_FILES, locate
from little_baby.io.store.ages import AGES, shipped_folder
from little_baby.io.hub.fetch import REPO_ENV
from little_baby.io.formats.original import original_files
from little_baby.training.trainer import Trainer
from tests.gradcheck import tiny_baby
from tests.test_cli import snapshot
from tests.test_original import original_like, write_original

GUID = AGES["age-3-months"].guid
MODEL_FILES = {"config.json", "tokenizer.json", "model.safetensors", "report.json", "README.md"}


@pytest.fixture(autouse=True)
def model_store(tmp_path, monkeypatch):
    """Every test gets its own model store and no default repo."""
    monkeypatch.setenv("LITTLE_BABY_STORE", str(tmp_path / "store"))
    monkeypatch.delenv(REPO_ENV, raising=False)
    return tmp_path / "store"


@pytest.fixture
def trained():
    """A tiny model trained a few steps, with a GUID; and a batch to compare logits on."""
    baby, x, y = tiny_baby()
    trainer = Trainer(baby, total_steps=3)
    for _ in range(3):
        trainer.step(x, y)
    baby.guid = new_guid()
    return baby, x


def elsewhere(tmp_path, name):
    """from_pretrained options for a machine that has seen nothing: fresh store and Hub cache
    (the store as cache=, its older name, which still works)."""
    return {"cache": tmp_path / name / "cache", "cache_dir": tmp_path / name / "hub"}


def upload(folder, repo_id, path_in_repo=None):
    HfApi().create_repo(repo_id, exist_ok=True)
    return HfApi().upload_folder(repo_id=repo_id, folder_path=folder, path_in_repo=path_in_repo)


# ---- round trip ------------------------------------------------------------------------------
def test_push_then_load_elsewhere_by_repo_id_and_by_guid(hub_env, trained, tmp_path):
    baby, x = trained
    repo_id = f"{hub_env.server.user}/baby-tiny"
    commit = baby.push_to_hub(repo_id)

    repo = hub_env.server.repo(repo_id)
    assert commit.oid == repo.head and set(repo.files()) == MODEL_FILES | {".gitattributes"}
    info = HfApi().model_info(repo_id)
    assert {s.rfilename for s in info.siblings} == MODEL_FILES | {".gitattributes"}
    card = ModelCard.load(repo_id)
    assert (card.data.library_name, card.data.license, card.data.pipeline_tag) == (
        "little_baby", "apache-2.0", "text-generation")
    assert baby.guid in card.text and f'from_pretrained("{repo_id}")' in card.text
    snapshot = Path(snapshot_download(repo_id))
    assert (snapshot / "model.safetensors").read_bytes() == repo.files()["model.safetensors"]

    by_repo = LittleBaby.from_pretrained(repo_id, **elsewhere(tmp_path, "b"))
    by_guid = LittleBaby.from_pretrained(baby.guid, repo=repo_id, **elsewhere(tmp_path, "c"))
    for again in (by_repo, by_guid):
        np.testing.assert_array_equal(again.logits(x), baby.logits(x))
        assert again.guid == baby.guid and again.source["repo_id"] == repo_id
        assert again.tokenizer == baby.tokenizer and again.config == baby.config


# ---- where a GUID is found -------------------------------------------------------------------
def test_guid_resolution_store_then_shipped_then_hub_cache_then_hub(hub_env, tmp_path, monkeypatch,
                                                                    model_store):
    baby, x, _ = tiny_baby()
    baby.guid = GUID
    repo_id = f"{hub_env.server.user}/collection"
    upload(baby.save_pretrained(tmp_path / "up"), repo_id, path_in_repo=GUID)
    monkeypatch.setenv(REPO_ENV, repo_id)
    hub_env.server.requests.clear()

    shipped = LittleBaby.from_pretrained("age-3-months")  # an age is its GUID: shipped first
    assert shipped.source == {"guid": GUID, "folder": shipped_folder(GUID), "repo_id": None}
    assert hub_env.server.requests == []

    from_hub = LittleBaby.from_pretrained("age-3-months", repo=repo_id)  # a named repo's model
    np.testing.assert_array_equal(from_hub.logits(x), baby.logits(x))
    assert from_hub.source["repo_id"] == repo_id and from_hub.guid == GUID

    hub_env.server.requests.clear()
    from_hub_cache = LittleBaby.from_pretrained(GUID.upper(), repo=repo_id)  # the Hub cache
    np.testing.assert_array_equal(from_hub_cache.logits(x), baby.logits(x))
    assert hub_env.server.requests == []

    other, _, _ = tiny_baby(seed=7)  # the local store comes first
    other.guid = GUID
    other.save(model_store / GUID)
    from_store = LittleBaby.from_pretrained(GUID)
    np.testing.assert_array_equal(from_store.logits(x), other.logits(x))
    assert from_store.source == {"guid": GUID, "folder": model_store / GUID, "repo_id": None}
    pinned = LittleBaby.from_pretrained(GUID, repo=repo_id)  # ... unless it is not the repo's
    np.testing.assert_array_equal(pinned.logits(x), baby.logits(x))
    assert hub_env.server.requests == []


def test_missing_guid_and_bad_names(hub_env, tmp_path):
    repo_id = f"{hub_env.server.user}/empty"
    HfApi().create_repo(repo_id)
    guid = new_guid()
    with pytest.raises(ModelNotFoundError, match=f"no model {guid}.*{repo_id}.*configs/config_{guid}"):
        LittleBaby.from_pretrained(guid, repo=repo_id)
    with pytest.raises(ModelNotFoundError, match="no Hub repo"):
        LittleBaby.from_pretrained(guid, repo=f"{hub_env.server.user}/no-such-repo")
    with pytest.raises(ModelNotFoundError, match=f"no model {guid}.*the folder"):
        LittleBaby.from_pretrained(guid, repo=tmp_path)
    hub_env.server.requests.clear()
    for name in ("./no-such-folder", "../../etc/passwd", "a/b/c"):  # neither folder nor repo id
        with pytest.raises(ModelNotFoundError, match="not a model folder, a GUID, an age"):
            LittleBaby.from_pretrained(name)
    with pytest.raises(ModelNotFoundError, match="neither a folder nor a Hub repo id"):
        LittleBaby.from_pretrained(guid, repo="./no-such-clone")
    with pytest.raises(ModelNotFoundError, match="not a GUID or an age"):
        LittleBaby.from_pretrained("../../etc", repo=repo_id)  # repo-relative paths are GUIDs only
    assert hub_env.server.requests == []


# ---- the original project's files -------------------------------------------------------------
# Its layout and round trips in all variants: tests/test_original.py. Here: from a Hub repo.
def test_original_layout_on_the_hub_is_converted_once(hub_env, tmp_path, model_store, capsys):
    from little_baby.cli import main
    baby, x = original_like(c_attention="moh", c_network="moe")
    guid = new_guid()
    repo_id = f"{hub_env.server.user}/TheLittleBaby"
    commit = upload(write_original(baby, tmp_path / "original", guid), repo_id).oid

    converted = LittleBaby.from_pretrained(guid, repo=repo_id, d_type="fp64")
    np.testing.assert_array_equal(converted.logits(x), baby.logits(x))
    assert converted.tokenizer == baby.tokenizer and converted.guid == guid
    assert {f.name for f in (model_store / guid).iterdir()} == MODEL_FILES - {"README.md"}
    origin = identity.origin(converted.report)
    assert (origin["kind"], origin["repo"], origin["commit"]) == ("converted", repo_id, commit)
    assert converted.report["original"]["files"] == {
        name: hashlib.sha256((tmp_path / "original" / name).read_bytes()).hexdigest()
        for name in original_files(guid)}
    assert f"in the Hub repo {repo_id}" in identity.describe(converted.report)

    hub_env.server.requests.clear()
    hub_env.setenv("HF_HUB_OFFLINE", "1")
    again = LittleBaby.from_pretrained(guid, repo=repo_id, d_type="fp64")  # <store>/<guid>/, no request
    np.testing.assert_array_equal(again.logits(x), baby.logits(x))
    assert again.source["folder"] == model_store / guid and hub_env.server.requests == []
    # the command converts from the Hub cache while offline, and says what it lacks
    assert main(["convert", repo_id, guid, "--out", str(tmp_path / "out")]) == 0
    assert (tmp_path / "out" / "model.safetensors").is_file() and hub_env.server.requests == []
    assert main(["convert", repo_id, new_guid(), "--out", str(tmp_path / "none")]) == 2
    assert "HF_HUB_OFFLINE is set" in capsys.readouterr().err
    assert not (tmp_path / "none").exists()


def test_a_named_repo_gives_its_original_even_where_the_retrained_age_model_is(hub_env, tmp_path,
                                                                              model_store):
    """The cards' promise: with repo= the original's weights load, not the shipped ones,
    even from the project's own folder, whose <store>/<guid>/ holds the retrained model."""
    baby, x = original_like()
    repo_id = f"{hub_env.server.user}/TheLittleBaby"
    upload(write_original(baby, tmp_path / "original", GUID), repo_id)
    retrained = LittleBaby.load(shipped_folder(GUID))
    retrained.save(model_store / GUID)  # as in a clone: the store holds the shipped folder
    before = snapshot(model_store / GUID)

    original = LittleBaby.from_pretrained("age-3-months", repo=repo_id, d_type="fp64")
    np.testing.assert_array_equal(original.logits(x), baby.logits(x))
    assert original.source["folder"] == model_store / "repos" / f"{hub_env.server.user}--TheLittleBaby" / GUID
    assert snapshot(model_store / GUID) == before  # converted beside it, not over it
    assert LittleBaby.from_pretrained("age-3-months").source["folder"] == model_store / GUID
    hub_env.setenv("HF_HUB_OFFLINE", "1")
    again = LittleBaby.from_pretrained(GUID, repo=repo_id, d_type="fp64")  # converted once
    assert again.source["folder"] == original.source["folder"]


def test_two_folder_repos_of_one_name_keep_their_own_conversions(tmp_path, model_store):
    guid = new_guid()
    tiny_baby()[0].save(model_store / guid)  # another model holds <store>/<guid>/
    converted = []
    for where, seed in (("a", 1), ("b", 2)):
        baby, x = original_like(seed=seed)
        repo = write_original(baby, tmp_path / where / "TheLittleBaby", guid)
        got = LittleBaby.from_pretrained(guid, repo=repo, d_type="fp64")
        np.testing.assert_array_equal(got.logits(x), baby.logits(x))
        converted.append(got.source["folder"])
    assert converted[0] != converted[1] and all(f.parent.parent.name == "repos" for f in converted)


# ---- limits: every file sized before any download ----------------------------------------------
ROOMY = {name: 2 ** 30 for name in FETCHED_FILES}


def downloads(hub_env, since):
    """The Hub paths of the files downloaded since request number `since`."""
    return {r.path for r in hub_env.server.requests[since:]
            if r.method == "GET" and "/resolve/" in r.path and r.status == 200}


LAYOUTS = ("ours", "gpt2", "inside", "original", "rooted")


def hub_repo(tmp_path, layout, guid):
    """(name, repo=) of a model on the Hub as a fetch finds it, uploaded from
    tmp_path/<layout>: a repo id's root holding ours (report and loss curve beside it) or
    a GPT-2 whose tokens are in vocab.json + merges.txt; the GUID `guid` in the repo's
    <guid>/ folder, in the original's three files, or at the root whose report names it."""
    from little_baby.bpe import BPETokenizer
    from tests.test_gpt2_hub import SHAPE, TEXT, tiny_gpt2
    folder = tmp_path / layout
    if layout == "gpt2":
        bpe = BPETokenizer.train(TEXT, SHAPE["vocab_size"], special=["<|endoftext|>"])
        tiny_gpt2(folder, bpe, tokenizer_json=False)
    elif layout == "original":
        write_original(original_like()[0], folder, guid)
    else:
        baby = tiny_baby()[0]
        baby.guid = guid if layout != "ours" else None
        inside = folder / guid if layout == "inside" else folder
        baby.save(inside)
        (inside / "loss_curve.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(64))
    upload(folder, f"tester/{layout}")
    return (f"tester/{layout}", None) if layout in ("ours", "gpt2") else (guid, f"tester/{layout}")


def test_with_limits_every_file_is_sized_before_any_is_downloaded(hub_env, tmp_path,
                                                                 monkeypatch):
    """In every layout, each file a fetch downloads was sized from the Hub's metadata
    before the first download, at the commit it is then downloaded at."""
    sized, late, since = set(), [], [0]
    real = sources.hub_file_sizes

    def sizing(repo, paths, **kwargs):
        late.extend(paths if downloads(hub_env, since[0]) else [])
        found = real(repo, paths, **kwargs)
        sized.update(f"/{repo}/resolve/{found.commit}/{p}" for p in paths)
        return found
    monkeypatch.setattr(sources, "hub_file_sizes", sizing)
    for layout in LAYOUTS:
        name, repo = hub_repo(tmp_path, layout, new_guid())
        since[0] = len(hub_env.server.requests)
        folder, _, _ = locate(name, repo=repo, limits=ROOMY)
        got = downloads(hub_env, since[0])
        assert got and got <= sized and not late, (layout, sorted(got - sized), late)
        assert LittleBaby.load(folder).n_params > 0
    assert any(p.endswith("/merges.txt") for p in sized)
    assert any(p.endswith("/loss_curve.png") for p in got)  # the root's, beside its model


def assert_refused_over_limit(model, repo, path, name, size, where, done):
    """locate() with `name`'s limit one byte under the file's `size`: the one line that
    says which file, where, and what to do."""
    with pytest.raises(FileTooBigError) as e:
        locate(model, repo=repo, limits={**ROOMY, name: size - 1})
    assert str(e.value) == (
        f"{path} in {where} has {size:,} bytes, over the limit of {size - 1:,} for {name}, "
        f"so nothing was {done}: choose a smaller model, or raise limits[{name!r}].")


@pytest.mark.parametrize("layout, path, name", [
    ("ours", "model.safetensors", "model.safetensors"),
    ("ours", "loss_curve.png", "loss_curve.png"),
    ("gpt2", "merges.txt", "merges.txt"),
    ("original", "models/model_{guid}.json", "model.safetensors"),  # its weights
    ("inside", "{guid}/report.json", "report.json")])
def test_a_file_over_its_limit_is_refused_with_nothing_downloaded(hub_env, tmp_path, model_store,
                                                                 layout, path, name):
    """One line that says what to do, and nothing downloaded or converted; at the limit,
    it loads. The original's model file is under the weights' limit."""
    guid = new_guid()
    model, repo = hub_repo(tmp_path, layout, guid)
    path = path.format(guid=guid)
    size = (tmp_path / layout / path).stat().st_size
    assert_refused_over_limit(model, repo, path, name, size,
                              f"the Hub repo tester/{layout}", "downloaded")
    assert downloads(hub_env, 0) == set() and not list(hub_env.cache_dir.rglob("blobs/*"))
    assert not model_store.exists()  # nothing converted
    assert LittleBaby.load(locate(model, repo=repo, limits={**ROOMY, name: size})[0])


@pytest.mark.parametrize("layout, path, name", [
    ("original", "models/model_{guid}.json", "model.safetensors"),
    ("inside", "{guid}/model.safetensors", "model.safetensors"),
    ("inside", "{guid}/report.json", "report.json")])
def test_a_cached_file_over_its_limit_is_refused_before_it_is_read(hub_env, tmp_path,
                                                                   model_store, layout, path,
                                                                   name):
    """Files a fetch without limits left in the Hub cache are held to the limits of a
    later fetch too (the cache is looked at before the Hub)."""
    import shutil
    guid = new_guid()
    model, repo = hub_repo(tmp_path, layout, guid)
    path = path.format(guid=guid)
    size = (tmp_path / layout / path).stat().st_size
    locate(model, repo=repo)  # into the Hub cache (and, for the original's, the store)
    shutil.rmtree(model_store, ignore_errors=True)
    assert_refused_over_limit(model, repo, path, name, size,
                              f"the Hub cache of tester/{layout}", "read")
    assert not model_store.exists()  # nothing converted


def test_with_limits_the_download_is_pinned_to_the_commit_sized(hub_env, tmp_path, monkeypatch):
    """A repo that changes between the sizes and the download (a hostile owner pushing a
    huge weights file just then) still gives the sized commit's files."""
    tiny_baby(n_layers=1)[0].save(tmp_path / "small")
    tiny_baby(n_layers=3)[0].save(tmp_path / "big")
    repo = "tester/switch"
    checked = upload(tmp_path / "small", repo).oid
    real = sources.hub_file_sizes

    def then_a_push(repo_id, paths, **kwargs):
        found = real(repo_id, paths, **kwargs)
        if "model.safetensors" in paths:  # all sized: the owner pushes
            upload(tmp_path / "big", repo)
        return found
    monkeypatch.setattr(sources, "hub_file_sizes", then_a_push)
    folder, _, _ = locate(repo, limits=ROOMY)
    assert hub_env.server.repo(repo).head != checked  # it did change
    assert LittleBaby.load(folder).config.n_layers == 1  # the sized commit's model
    got = downloads(hub_env, 0)
    assert got and all(f"/resolve/{checked}/" in path for path in got), got


def test_limits_name_only_files_a_fetch_downloads(hub_env):
    with pytest.raises(ConfigError, match=r"^limits= names weights, which no fetch downloads: "
                                          r"give limits for config.json, "):
        locate("tester/anything", limits={"weights": 1, "report.json": 1})
    assert hub_env.server.requests == []


# ---- offline ---------------------------------------------------------------------------------
def test_offline_cached_models_load_and_the_rest_says_what_to_do(hub_env, trained, model_store):
    baby, x = trained
    repo_id = f"{hub_env.server.user}/baby-tiny"
    baby.push_to_hub(repo_id)
    LittleBaby.from_pretrained(repo_id)  # downloaded once, online
    LittleBaby.from_pretrained(baby.guid, repo=repo_id)

    hub_env.setenv("HF_HUB_OFFLINE", "1")
    hub_env.server.requests.clear()
    for again in (LittleBaby.from_pretrained(repo_id),
                  LittleBaby.from_pretrained(baby.guid, repo=repo_id)):
        np.testing.assert_array_equal(again.logits(x), baby.logits(x))
    missing = new_guid()
    with pytest.raises(NotCachedError, match=f"HF_HUB_OFFLINE.*hf download {repo_id} --include "
                                             f"'{missing}/.*at {model_store / missing}/"):
        LittleBaby.from_pretrained(missing, repo=repo_id)
    with pytest.raises(NotCachedError, match="not in the Hub cache.*hf download someone/else"):
        LittleBaby.from_pretrained("someone/else")
    with pytest.raises(HubError, match="HF_HUB_OFFLINE"):
        baby.push_to_hub(repo_id)
    assert hub_env.server.requests == []

    hub_env.setenv("HF_HUB_OFFLINE", None)  # per call, online
    with pytest.raises(NotCachedError, match="local_files_only=True"):
        LittleBaby.from_pretrained(missing, repo=repo_id, local_files_only=True)
    assert hub_env.server.requests == []


# ---- faults ----------------------------------------------------------------------------------
def test_auth_errors(hub_env, trained, tmp_path):
    baby, x = trained
    user, server = hub_env.server.user, hub_env.server
    hub_env.setenv("HF_TOKEN", None)  # no token at all
    with pytest.raises(HubError, match="401.*hf auth login.*local model is unchanged"):
        baby.push_to_hub(f"{user}/secret")
    with pytest.raises(HubError, match="401"):
        baby.push_to_hub(f"{user}/secret", token="hf_wrong")
    assert server.count("POST", "/commit/") == 0

    baby.push_to_hub(f"{user}/secret", token=server.token, private=True)
    with pytest.raises(ModelNotFoundError, match="private"):
        LittleBaby.from_pretrained(f"{user}/secret", **elsewhere(tmp_path, "anonymous"))
    again = LittleBaby.from_pretrained(f"{user}/secret", token=server.token,
                                       **elsewhere(tmp_path, "owner"))
    np.testing.assert_array_equal(again.logits(x), baby.logits(x))


def test_failed_upload_leaves_the_model_alone_and_a_retry_succeeds(hub_env, trained, tmp_path):
    baby, _ = trained
    server, repo_id = hub_env.server, f"{hub_env.server.user}/baby-tiny"
    folder = baby.save_pretrained(tmp_path / "mine")
    mine = LittleBaby.from_pretrained(folder)
    before = {f.name: (f.read_bytes(), f.stat().st_mtime_ns) for f in folder.iterdir()}

    server.fail_next("POST", r"/commit/", status=500)
    with pytest.raises(HubError, match="500.*local model is unchanged; push_to_hub again"):
        mine.push_to_hub(repo_id)
    assert set(server.repo(repo_id).files()) == {".gitattributes"}  # created, nothing committed

    with socket.socket() as s:  # a port nobody listens on: the network is down
        s.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{s.getsockname()[1]}"
    hub_env.setenv("HF_ENDPOINT", closed)
    with pytest.raises(HubError, match="could not be reached"):
        mine.push_to_hub(repo_id)
    hub_env.setenv("HF_ENDPOINT", server.endpoint)

    assert {f.name: (f.read_bytes(), f.stat().st_mtime_ns) for f in folder.iterdir()} == before
    commit = mine.push_to_hub(repo_id)
    files = server.repo(repo_id).files()
    assert commit.oid == server.repo(repo_id).head
    for name in ("config.json", "tokenizer.json", "report.json"):
        assert files[name] == before[name][0], name
    pushed, local = load(files["model.safetensors"]), load(before["model.safetensors"][0])
    assert pushed.keys() == local.keys() and all(np.array_equal(pushed[k], local[k]) for k in local)


def test_corrupt_download_names_the_weight_and_force_download_repairs_it(hub_env, trained):
    baby, x = trained
    repo_id = f"{hub_env.server.user}/baby-tiny"
    baby.push_to_hub(repo_id)
    weights = LittleBaby.from_pretrained(repo_id).source["folder"] / "model.safetensors"
    blob = weights.resolve()
    blob.write_bytes(blob.read_bytes()[:-100])  # a download cut short
    with pytest.raises(WeightsError, match=r"ends inside weight '[\w.]+'"):
        LittleBaby.from_pretrained(repo_id)
    again = LittleBaby.from_pretrained(repo_id, force_download=True)
    np.testing.assert_array_equal(again.logits(x), baby.logits(x))


# ---- model cards -----------------------------------------------------------------------------
REPORT = {
    "guid": None, "parent_guid": None, "lineage": [], "status": "complete",
    "corpus": {"path": "/data/sophocles.txt", "sha256": "ab" * 32, "n_chars": 12345,
               "n_train": 11000, "n_val": 1345},
    "settings": {"config": {"batch_size": 12, "r_learn": 0.001, "r_dropout": 0.1, "seed": 1337},
                 "plan": {"max_iters": 50, "total_steps": 50, "eval_interval": 25}},
    "losses": {"evals": [{"step": 0, "train": 1.95, "val": 1.96}, {"step": 25, "train": 1.5, "val": 1.6},
                         {"step": 50, "train": 1.23456, "val": 1.34567}], "epochs": []},
    "final": {"step": 50, "train_loss": 1.23456, "val_loss": 1.34567, "best_val_loss": 1.34567,
              "best_step": 50},
    "timings": {"tokens_per_s": 43210, "ms_per_step": 12.5, "train_seconds": 0.62, "tokens": 2400},
    "loss_curve": "loss_curve.png",
}


def test_model_card_numbers_come_from_the_report(tmp_path, model_store):
    parent, _, _ = tiny_baby()
    parent.guid = GUID
    parent.source = {"guid": GUID, "folder": None, "repo_id": "koureasstavros/TheLittleBaby"}
    child = parent  # finetuned: a new GUID, the old one its parent, the report of its run
    identity.identify(child, {**REPORT, **identity.for_training(parent)})
    assert child.parent_guid == GUID and child.report["lineage"] == [GUID]
    (model_store / child.guid).mkdir(parents=True)
    (model_store / child.guid / "loss_curve.png").write_bytes(b"\x89PNG fake")

    folder = child.save_pretrained(tmp_path / "card", metadata={"datasets": ["someone/sophocles"]})
    card = ModelCard.load(folder / "README.md")
    assert card.data.base_model == "koureasstavros/TheLittleBaby"
    assert card.data.datasets == ["someone/sophocles"]
    assert card.data.eval_results[0].metric_value == 1.3457
    assert (card.data.eval_results[0].dataset_name, card.data.eval_results[0].dataset_split) == (
        "sophocles.txt", "validation")
    for text in ("| final validation loss | 1.3457 |", "| training tokens / s | 43,210 |",
                 "| steps (random windows) | 50 |", "| batch size | 12 |", "| parameters | 1,943 |",
                 "![loss curve](loss_curve.png)", f"Finetuned from `{GUID}`", "| 25 | 1.5000 | 1.6000 |",
                 "`sophocles.txt`", "What this model writes"):
        assert text in card.text, text
    assert (folder / "loss_curve.png").read_bytes() == b"\x89PNG fake"
    assert "## Hardware" not in card.text and "weight decay" not in card.text  # not in the report

    fresh, _, _ = tiny_baby()  # no report: no training numbers, no model-index, no base model
    card = ModelCard.load(fresh.save_pretrained(tmp_path / "fresh") / "README.md")
    assert card.data.eval_results is None and card.data.base_model is None
    assert "## Training" not in card.text and "## Results" not in card.text
    assert "loss curve" not in card.text and "| parameters | 1,943 |" in card.text


def test_save_pretrained_then_from_pretrained_a_folder(tmp_path, monkeypatch):
    baby, x, _ = tiny_baby()
    folder = baby.save_pretrained(tmp_path / "my-model")
    assert {f.name for f in folder.iterdir()} == MODEL_FILES
    again = LittleBaby.from_pretrained(str(folder))
    np.testing.assert_array_equal(again.logits(x), baby.logits(x))
    assert again.source == {"guid": None, "folder": folder, "repo_id": None}
    monkeypatch.chdir(tmp_path)  # a relative folder is a folder, not a repo id
    np.testing.assert_array_equal(LittleBaby.from_pretrained("my-model").logits(x), baby.logits(x))


def test_the_command_line_fetches_what_the_store_lacks(hub_env, trained, tmp_path, model_store, capsys):
    from little_baby.cli import main
    baby, _ = trained
    repo_id = f"{hub_env.server.user}/baby-tiny"
    baby.push_to_hub(repo_id)
    assert main(["generate", repo_id, "--prompt", "ab", "--max-tokens", "5", "--seed", "1"]) == 0
    assert capsys.readouterr().out.startswith("ab")
    assert not list(hub_env.cache_dir.rglob("completion.json"))  # the Hub cache is left alone

    guid = new_guid()
    clone = write_original(original_like()[0], tmp_path / "clone", guid)
    assert main(["info", guid, "--repo", str(clone)]) == 0
    assert guid in capsys.readouterr().out
    assert main(["generate", guid, "--max-tokens", "3"]) == 0  # converted: now in the store
    assert (model_store / guid / "completion.json").is_file()
