"""The five age models ship with the package and load offline, by age and by GUID, from
any working directory, with the architecture of the original's table and the held-out
loss their cards state. tools/train_ages.py trains them as the BPE benchmark trains its
babies: one function starts a run or skips a complete one."""
import importlib.util
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from little_baby import BabyConfig, LittleBaby
from little_baby.io.store.ages import AGES, shipped_folder
from little_baby.io.store.model_folder import read_report
from little_baby.tools import train_ages
from little_baby.training.datasets import how_to_get
from little_baby.training.data import find_input, read_corpus
from little_baby.training.evaluate import heldout_loss
from tests.little_texts import TINY, english

# the original project's model card: every age has this shape, with its own context
TABLE = dict(c_sequence="pre", c_attention="mha", c_network="mlp", c_tokenizer="char",
             n_emb=128, head_size=128, n_heads=16, n_layers=16)
EVERY = 3  # of the held-out windows: spread over the whole text, quick enough for CI


def shipped(age):
    """The folder age `age` ships in; every one of the five must be there."""
    folder = shipped_folder(age.guid)
    assert folder is not None, (f"{age.name} does not ship: python -m little_baby.tools."
                                f"train_ages --ages {age.months}, then copy it into shipped/")
    return folder


@pytest.fixture
def offline_elsewhere(tmp_path, monkeypatch):
    """No network, an empty Hub cache and model store, and a working directory with no
    shipped/ of its own."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf_home"))
    monkeypatch.setenv("LITTLE_BABY_STORE", str(tmp_path / "empty-store"))
    monkeypatch.chdir(tmp_path)


@pytest.mark.parametrize("name", list(AGES))
def test_age_model_loads_offline_by_age_and_guid(name, offline_elsewhere):
    age = AGES[name]
    shipped(age)
    by_age = LittleBaby.from_pretrained(age.name)
    by_guid = LittleBaby.from_pretrained(age.guid)
    assert by_age.guid == by_guid.guid == age.guid
    for key, value in {**TABLE, "n_ctx": age.n_ctx}.items():
        assert getattr(by_age.config, key) == value, key
    for key, value in by_age.params.items():
        assert (value == by_guid.params[key]).all()


@pytest.mark.parametrize("name", list(AGES))
def test_age_model_heldout_loss_matches_its_card(name):
    age = AGES[name]
    folder = shipped(age)
    text = find_input("shakespeare.txt")
    if text is None:
        pytest.skip("shakespeare.txt not found: " + how_to_get("shakespeare"))
    baby = LittleBaby.load(folder)
    stated = json.loads((folder / "report.json").read_text())["heldout"]["loss"]
    assert f"{stated:.4f}" in (folder / "README.md").read_text()  # the card states it
    measured = heldout_loss(baby, read_corpus(text), every=EVERY)["loss"]
    assert abs(measured - stated) < 0.02


def test_older_babies_are_better():
    losses = [json.loads((shipped(a) / "report.json").read_text())["heldout"]["loss"]
              for a in sorted(AGES.values(), key=lambda a: a.months)]
    assert losses == sorted(losses, reverse=True)


def test_a_wheel_ships_the_age_models(tmp_path):
    root = shipped(AGES["age-48-months"]).resolve().parents[1]
    subprocess.run([sys.executable, "-m", "pip", "wheel", str(root), "--no-deps", "-q",
                    "-w", str(tmp_path)], check=True, capture_output=True)
    names = zipfile.ZipFile(next(tmp_path.glob("*.whl"))).namelist()
    for age in AGES.values():
        for part in ("config.json", "tokenizer.json", "model.safetensors", "README.md"):
            assert f"little_baby/shipped/{age.guid}/{part}" in names
    # installed (a wheel is unpacked as it is), its shipped models are read-only from anywhere
    site = tmp_path / "site"
    zipfile.ZipFile(next(tmp_path.glob("*.whl"))).extractall(site)
    shipped_copy = site / "little_baby" / "shipped"
    before = {p: p.read_bytes() for p in sorted(shipped_copy.rglob("*")) if p.is_file()}
    age = AGES["age-3-months"]
    attempt = (
        "from little_baby import LittleBaby\n"
        "from little_baby.io.store.catalog import delete_model\n"
        "from little_baby.io.store.places import SHIPPED\n"
        "import sys\n"
        f"assert str(SHIPPED).startswith({str(site)!r}), SHIPPED\n"
        "refused = 0\n"
        f"for act in (lambda: delete_model({age.guid!r}),\n"
        f"            lambda: delete_model({age.guid!r}, store=SHIPPED),\n"
        f"            lambda: LittleBaby.load({age.name!r}).save(SHIPPED / {age.guid!r})):\n"
        "    try:\n        act()\n    except PermissionError:\n        refused += 1\n"
        "print(refused)\n")
    env = {**os.environ, "PYTHONPATH": str(site)}
    r = subprocess.run([sys.executable, "-c", attempt], cwd=tmp_path, env=env,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and r.stdout.strip() == "3", r.stdout + r.stderr
    r = subprocess.run([sys.executable, "-m", "little_baby", "delete", age.guid, "--yes"],
                       cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "read-only" in r.stderr, r.stderr
    assert {p: p.read_bytes() for p in sorted(shipped_copy.rglob("*")) if p.is_file()} == before


def test_the_ages_and_the_bpe_benchmark_start_and_skip_runs_alike(tmp_path, monkeypatch, capsys):
    """train_ages.train_run trains an age model and bpe_vs_char.py's BPE baby (at a tiny
    shape, a few steps here); a complete run is skipped, its folder left as it was."""
    path = Path(__file__).resolve().parents[1] / "benchmarks" / "bpe_vs_char.py"
    spec = importlib.util.spec_from_file_location("bpe_vs_char", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    tiny = BabyConfig(**TINY, seed=train_ages.SEED)
    for module in (train_ages, bench):
        monkeypatch.setattr(module, "age_config", lambda age: tiny)
    monkeypatch.setitem(train_ages.TRAINING, 3, (4, 2e-3, 0.0))
    corpus = tmp_path / "text.txt"
    corpus.write_text(english(), encoding="utf-8")
    age = train_ages.train_age(3, corpus, tmp_path / "store", quiet=True)
    bpe = tmp_path / "bpe-260"
    bench.train_one(260, corpus, bpe, "cpu", 4)
    reports = [read_report(age), read_report(bpe)]
    assert reports[0]["guid"] == age.name == train_ages.BY_MONTHS[3].guid
    assert [r["final"]["step"] for r in reports] == [4, 4]
    assert [r["settings"]["plan"]["keep"] for r in reports] == ["last", "best"]
    assert LittleBaby.load(bpe).tokenizer.vocab_size == 260
    capsys.readouterr()
    train_ages.train_age(3, corpus, tmp_path / "store", quiet=True)
    bench.train_one(260, corpus, bpe, "cpu", 4)
    assert "complete, skipped" in capsys.readouterr().err
    assert [read_report(age), read_report(bpe)] == reports
