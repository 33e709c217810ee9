"""One reading of a model's name (little_baby/io/store/resolve.py) in every entry point: the
command line, LittleBaby.from_pretrained, LittleBaby.load, LittleBaby.resume and
find_model; the age models shipped in the package; and a Hub that cannot be reached,
which fails in a few seconds with one clean message."""
import contextlib
import io
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from huggingface_hub import HfApi

from little_baby import LittleBaby
from little_baby.cli import main
from little_baby.cli.commands.common import find_or_fetch
from little_baby.errors import (CacheError, ModelFolderError, ModelNotFoundError,
                                NotCachedError, TrainingError)
from little_baby.io.store import ages, places
from little_baby.io.hub import sources
from little_baby.io.store.ages import AGES
from little_baby.io.hub.fetch import REPO_ENV
from little_baby.io.store.resolve import find_model, parse
from tests.gradcheck import tiny_baby

ROOT = Path(__file__).resolve().parent.parent
AGE = AGES["age-6-months"]
# two GUIDs that share their first 4 characters, and one that shares nothing with them
TWINS = ("abcd1234-0000-4000-8000-000000000001", "abcd5678-0000-4000-8000-000000000002")
LONER = "b71f2c3e-1111-4111-8111-111111111111"


def save_model(folder, guid, seed=0, **report):
    """A tiny finished model with `guid` in `folder`; returns it."""
    baby, _, _ = tiny_baby(seed=seed)
    baby.guid = guid
    baby.report = {"status": "complete", **report}
    baby.save(folder)
    return baby


@pytest.fixture
def store(tmp_path, monkeypatch):
    """A model store holding LONER, the TWINS and the age AGE; no shipped models, no
    default repo, and this test's own working directory."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(places, "SHIPPED", tmp_path / "no-shipped-models")
    monkeypatch.delenv(REPO_ENV, raising=False)
    store = tmp_path / "store"
    for i, guid in enumerate((LONER, *TWINS, AGE.guid)):
        save_model(store / guid, guid, seed=i)
    (tmp_path / "folder-model").mkdir()
    save_model(tmp_path / "folder-model", None, seed=9)
    return store


# every entry point, as a function of (name, store) that returns the model's folder
def by_from_pretrained(name, store):
    return Path(LittleBaby.from_pretrained(name, store=store, local_files_only=True)
                .source["folder"])


def by_load(name, store):
    """load gives a model, not a folder: the folder whose model has the same weights."""
    flat = LittleBaby.load(name, store=store).flat
    candidates = [*store.iterdir(), Path("folder-model").resolve()]
    return next(f for f in candidates if np.array_equal(LittleBaby.load(f).flat, flat))


def by_resume(name, store):
    """resume finds the folder, then refuses a complete run: the message names it."""
    with pytest.raises(TrainingError, match="complete: nothing to resume") as e:
        LittleBaby.resume(name, store=store)
    return Path(str(e.value).split("the run in ")[1].split(" is complete")[0])


def by_cli_helper(name, store):
    return Path(find_or_fetch(name, store))


def by_cli_info(name, store):
    """The command itself: `little-baby info NAME --json` prints the folder."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["info", str(name), "--json", "--store", str(store)])
    if code != 0:  # the one line the command printed, as the error it reports
        assert code == 2 and out.getvalue() == "" and err.getvalue().count("\n") == 1
        raise CommandError(err.getvalue())
    return Path(json.loads(out.getvalue())["folder"])


class CommandError(Exception):
    """What `little-baby` printed on stderr when it exited 2."""


ENTRY_POINTS = [find_model, by_from_pretrained, by_load, by_resume, by_cli_helper, by_cli_info]

NAMES = [  # (name, folder it must find, relative to tmp_path)
    (LONER, f"store/{LONER}"),
    (LONER.upper(), f"store/{LONER}"),
    ("b71f", f"store/{LONER}"),
    ("B71F", f"store/{LONER}"),
    ("B71f2C3E-11", f"store/{LONER}"),
    ("abcd1", f"store/{TWINS[0]}"),
    ("age-6-months", f"store/{AGE.guid}"),
    ("Age-6-Months", f"store/{AGE.guid}"),
    (AGE.guid[:6].upper(), f"store/{AGE.guid}"),  # an age's GUID start, in the store
    ("folder-model", "folder-model"),
    ("./folder-model", "folder-model"),
    (f"store/{LONER}", f"store/{LONER}"),
    ("PATH", "folder-model"),  # a Path object
]


@pytest.mark.parametrize("entry", ENTRY_POINTS, ids=lambda f: f.__name__)
@pytest.mark.parametrize("name, where", NAMES, ids=[n for n, _ in NAMES])
def test_every_name_form_finds_the_same_folder_in_every_entry_point(store, tmp_path, entry, name,
                                                                    where):
    name = Path("folder-model") if name == "PATH" else name
    found = entry(name, store)
    assert (tmp_path / found if not found.is_absolute() else found).resolve() == \
        (tmp_path / where).resolve()


BAD_NAMES = [  # (name, error class, what the message must say)
    ("age-48-month", ModelNotFoundError, "Did you mean age-48-months?"),
    ("age-6-month", ModelNotFoundError, "Did you mean age-6-months?"),
    ("48-months", ModelNotFoundError, "Did you mean age-48-months?"),
    ("abcd", ModelNotFoundError, "is the start of 2 GUIDs: " + ", ".join(TWINS)),
    ("ABCD", ModelNotFoundError, "is the start of 2 GUIDs"),
    ("b71", ModelNotFoundError, "at least 4 characters"),
    ("ffff", ModelNotFoundError, "has a GUID that starts with 'ffff'"),
    ("a/b/c", ModelNotFoundError, "not a model folder, a GUID, an age"),
    ("./missing", ModelNotFoundError, "There is no folder './missing'"),
    ("not a name", ModelNotFoundError, "or a Hub repo id (owner/name)"),
    ("store", ModelFolderError, "'store' is a folder but not a model folder"),
]


@pytest.mark.parametrize("entry", ENTRY_POINTS, ids=lambda f: f.__name__)
@pytest.mark.parametrize("name, error, message", BAD_NAMES, ids=[n for n, *_ in BAD_NAMES])
def test_bad_names_are_one_clear_error_everywhere(store, entry, name, error, message):
    before = sorted(p.name for p in store.iterdir())
    with pytest.raises(CommandError if entry is by_cli_info else error) as e:
        entry(name, store)
    assert message in str(e.value) and "hf download" not in str(e.value)
    assert sorted(p.name for p in store.iterdir()) == before


def test_a_prefix_never_becomes_a_repo_id_and_a_repo_id_is_owner_slash_name(store):
    assert [parse(n, store).guid for n in ("b71f", "B71F", LONER.upper())] == [LONER] * 3
    assert parse("someone/baby", store).repo_id == "someone/baby"
    with pytest.raises(ModelNotFoundError, match="is a Hub repo id, not a model on this machine"):
        LittleBaby.load("someone/baby", store=store)  # load never goes to the Hub
    with pytest.raises(NotCachedError, match="the Hub repo 'someone/baby' is not in the Hub cache"):
        LittleBaby.from_pretrained("someone/baby", store=store, local_files_only=True)
    with pytest.raises(CacheError):  # StoreError's older name, which code may still catch
        find_model("ffff", store)


def test_a_guid_start_can_be_refused_instead_of_completed_from_the_store(store):
    """Who must not learn the store's GUIDs (a Space's visitor) gets no completion: a
    start of one is refused whole, without naming any GUID; whole GUIDs and ages still
    parse."""
    for start in ("b71f", "B71F-1111", "b"):
        with pytest.raises(ModelNotFoundError) as e:
            parse(start, store, complete_guid_starts=False)
        assert str(e.value) == (f"{start!r} is only the start of a GUID: give the whole GUID "
                                f"(36 characters).")
    assert parse(LONER.upper(), store, complete_guid_starts=False).guid == LONER
    assert parse(AGE.name, store, complete_guid_starts=False).guid == AGE.guid
    assert parse("b71f", store).guid == LONER  # completed by default


def test_delete_takes_a_guid_or_its_start_in_any_case(store, tmp_path, capsys):
    assert main(["delete", "B71F", "--yes", "--store", str(store)]) == 0
    assert not (store / LONER).exists() and f"deleted {LONER}" in capsys.readouterr().out
    for name, message in [("folder-model", "not a model GUID"), ("ABCD", "start of 2 GUIDs"),
                          ("age-6-months", "not a model GUID")]:
        assert main(["delete", name, "--yes", "--store", str(store)]) == 2
        assert message in capsys.readouterr().err
    assert (tmp_path / "folder-model").is_dir() and (store / AGE.guid).is_dir()


# ---- the age models shipped in the package --------------------------------------------------
@pytest.fixture
def shipped(tmp_path, monkeypatch):
    """A package whose shipped folder holds a finished, evaluated AGE model, and an
    empty store."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(REPO_ENV, raising=False)
    folder = tmp_path / "shipped"
    baby = save_model(folder / AGE.guid, AGE.guid, seed=3, heldout={"loss": 1.5, "windows": 10})
    monkeypatch.setattr(places, "SHIPPED", folder)
    return baby, folder / AGE.guid, tmp_path / "empty-store"


@pytest.mark.parametrize("name", ["age-6-months", AGE.guid, AGE.guid[:8].upper()])
def test_a_shipped_age_model_loads_with_no_store_and_no_network(shipped, name, monkeypatch):
    baby, folder, store = shipped

    def no_hub(*args, **kwargs):
        raise AssertionError("the Hub (or its cache) was asked")
    monkeypatch.setattr(sources, "hub_reachable", no_hub)
    monkeypatch.setattr(sources.HubCache, "get", no_hub)
    x = np.array([[1, 2, 3, 4]])
    for entry in (find_model, by_cli_helper):
        assert entry(name, store) == folder
    loaded = LittleBaby.from_pretrained(name, store=store)
    assert loaded.source == {"guid": AGE.guid, "folder": folder, "repo_id": None}
    np.testing.assert_array_equal(loaded.logits(x), baby.logits(x))
    np.testing.assert_array_equal(LittleBaby.load(name, store=store).logits(x), baby.logits(x))


def test_the_store_comes_before_the_shipped_model_and_an_unfinished_one_is_not_shipped(shipped):
    _, folder, store = shipped
    mine = save_model(store / AGE.guid, AGE.guid, seed=8)
    assert find_model("age-6-months", store) == store / AGE.guid
    np.testing.assert_array_equal(LittleBaby.load("age-6-months", store=store).flat, mine.flat)
    report = json.loads((folder / "report.json").read_text())
    (folder / "report.json").write_text(json.dumps({**report, "status": "running"}))
    assert ages.shipped_folder(AGE.guid) is None
    with pytest.raises(ModelNotFoundError, match="not on this machine"):
        find_model("age-6-months", store.parent / "other-store")


def test_order_store_then_shipped_then_hub(hub_env, shipped, monkeypatch):
    """A shipped model is used before the Hub is asked; without it, the Hub is."""
    baby, folder, store = shipped
    repo_id = f"{hub_env.server.user}/collection"
    on_hub = save_model(store.parent / "up", AGE.guid, seed=5)
    HfApi().create_repo(repo_id)
    HfApi().upload_folder(repo_id=repo_id, folder_path=store.parent / "up", path_in_repo=AGE.guid)
    monkeypatch.setenv(REPO_ENV, repo_id)
    hub_env.server.requests.clear()
    assert LittleBaby.from_pretrained("age-6-months", store=store).source["folder"] == folder
    assert hub_env.server.requests == []
    monkeypatch.setattr(places, "SHIPPED", store.parent / "nothing")
    fetched = LittleBaby.from_pretrained("age-6-months", store=store)
    assert fetched.source["repo_id"] == repo_id
    np.testing.assert_array_equal(fetched.flat, on_hub.flat)
    assert hub_env.server.requests


# ---- no network --------------------------------------------------------------------------
def closed_port_endpoint():
    with socket.socket() as s:  # a port nobody listens on: the network is down
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"


def run_offline(tmp_path, *args):
    """(exit code, stdout, stderr, seconds) of a fresh Python with a Hub that refuses
    every connection, HF_HUB_OFFLINE unset, and nothing in any cache."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "LITTLE_BABY_"))}
    env.update(HF_ENDPOINT=closed_port_endpoint(), HF_HOME=str(tmp_path / "hf"),
               LITTLE_BABY_STORE=str(tmp_path / "store"), NO_PROXY="127.0.0.1", no_proxy="127.0.0.1")
    start = time.perf_counter()
    r = subprocess.run([sys.executable, *args], cwd=tmp_path, env=env, capture_output=True,
                       text=True, timeout=120)
    return r.returncode, r.stdout, r.stderr, time.perf_counter() - start


def test_no_network_fails_fast_with_only_the_clean_message(tmp_path):
    code, out, err, seconds = run_offline(tmp_path, "-c", (
        "from pathlib import Path\nfrom little_baby import LittleBaby\nimport little_baby.io.store.places\n"
        f"little_baby.io.store.places.SHIPPED = Path({str(tmp_path / 'nothing-ships')!r})\n"
        "try:\n    LittleBaby.from_pretrained('age-48-months')\n"
        "except Exception as e:\n    print(type(e).__name__, e)"))
    assert code == 0 and err == "", err  # not one line of the client's retries
    assert seconds < 5, f"{seconds:.1f} s"  # the client alone retries for about 24 s
    assert out.startswith("NotCachedError model age-48-months (GUID "
                          "12b8b053-6c14-42aa-a957-89b809e6f785)") and "cannot be reached" in out


def test_no_network_on_the_command_line_is_one_line_and_exit_2(tmp_path):
    code, out, err, seconds = run_offline(tmp_path, "-m", "little_baby", "generate",
                                          "someone/baby", "--prompt", "ROMEO:")
    assert (code, out) == (2, "") and seconds < 5
    assert err.count("\n") == 1 and "the Hub cannot be reached" in err, err
