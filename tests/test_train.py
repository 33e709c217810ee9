"""Training through the library: both plans, the model folder and its report, finetuning
with new characters, divergence, Ctrl-C and resume, the model store, and bad input."""
import json
import signal
import sys
import uuid

import numpy as np
import pytest

from little_baby import BabyConfig, CharTokenizer, LittleBaby
from little_baby.errors import StoreError
from little_baby.io.store.catalog import delete_model, list_models
from little_baby.io.store.identity import model_dir
from little_baby.io.store.resolve import find_model
from little_baby.io.store.checkpoint import CHECKPOINT, load_checkpoint
from little_baby.errors import CorpusError
from little_baby.training.datasets import how_to_get
from little_baby.training.data import TrainingData, find_input, read_corpus
from little_baby.errors import TrainingDiverged, TrainingError, TrainingInterrupted
from tests.little_texts import GREEK, TINY, english


def snapshot(folder):
    """Every file under `folder` with its bytes: to show that nothing changed."""
    return {p: p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def fresh_baby(text, **changes):
    return LittleBaby(BabyConfig(**{**TINY, **changes}), CharTokenizer.from_text(text))


def test_epochs_write_a_complete_model_folder(tmp_path):
    baby = LittleBaby.train_new({**TINY, "n_epochs": 2}, english(), store=tmp_path, quiet=True)
    assert uuid.UUID(baby.guid).version == 4
    folder = tmp_path / baby.guid
    assert sorted(p.name for p in folder.iterdir()) == [
        "config.json", "loss_curve.png", "model.safetensors", "report.json", "tokenizer.json"]
    r = json.loads((folder / "report.json").read_text())
    assert r["status"] == "complete" and r["parent_guid"] is None and r["guid"] == baby.guid
    plan, evals = r["settings"]["plan"], r["losses"]["evals"]
    assert plan["n_epochs"] == 2 and plan["max_iters"] is None
    assert [e["epoch"] for e in r["losses"]["epochs"]] == [1, 2]
    assert evals[0]["step"] == 0 and evals[-1]["step"] == r["final"]["step"] == plan["total_steps"]
    assert evals[-1]["val"] < evals[0]["val"] - 0.3, "the model did not learn"
    assert r["n_params"] == baby.n_params and r["timings"]["tokens_per_s"] > 0
    assert r["hardware"]["device"] == "cpu" and r["corpus"]["n_chars"] == len(english())
    assert r["loss_curve"] == "loss_curve.png"
    assert (folder / "loss_curve.png").stat().st_size < 100_000
    again = LittleBaby.load(folder)
    np.testing.assert_array_equal(again.logits([[1, 2, 3]]), baby.logits([[1, 2, 3]]))


def test_max_iters_walks_random_windows_and_evaluates_every_interval(tmp_path):
    report = fresh_baby(english()).fit(english(), max_iters=30, eval_interval=10, store=tmp_path,
                                       quiet=True)
    assert [e["step"] for e in report["losses"]["evals"]] == [0, 10, 20, 30]
    assert report["losses"]["epochs"] == [] and report["settings"]["plan"]["total_steps"] == 30


def test_batches_depend_only_on_seed_and_step():
    ids = np.arange(1001)
    data = TrainingData(ids, 900, n_ctx=8, batch_size=4, shuffle=True, seed=3)
    starts = np.concatenate([data.epoch_batch(k)[0][:, 0] for k in range(data.steps_per_epoch)])
    assert len(set(starts)) == len(starts) == data.steps_per_epoch * 4  # no window twice
    assert all(s % 8 == 0 for s in starts) and not np.array_equal(starts, np.sort(starts))
    x, y = data.epoch_batch(5)
    np.testing.assert_array_equal(y[:, :-1], x[:, 1:])  # targets are the next tokens
    twin = TrainingData(ids, 900, 8, 4, True, seed=3)
    np.testing.assert_array_equal(twin.epoch_batch(7)[0], data.epoch_batch(7)[0])
    np.testing.assert_array_equal(twin.random_batch(7)[0], data.random_batch(7)[0])
    other = TrainingData(ids, 900, 8, 4, True, seed=4)
    assert not np.array_equal(other.epoch_batch(7)[0], data.epoch_batch(7)[0])
    in_order = TrainingData(ids, 900, 8, 4, False, seed=3)
    np.testing.assert_array_equal(in_order.epoch_batch(0)[0][0], np.arange(8))
    val = data.sample("val", 3)
    assert sum(len(x) for x, _ in val) == 3 and all(x.min() >= 900 for x, _ in val)


@pytest.mark.parametrize("write, message", [
    (None, "does not exist"),
    (b"", "is empty"),
    (b"caf\xe9 au lait\n" * 50, "not UTF-8"),
    (b"tiny text", "at least one window of n_ctx \\+ 1 = 9 tokens"),
])
def test_bad_corpus_is_a_clear_error_before_any_file(tmp_path, write, message):
    corpus = tmp_path / "corpus.txt"
    if write is not None:
        corpus.write_bytes(write)
    with pytest.raises(CorpusError, match=message):
        LittleBaby.train_new(TINY, corpus, store=tmp_path / "store", quiet=True)
    assert not (tmp_path / "store").exists()


def test_impossible_plans_and_taken_folders_are_refused_unchanged(tmp_path):
    baby = fresh_baby(english())
    with pytest.raises(TrainingError, match="not both"):
        baby.fit(english(), max_iters=5, n_epochs=1, store=tmp_path, quiet=True)
    with pytest.raises(TrainingError, match="at least 1"):
        baby.fit(english(), max_iters=0, store=tmp_path, quiet=True)
    baby.fit(english(), max_iters=3, out=tmp_path / "model", quiet=True)
    before = snapshot(tmp_path)
    with pytest.raises(TrainingError, match="already holds a model"):
        fresh_baby(english()).fit(english(), max_iters=3, out=tmp_path / "model", quiet=True)
    assert snapshot(tmp_path) == before


def test_finetune_grows_the_vocabulary_and_records_its_parent(tmp_path):
    parent = LittleBaby.train_new(TINY, english(), max_iters=20, store=tmp_path, quiet=True)
    parent_folder = tmp_path / parent.guid
    parent_files = snapshot(parent_folder)
    V, symbols = parent.tokenizer.vocab_size, list(parent.tokenizer.symbols)
    old = {k: parent.params[k].copy() for k in ("wte.weight", "lm_head.weight", "lm_head.bias")}

    grown = LittleBaby.load(parent_folder)
    new = grown.expand_vocab(GREEK)
    assert new == sorted(set(GREEK) - set(symbols)) and "Α" in new
    assert grown.tokenizer.symbols[:V] == symbols  # existing ids unchanged
    p = grown.params
    np.testing.assert_array_equal(p["wte.weight"][:V], old["wte.weight"])
    np.testing.assert_array_equal(p["lm_head.weight"][:, :V], old["lm_head.weight"])
    np.testing.assert_array_equal(p["lm_head.bias"][:V], old["lm_head.bias"])
    assert p["wte.weight"].shape == (V + len(new), TINY["n_emb"])
    assert 0.005 < p["wte.weight"][V:].std() < 0.05 and not p["lm_head.bias"][V:].any()

    child = LittleBaby.load(parent_folder)
    report = child.fit(GREEK, max_iters=20, store=tmp_path, quiet=True)
    assert child.parent_guid == parent.guid != child.guid
    assert report["lineage"] == [parent.guid] and report["corpus"]["new_symbols"] == new
    saved = LittleBaby.load(tmp_path / child.guid)
    assert saved.parent_guid == parent.guid and saved.tokenizer.vocab_size == V + len(new)
    assert len(saved.generate("Ισμήνη", max_new_tokens=5, seed=0)) == 5
    assert snapshot(parent_folder) == parent_files  # the parent is left as it was


SHAKESPEARE, SOPHOCLES = find_input("shakespeare.txt"), find_input("sophocles.txt")


@pytest.mark.skipif(SHAKESPEARE is None or SOPHOCLES is None, reason=(
    "shakespeare.txt or sophocles.txt not found: " + how_to_get("shakespeare") + " " +
    how_to_get("sophocles")))
def test_finetune_a_shakespeare_model_on_sophocles(tmp_path):
    shakespeare = read_corpus(SHAKESPEARE)[:20_000]
    parent = LittleBaby.train_new(TINY, shakespeare, max_iters=5, store=tmp_path, quiet=True)
    report = parent.fit(SOPHOCLES, max_iters=5, eval_iters=2, store=tmp_path, quiet=True)
    assert "α" in report["corpus"]["new_symbols"] and report["status"] == "complete"
    assert report["parent_guid"] == report["lineage"][0]


@pytest.mark.parametrize("bad_loss, what", [(float("nan"), "nan"), (1e4, "1e\\+04")])
def test_divergence_stops_and_keeps_the_last_good_checkpoint(tmp_path, bad_loss, what):
    baby = fresh_baby(english())
    real, calls = baby.loss_and_grads, []

    def poisoned(x, y, **kw):
        calls.append(1)
        loss, grads = real(x, y, **kw)
        return (bad_loss if len(calls) == 25 else loss), grads

    baby.loss_and_grads = poisoned
    with pytest.raises(TrainingDiverged, match=f"diverged at step 25: the training loss became "
                                               f"{what}.*last good checkpoint \\(step 20\\) is"):
        baby.fit(english(), max_iters=50, checkpoint_interval=10, eval_interval=10, store=tmp_path,
                 quiet=True)
    folder = tmp_path / baby.guid
    report = json.loads((folder / "report.json").read_text())
    assert report["status"] == "diverged at step 25" and report["final"]["step"] == 20
    arrays, counters, _ = load_checkpoint(folder)
    assert counters["step"] == 20
    saved = LittleBaby.load(folder)
    for key, value in baby.params.items():  # the model in memory is back at step 20, too
        np.testing.assert_array_equal(value, arrays[f"params.{key}"])
        np.testing.assert_array_equal(saved.params[key], value)


def test_without_matplotlib_the_plot_is_skipped_with_a_note(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)  # import fails
    report = fresh_baby(english()).fit(english(), max_iters=3, out=tmp_path, quiet=True)
    assert report["status"] == "complete" and report["loss_curve"] is None
    assert "matplotlib is not installed" in report["notes"][0]
    assert not (tmp_path / "loss_curve.png").exists()


def interrupted_at(baby, step):
    """Make `baby` receive a real SIGINT (Ctrl-C) during training step `step`."""
    real, calls = baby.loss_and_grads, []

    def with_ctrl_c(x, y, **kw):
        calls.append(1)
        if len(calls) == step:
            signal.raise_signal(signal.SIGINT)
        return real(x, y, **kw)

    baby.loss_and_grads = with_ctrl_c
    return baby


def test_ctrl_c_checkpoints_and_resume_matches_an_uninterrupted_run(tmp_path):
    text, plan = english(), dict(max_iters=60, checkpoint_interval=25, quiet=True)
    full = fresh_baby(text)
    full.fit(text, out=tmp_path / "full", **plan)
    with pytest.raises(TrainingInterrupted, match="stopped at step 33 of 60.*continue with LittleBaby.resume"):
        interrupted_at(fresh_baby(text), 33).fit(text, out=tmp_path / "cut", **plan)
    assert json.loads((tmp_path / "cut/report.json").read_text())["status"] == \
        "interrupted at step 33"
    assert load_checkpoint(tmp_path / "cut")[1]["step"] == 33
    with pytest.raises(TrainingError, match="corpus differs"):
        LittleBaby.resume(tmp_path / "cut", corpus=text + "more", quiet=True)
    with pytest.raises(TrainingError, match="pass that text again"):
        LittleBaby.resume(tmp_path / "cut", quiet=True)
    resumed = LittleBaby.resume(tmp_path / "cut", corpus=text, quiet=True)
    for key, value in full.params.items():
        np.testing.assert_array_equal(resumed.params[key], value)
    assert resumed.report["final"] == full.report["final"]
    def losses(baby):  # all but the wall-clock times
        return [{k: v for k, v in e.items() if k != "seconds"}
                for e in baby.report["losses"]["evals"]]

    assert losses(resumed) == losses(full)
    assert not (tmp_path / "cut" / CHECKPOINT).exists()
    with pytest.raises(TrainingError, match="complete: nothing to resume"):
        LittleBaby.resume(tmp_path / "cut", corpus=text, quiet=True)


def test_store_guids_cannot_escape_and_models_can_be_listed_and_deleted(tmp_path):
    for bad in ("../etc", "..", "a/b", "3F2A5C1E-0000-4000-8000-000000000000", "x" * 36, ""):
        with pytest.raises(StoreError, match="not a model GUID"):
            model_dir(bad, tmp_path)
        with pytest.raises(StoreError):
            delete_model(bad, tmp_path)
    assert list_models(tmp_path) == []
    a = LittleBaby.train_new(TINY, english(), max_iters=2, store=tmp_path, quiet=True)
    b = LittleBaby.train_new(TINY, english(), max_iters=2, store=tmp_path, quiet=True)
    listed = list_models(tmp_path)
    assert sorted(m["guid"] for m in listed) == sorted([a.guid, b.guid])
    assert all(m["status"] == "complete" and m["val_loss"] > 0 for m in listed)
    assert find_model(a.guid[:8], tmp_path) == tmp_path / a.guid
    with pytest.raises(StoreError, match="no model"):
        find_model("ffffffff", tmp_path)
    assert delete_model(a.guid, tmp_path) == tmp_path / a.guid
    assert [m["guid"] for m in list_models(tmp_path)] == [b.guid]
    with pytest.raises(StoreError, match="nothing was deleted"):
        delete_model(a.guid, tmp_path)


def test_a_corpus_too_big_for_memory_is_refused_before_a_byte_is_read(tmp_path, capsys):
    """A sparse terabyte file (no disk used): one line, exit 2, nothing read or written."""
    from little_baby.cli.main import main
    corpus = tmp_path / "huge.txt"
    with open(corpus, "wb") as f:
        f.truncate(10 ** 12)
    assert main(["train", "--corpus", str(corpus), "--store", str(tmp_path / "store"),
                 "--max-iters", "1"]) == 2
    err = capsys.readouterr().err.strip()
    assert "931.3 GiB" in err and "head -n" in err and len(err.splitlines()) == 1, err
    assert not (tmp_path / "store").exists()
