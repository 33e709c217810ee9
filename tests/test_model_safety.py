"""Nothing a user does loses a model: the shipped age models are read-only from every
entry point, a save killed at any instant leaves the old model or the new one, and a
spoiled model folder answers with one clear line, fast and in bounded memory."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from little_baby import LittleBaby
from little_baby.errors import BabyError, ShippedModelError
from little_baby.io.store import catalog
from little_baby.io.store import places
from little_baby.io.store.ages import AGES, shipped_folder
from little_baby.io.store.files import JOURNAL
from tests.gradcheck import tiny_baby

ROOT = Path(__file__).resolve().parent.parent
AGE3 = AGES["age-3-months"]


def snapshot(folder):
    return {p.name: p.read_bytes() for p in sorted(Path(folder).iterdir()) if p.is_file()}


def cli(*args, cwd=ROOT, env=None):
    return subprocess.run([sys.executable, "-m", "little_baby", *map(str, args)], cwd=cwd,
                          env=env or os.environ, capture_output=True, text=True, timeout=120)


# ---- the shipped models are read-only ---------------------------------------------------
@pytest.fixture(scope="module")
def shipped_before():
    return {age.guid: snapshot(shipped_folder(age.guid)) for age in AGES.values()}


def test_the_default_store_is_never_the_package(monkeypatch, tmp_path):
    monkeypatch.delenv(places.STORE_ENV, raising=False)
    monkeypatch.delenv(places.OLD_STORE_ENV, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert places.store_dir() == tmp_path / "xdg" / "little_baby" / "models"
    monkeypatch.setenv("XDG_CACHE_HOME", "")
    assert places.store_dir() == Path.home() / ".cache" / "little_baby" / "models"
    for store in (places.SHIPPED, places.SHIPPED.resolve(), ROOT / "shipped",
                  places.SHIPPED / AGE3.guid):
        with pytest.raises(ShippedModelError, match="read-only"):
            places.store_dir(store)


def test_no_api_deletes_or_writes_a_shipped_model(shipped_before, tmp_path):
    for age in AGES.values():
        with pytest.raises(ShippedModelError):
            catalog.delete_model(age.guid)  # the default store, as the README's snippet
        with pytest.raises(ShippedModelError):
            catalog.delete_model(age.guid, store=ROOT / "shipped")  # the checkout's folder
    baby = LittleBaby.load(AGE3.name)
    for folder in (shipped_folder(AGE3.guid), ROOT / "shipped" / AGE3.guid, places.SHIPPED / AGE3.guid):
        with pytest.raises(ShippedModelError):
            baby.save(folder)
        with pytest.raises(ShippedModelError):
            baby.fit("ROMEO: what light through yonder window breaks " * 20, max_iters=1,
                     out=folder, quiet=True)
    assert {g: snapshot(shipped_folder(g)) for g in shipped_before} == shipped_before


def test_no_command_deletes_or_trains_into_a_shipped_model(shipped_before, tmp_path):
    env = {k: v for k, v in os.environ.items()
           if k not in (places.STORE_ENV, places.OLD_STORE_ENV)}
    corpus = tmp_path / "text.txt"
    corpus.write_text("ROMEO: what light through yonder window breaks?\n" * 40)
    for cwd in (ROOT, tmp_path):  # from the checkout and from elsewhere
        r = cli("delete", AGE3.guid, "--yes", cwd=cwd, env=env)
        assert r.returncode == 2 and "read-only" in r.stderr and len(r.stderr.splitlines()) == 1, r.stderr
        r = cli("delete", AGE3.guid, "--yes", "--store", ROOT / "shipped", cwd=cwd, env=env)
        assert r.returncode == 2 and "read-only" in r.stderr, r.stderr
    r = cli("finetune", AGE3.name, "--corpus", corpus, "--out", places.SHIPPED / AGE3.guid,
            "--max-iters", 1, env=env)
    assert r.returncode == 2 and "read-only" in r.stderr and "Traceback" not in r.stderr, r.stderr
    assert {g: snapshot(shipped_folder(g)) for g in shipped_before} == shipped_before


def test_list_shows_the_shipped_models_and_the_measured_loss(tmp_path):
    r = cli("list", "--store", tmp_path / "empty")
    assert r.returncode == 0, r.stderr
    for age in AGES.values():
        line = next(l for l in r.stdout.splitlines() if l.startswith(age.guid))
        heldout = json.loads((shipped_folder(age.guid) / "report.json").read_text())["heldout"]
        assert "shipped" in line and f"{heldout['loss']:.4f}" in line, line
    info = cli("info", AGES["age-48-months"].name)
    heldout = json.loads((shipped_folder(AGES["age-48-months"].guid) / "report.json")
                         .read_text())["heldout"]
    assert f"{heldout['loss']:.4f}" in info.stdout and "shipped" in info.stdout, info.stdout


# ---- a save killed at any instant --------------------------------------------------------
KILL_SAVE = """
import os, sys
from pathlib import Path
from tests.gradcheck import tiny_baby
baby, _, _ = tiny_baby(n_layers=int(sys.argv[2]))
count, limit, real = [0], int(sys.argv[3]), os.replace
def replace(*a, **k):
    if count[0] == limit:
        os._exit(9)  # a kill: nothing after this runs, no finally, no cleanup
    count[0] += 1
    real(*a, **k)
    if count[0] == 5 == limit:  # after the last rename, before the journal goes
        os._exit(9)
os.replace = replace
baby.save(Path(sys.argv[1]))
"""


@pytest.mark.parametrize("kill_at", range(6))  # before the journal's rename, after each rename
def test_a_save_killed_at_any_rename_leaves_the_old_model_or_the_new(tmp_path, kill_at):
    folder = tmp_path / "model"
    old, _, _ = tiny_baby(n_layers=1)
    old.save(folder)
    before = snapshot(folder)
    r = subprocess.run([sys.executable, "-c", KILL_SAVE, str(folder), "2", str(kill_at)], cwd=ROOT,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 9, r.stderr
    new, _, _ = tiny_baby(n_layers=2)
    loaded = LittleBaby.load(folder)  # never a mix: one or the other, whole
    want = old if kill_at == 0 else new  # the commit is decided once its journal is on disk
    assert loaded.config == want.config
    assert all(np.array_equal(loaded.params[k], want.params[k]) for k in want.params)
    if kill_at == 0:
        assert (folder / JOURNAL).exists() is False
        assert {n: b for n, b in snapshot(folder).items() if not n.startswith(".")} == before
    listed = catalog.list_models(tmp_path)
    assert [m["guid"] for m in listed] == []  # "model" is no GUID: leftovers never list
    loaded.save(folder)  # the next write finishes the commit and clears what the kill left
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        ["config.json", "tokenizer.json", "model.safetensors", "report.json"])
    assert LittleBaby.load(folder).config == want.config


def test_a_live_writers_temporary_file_is_left_alone(tmp_path):
    import fcntl
    folder = tmp_path / "model"
    baby, _, _ = tiny_baby()
    baby.save(folder)
    live = folder / ".checkpoint.safetensors.abc_1234.tmp"  # mkstemp names: 8 characters
    dead = folder / ".config.json.def_5678.tmp"
    users = folder / ".notes.tmp"  # not a name of ours: never touched
    live.write_bytes(b"being written")
    dead.write_bytes(b"left by a kill")
    users.write_bytes(b"the user's")
    with open(live, "rb") as f:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX)
        baby.save(folder)
        assert live.exists() and not dead.exists() and users.exists()


# ---- spoiled folders ----------------------------------------------------------------------
def _config(key, value):
    def spoil(d):
        c = json.loads((d / "config.json").read_text())
        c[key] = value
        (d / "config.json").write_text(json.dumps(c))
    return spoil


def _tokenizer(change):
    def spoil(d):
        t = json.loads((d / "tokenizer.json").read_text())
        change(t)
        (d / "tokenizer.json").write_text(json.dumps(t))
    return spoil


def _replace_report(make):
    def spoil(d):
        (d / "report.json").unlink()
        make(d / "report.json")
    return spoil


def _bfloat16(d):
    raw = (d / "model.safetensors").read_bytes()
    n = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8:8 + n])
    for key, entry in header.items():
        if key != "__metadata__":
            entry["dtype"] = "BF16"  # two bytes, as float16: only the type is wrong
    text = json.dumps(header).encode()
    (d / "model.safetensors").write_bytes(len(text).to_bytes(8, "little") + text + raw[8 + n:])


SPOILS = {  # what is spoiled: (how, a word the one-line answer must hold)
    "r_temp a string": (_config("r_temp", "1.0"), "r_temp"),
    "r_dropout a string": (_config("r_dropout", "0.1"), "r_dropout"),
    "c_attention a list": (_config("c_attention", ["mha"]), "c_attention"),
    "config not UTF-8": (lambda d: (d / "config.json").write_bytes(b'{"n_ctx": "\xff"}'), "UTF-8"),
    "JSON nested 100,000 deep": (lambda d: (d / "config.json").write_text("[" * 100_000 + "]" * 100_000),
                                 "nested"),
    "a 5,000-digit number": (lambda d: (d / "config.json").write_text('{"n_layers": ' + "9" * 5000 + "}"),
                             "digits"),
    "10^6 layers": (_config("n_layers", 10 ** 6), "promise"),
    "a huge n_ctx": (_config("n_ctx", 10 ** 12), "wpe.weight"),
    "bfloat16 weights": (_bfloat16, "BF16"),
    "symbols not strings": (_tokenizer(lambda t: t["symbols"].__setitem__(3, 5)), "symbol 3"),
    "a million symbols": (_tokenizer(lambda t: t.__setitem__("symbols", [chr(0x4E00 + i % 20000) + str(i) for i in range(10 ** 6)])),
                          "symbols"),
    "report a FIFO": (_replace_report(os.mkfifo), "regular file"),
    "report links to /dev/zero": (_replace_report(lambda p: os.symlink("/dev/zero", p)), "regular file"),
    "report field of a wrong type": (lambda d: (d / "report.json").write_text('{"final": {"step": "x"}}'),
                                     "final"),
    "weights truncated": (lambda d: (d / "model.safetensors").write_bytes(
        (d / "model.safetensors").read_bytes()[:-1000]), "truncated"),
    "a foreign journal": (lambda d: (d / JOURNAL).write_text('{"renames": [["../x", "config.json"]]}'),
                          "journal"),
}

PROBE = """
import sys
from little_baby import LittleBaby
from little_baby.errors import BabyError
try:
    LittleBaby.load(sys.argv[1])
    print("loaded")
except BabyError as e:
    print(type(e).__name__, e)
peak = next(l for l in open("/proc/self/status") if l.startswith("VmHWM:"))
print(int(peak.split()[1]) // 1024)  # this process's own peak (ru_maxrss can carry the parent's)
"""


@pytest.fixture(scope="module")
def spoiled_store(tmp_path_factory):
    """A store holding one good model and one spoiled copy of it per class of SPOILS."""
    store = tmp_path_factory.mktemp("spoiled") / "store"
    good = shipped_folder(AGE3.guid)
    shutil.copytree(good, store / AGE3.guid)
    folders = {}
    for i, (what, (spoil, _)) in enumerate(SPOILS.items()):
        folder = store / f"00000000-0000-4000-8000-{i:012d}"
        shutil.copytree(good, folder)
        spoil(folder)
        folders[what] = folder
    return store, folders


@pytest.mark.parametrize("what", list(SPOILS))
def test_a_spoiled_folder_gets_one_clear_line(spoiled_store, what):
    store, folders = spoiled_store
    folder, word = folders[what], SPOILS[what][1]
    r = subprocess.run([sys.executable, "-c", PROBE, folder], cwd=ROOT, capture_output=True,
                       text=True, timeout=30)  # a hang fails here
    *message, peak_mib = r.stdout.strip().splitlines()
    assert r.returncode == 0 and r.stderr == "" and len(message) == 1, r.stdout + r.stderr
    assert word in message[0] and message[0] != "loaded", message
    baseline = 400  # MiB: Python with numpy, safetensors and huggingface_hub imported
    assert int(peak_mib) < baseline, f"{what}: peak {peak_mib} MiB"
    r = cli("info", folder)
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr


def test_list_shows_spoiled_models_and_lists_the_rest(spoiled_store):
    store, folders = spoiled_store
    r = cli("list", "--store", store)
    assert r.returncode == 0, r.stderr
    assert AGE3.guid in r.stdout
    for what, folder in folders.items():
        line = next(l for l in r.stdout.splitlines() if l.startswith(folder.name))
        assert "spoiled" in line, (what, line)
    listed = catalog.list_models(store)
    assert sum(m["spoiled"] is None for m in listed) == 1
    assert all(isinstance(m["spoiled"], str) for m in listed if m["guid"] != AGE3.guid)


def test_spoiled_files_raise_library_errors_in_python(spoiled_store):
    _, folders = spoiled_store
    for what, folder in folders.items():
        with pytest.raises(BabyError):
            LittleBaby.load(folder)


# ---- a checkpoint the disk cannot hold ------------------------------------------------------
def test_a_checkpoint_without_disk_space_fails_the_run_and_keeps_the_last_good(tmp_path, monkeypatch):
    import errno

    from little_baby.errors import TrainingError
    from little_baby.io.store import checkpoint
    from little_baby.io.store.checkpoint import load_checkpoint
    from little_baby.training import run
    baby, _, _ = tiny_baby()
    calls, real = [0], checkpoint.save_checkpoint

    def full_disk(*args, **kwargs):
        calls[0] += 1
        if calls[0] == 3:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(*args, **kwargs)

    monkeypatch.setattr(run, "save_checkpoint", full_disk)
    text = "to be or not to be, that is the question. " * 60
    with pytest.raises(TrainingError, match="No space left") as e:
        baby.fit(text, max_iters=6, eval_interval=2, checkpoint_interval=2, out=tmp_path / "m",
                 quiet=True)
    assert "last good checkpoint (step 2)" in str(e.value) and "resume" in str(e.value)
    report = json.loads((tmp_path / "m" / "report.json").read_text())
    assert report["status"].startswith("failed at step 4") and "No space left" in report["status"]
    _, counters, _ = load_checkpoint(tmp_path / "m")
    assert counters["step"] == 2  # the last good checkpoint, whole
    assert LittleBaby.load(tmp_path / "m").n_params == baby.n_params  # the model still loads
    r = cli("info", tmp_path / "m")
    assert "failed at step 4" in r.stdout and "--resume" in r.stdout, r.stdout + r.stderr


WRITER = """
import sys, time
from pathlib import Path
from tests.gradcheck import tiny_baby
a, _, _ = tiny_baby(r_temp=0.5)
b, _, _ = tiny_baby(r_temp=2.0)
for v in b.params.values():
    v += 1.0  # the same shapes, other weights: a mix would load without a word
for i in range(int(sys.argv[2])):
    (a if i % 2 else b).save(Path(sys.argv[1]))
    time.sleep(0.005)
"""


def test_a_load_during_saves_is_one_model_never_a_mix(tmp_path):
    folder = tmp_path / "model"
    a, _, _ = tiny_baby(r_temp=0.5)
    a.save(folder)
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(folder), "200"], cwd=ROOT)
    try:
        seen = set()
        while writer.poll() is None:
            baby = LittleBaby.load(folder)
            shifted = float(np.asarray(baby.params["ln_f.weight"]).mean()) > 1.5
            assert (baby.config.r_temp, shifted) in {(0.5, False), (2.0, True)}
            seen.add(baby.config.r_temp)
    finally:
        writer.wait(timeout=120)
    assert writer.returncode == 0
    assert seen  # it read while the writer wrote


def test_a_model_saved_for_the_gpu_loads_on_a_machine_without_one(tmp_path):
    baby, _, _ = tiny_baby()
    baby.save(tmp_path / "m")
    config = json.loads((tmp_path / "m" / "config.json").read_text())
    (tmp_path / "m" / "config.json").write_text(json.dumps({**config, "c_device": "gpu"}))
    with pytest.warns(UserWarning, match="loads on the CPU"):
        loaded = LittleBaby.load(tmp_path / "m")
    assert loaded.config.c_device == "cpu" and loaded.generate("ab", 5, seed=1)
    with pytest.raises(BabyError, match="CuPy"):
        LittleBaby.load(tmp_path / "m", c_device="gpu")  # asked for: refused, saying why


def test_a_killed_conversions_half_made_folder_is_removed_by_the_next(tmp_path):
    import fcntl

    from little_baby.io.store.files import atomic_folder
    dead = tmp_path / ".model.dead1234.tmp"   # mkdtemp's names: 8 random characters
    live = tmp_path / ".model.live5678.tmp"
    other = tmp_path / ".notes.tmp"           # not a name of ours
    for d in (dead, live, other):
        d.mkdir()
        (d / "config.json").write_text("{}")
    fd = os.open(live, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        with atomic_folder(tmp_path / "model") as tmp:
            (tmp / "x").write_text("whole")
        assert not dead.exists() and live.exists() and other.exists()
        assert (tmp_path / "model" / "x").read_text() == "whole"
        assert [m["guid"] for m in catalog.list_models(tmp_path)] == []
    finally:
        os.close(fd)
