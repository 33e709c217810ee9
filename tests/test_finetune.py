"""Finetuning's defaults (issue 21): a finetune of a model on the very text it was trained
on must not come out worse than it went in. `little-baby finetune` trains at its own
learning rate (stated in --help), keeps the weights of the best evaluation and stores
them in the parent's float type; the progress bar says when its validation loss was
measured; a stopped finetune resumes to the same kept weights."""
import builtins
import io
import json
import os
import re
import signal
from pathlib import Path

import numpy as np
import pytest
from safetensors import safe_open

from little_baby import LittleBaby
from little_baby.cli import main
from little_baby.io.store.model_folder import save_model
from little_baby.training.evaluate import heldout_loss
from little_baby.training.run import FINETUNE_R_LEARN
from little_baby.errors import TrainingInterrupted
from tests.little_texts import english

# A shipped-like parent: small, trained hard on its text (many passes at a high rate,
# cosine-decayed, as the age models were), its weights stored in float16 as they ship.
# Its text is short enough that the runs' validation sample (10 batches of 8 windows)
# is every window of the held-out part, which is what heldout_loss measures.
PARENT = dict(n_ctx=16, n_emb=16, head_size=16, n_heads=2, n_layers=1, batch_size=8,
              r_learn=1e-2)
TEXT = english(250, seed=1)


@pytest.fixture(scope="module")
def parent(tmp_path_factory):
    """(folder, corpus file) of the shipped-like parent."""
    tmp = tmp_path_factory.mktemp("finetune")
    corpus = tmp / "text.txt"
    corpus.write_text(TEXT, encoding="utf-8")
    baby = LittleBaby.train_new(PARENT, TEXT, max_iters=1000, out=tmp / "trained", quiet=True)
    folder = tmp / "parent"
    save_model(baby, folder, "float16")
    return folder, corpus


def finetune(capsys, parent, out, *options):
    folder, corpus = parent
    code = main(["finetune", str(folder), "--corpus", str(corpus), "--max-iters", "60",
                 "--eval-interval", "10", "--out", str(out), "--generate-tokens", "0",
                 *map(str, options)])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return LittleBaby.load(out), captured.out, captured.err


def weights_dtypes(folder):
    with safe_open(str(folder / "model.safetensors"), "numpy") as f:
        return {f.get_slice(k).get_dtype() for k in f.keys()}


def test_finetune_defaults_do_not_make_a_model_worse_on_its_own_text(parent, tmp_path, capsys):
    before = heldout_loss(LittleBaby.load(parent[0]), TEXT)["loss"]
    child, out, _ = finetune(capsys, parent, tmp_path / "child")
    after = heldout_loss(child, TEXT)["loss"]
    assert after <= before + 1e-4, f"held-out loss rose from {before:.4f} to {after:.4f}"
    report = json.loads((tmp_path / "child/report.json").read_text())
    final = report["final"]
    assert report["settings"]["config"]["r_learn"] == FINETUNE_R_LEARN != PARENT["r_learn"]
    assert final["kept"] == "best" and final["val_loss"] == final["best_val_loss"]
    assert final["kept_step"] == final["best_step"]
    assert f"kept the weights of step {final['kept_step']:,}, the best" in out
    assert weights_dtypes(tmp_path / "child") == {"F16"} and child.weights_dtype == "float16"
    size = (tmp_path / "child/model.safetensors").stat().st_size
    assert size < 1.2 * (parent[0] / "model.safetensors").stat().st_size

    # what the defaults were before (the parent's rate, the last step, float32) does make
    # this model worse: so the check above can tell
    old, _, _ = finetune(capsys, parent, tmp_path / "old", "--r-learn", PARENT["r_learn"],
                         "--keep", "last", "--weights-dtype", "float32")
    assert heldout_loss(old, TEXT)["loss"] > before + 0.005
    assert weights_dtypes(tmp_path / "old") == {"F32"}
    assert json.loads((tmp_path / "old/report.json").read_text())["final"]["kept"] == "last"


def test_finetune_reads_its_corpus_once_and_refuses_an_empty_one_before_any_model(
        parent, tmp_path, capsys, monkeypatch):
    folder, corpus = parent
    empty = tmp_path / "empty.txt"
    empty.write_text("\n", encoding="utf-8")
    with monkeypatch.context() as patched:
        patched.setattr(LittleBaby, "from_pretrained", lambda *a, **k: pytest.fail("fetched"))
        assert main(["finetune", str(folder), "--corpus", str(empty)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "is empty" in err
    opened, real_open = [], io.open

    def counting_open(file, *args, **kwargs):
        if isinstance(file, (str, os.PathLike)) and Path(file) == corpus:
            opened.append(file)
        return real_open(file, *args, **kwargs)
    monkeypatch.setattr(io, "open", counting_open)  # pathlib's read_text opens through it
    monkeypatch.setattr(builtins, "open", counting_open)
    finetune(capsys, parent, tmp_path / "child", "--max-iters", "2")
    assert len(opened) == 1


def test_finetune_help_states_the_rate_it_uses(capsys):
    with pytest.raises(SystemExit):
        main(["finetune", "--help"])
    help_text = re.sub(r"\s+", " ", capsys.readouterr().out)
    rate = f"{FINETUNE_R_LEARN:.0e}".replace("e-0", "e-")
    assert f"--r-learn X, --lr X, --learning-rate X default {rate} for a finetune" in help_text
    assert "--keep {best,last}" in help_text and "(default: best" in help_text
    assert "--weights-dtype {float16,float32}" in help_text and "the parent's" in help_text
    assert "--batch-size N default: the parent's" in help_text  # not BabyConfig's 16


def test_the_progress_bar_says_at_which_step_its_validation_loss_was_measured(
        parent, tmp_path, capsys):
    _, _, err = finetune(capsys, parent, tmp_path / "child")
    evals = json.loads((tmp_path / "child/report.json").read_text())["losses"]["evals"]
    shown = re.findall(r"val (\d+\.\d{3}) at step (\d+)", err)
    assert shown, err
    measured = {e["step"]: f"{e['val']:.3f}" for e in evals}
    for value, step in shown:  # every figure shown is the one measured at the step it names
        assert measured[int(step)] == value


def test_a_stopped_finetune_resumes_to_the_same_kept_weights(parent, tmp_path):
    folder, corpus = parent
    plan = dict(max_iters=60, eval_interval=10, checkpoint_interval=10, quiet=True)
    whole = LittleBaby.load(folder)
    whole.fit(corpus, out=tmp_path / "whole", **plan)
    cut = LittleBaby.load(folder)
    real, calls = cut.loss_and_grads, []

    def with_ctrl_c(x, y, **kw):
        calls.append(1)
        if len(calls) == 45:
            signal.raise_signal(signal.SIGINT)
        return real(x, y, **kw)

    cut.loss_and_grads = with_ctrl_c
    with pytest.raises(TrainingInterrupted):
        cut.fit(corpus, out=tmp_path / "cut", **plan)
    resumed = LittleBaby.resume(tmp_path / "cut", quiet=True)
    assert resumed.report["final"] == whole.report["final"]
    assert whole.report["final"]["kept"] == "best"
    for key, value in whole.params.items():  # in memory and on disk: the kept weights
        np.testing.assert_array_equal(resumed.params[key], value)
        np.testing.assert_array_equal(LittleBaby.load(tmp_path / "cut").params[key], value)


def test_a_finetune_on_the_device_keeps_its_best_weights_in_float16(parent, tmp_path):
    """The same on the GPU path (tests/cupy_standin.py: arrays that refuse any implicit trip
    to the host): the best weights are copied, checkpointed and saved on the device."""
    from tests import cupy_standin
    folder, corpus = parent
    with cupy_standin.installed() as cp:
        child = LittleBaby.load(folder, c_device="gpu")
        report = child.fit(corpus, max_iters=30, eval_interval=10, checkpoint_interval=10,
                           out=tmp_path / "child", quiet=True)
        assert isinstance(child.flat, cp.ndarray)
    final = report["final"]
    assert final["kept"] == "best" and final["val_loss"] == final["best_val_loss"]
    assert weights_dtypes(tmp_path / "child") == {"F16"}


def test_saving_a_loaded_model_keeps_its_float_type(parent, tmp_path):
    folder, _ = parent
    baby = LittleBaby.load(folder)
    baby.save(tmp_path / "again")
    baby.save_pretrained(tmp_path / "pretrained")
    for saved in (tmp_path / "again", tmp_path / "pretrained"):
        assert weights_dtypes(saved) == {"F16"}
        for key, value in LittleBaby.load(saved).params.items():  # float16 -> 32 -> 16: exact
            np.testing.assert_array_equal(value, baby.params[key])
    baby.weights_dtype = "float32"  # asked for
    baby.save(tmp_path / "wide")
    assert weights_dtypes(tmp_path / "wide") == {"F32"}
