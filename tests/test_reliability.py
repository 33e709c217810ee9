"""Never lose work, never mislead (issue 14): one run per model folder (two runs racing,
a foreign folder, a resume of a live run, a conversion), a killed run shown as stopped,
damaged or non-finite weights named, an impossible size refused before it is allocated,
a closed pipe, a corpus path that names no file, and what the report records of the
corpus. Each test checks the message and that nothing that existed changed."""
import importlib.util
import json
import math
import os
import signal
import subprocess
import threading
import time
import tracemalloc

import numpy as np
import pytest
from safetensors.numpy import load_file, save, save_file

from little_baby import BabyConfig, CharTokenizer, LittleBaby
from little_baby.engine.memory import training_bytes
from little_baby.errors import (CorpusError, FolderTakenError, NotEnoughMemoryError,
                                TrainingError, TrainingInterrupted, WeightsError)
from little_baby.io.store import claim, files
from little_baby.io.store.identity import is_guid, new_guid
from little_baby.io.store.checkpoint import CHECKPOINT, FORMAT, load_checkpoint
from little_baby.io.store.model_folder import read_report
from little_baby.training import resources
from little_baby.training.trainer import Trainer
from tests.little_texts import TINY, english
from tests.test_cli import ROOT, TINY_FLAGS, command, in_process, snapshot, wait_for_checkpoint
from tests.test_train import fresh_baby, interrupted_at


def popen(*args):
    return subprocess.Popen(command(*args), cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def write_corpus(path, n_lines=80):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(english(n_lines=n_lines), encoding="utf-8")
    return path


# ---- one run per folder ---------------------------------------------------------------------
def test_two_runs_into_one_folder_one_trains_and_the_other_names_it(tmp_path):
    corpus, out = write_corpus(tmp_path / "english.txt"), tmp_path / "model"
    plan = ["--max-iters", 1500, "--eval-interval", 1500, "--generate-tokens", 0, "--quiet"]
    runs = {seed: popen("train", "--corpus", corpus, "--out", out, "--seed", seed, *TINY_FLAGS,
                        *plan) for seed in (1, 2)}  # started together, differing in the seed
    deadline = time.time() + 60
    while all(p.poll() is None for p in runs.values()):
        assert time.time() < deadline, "neither run ended"
        time.sleep(0.02)
    (lost_seed, loser), = [(s, p) for s, p in runs.items() if p.poll() is not None]
    (won_seed, winner), = [(s, p) for s, p in runs.items() if p is not loser]
    assert winner.poll() is None, "the refused run ended only after the winner finished"
    out_text, err = loser.communicate()
    assert loser.returncode == 2 and out_text == "" and err.count("\n") == 1, err
    assert err.startswith(f"little-baby train: error: {out} is held by a training run "
                          f"(pid {winner.pid} since ")
    assert f"--seed {won_seed}" in err and "Nothing was changed" in err
    won_out, won_err = winner.communicate(timeout=60)
    assert winner.returncode == 0 and won_out.strip() == str(out), won_err
    # the folder holds the winner's model, exactly as if it had trained alone
    assert json.loads((out / "config.json").read_text())["seed"] == won_seed
    alone = LittleBaby.train_new({**TINY, "seed": won_seed}, corpus, max_iters=1500,
                                 eval_interval=1500, out=tmp_path / "alone", quiet=True)
    trained = LittleBaby.load(out)
    for key, value in alone.params.items():
        np.testing.assert_array_equal(trained.params[key], value, err_msg=key)
    assert not claim.lock_path(out).exists()  # released and removed


def test_a_folder_with_files_of_its_own_is_refused_untouched(tmp_path, capsys):
    corpus = write_corpus(tmp_path / "english.txt")
    theirs = tmp_path / "theirs"
    theirs.mkdir()
    (theirs / "config.json").write_text('{"learning_rate": 0.1, "mine": true}\n')
    (theirs / "notes.txt").write_text("do not lose me\n")
    before = snapshot(tmp_path)
    code, out, err = in_process(capsys, "train", "--corpus", corpus, "--out", theirs,
                                *TINY_FLAGS, "--max-iters", 3, "--quiet")
    assert code == 2 and out == "" and err.count("\n") == 1
    assert f"{theirs} holds files that are not a model of ours (config.json, notes.txt)" in err
    with pytest.raises(FolderTakenError, match="not a model of ours"):
        fresh_baby(english()).fit(corpus, max_iters=3, out=theirs, quiet=True)
    assert snapshot(tmp_path) == before
    parent = LittleBaby.train_new(TINY, corpus, max_iters=2, out=tmp_path / "parent", quiet=True)
    before = snapshot(tmp_path)
    code, _, err = in_process(capsys, "finetune", tmp_path / "parent", "--corpus", corpus,
                              "--out", theirs, "--max-iters", 3, "--quiet")
    assert code == 2 and "not a model of ours" in err
    assert snapshot(tmp_path) == before  # no lock file left beside either
    assert parent.report["status"] == "complete"


def test_a_conversion_waits_for_or_names_the_run_that_holds_its_folder(tmp_path, capsys):
    from tests.test_original import original_like, write_original
    baby, x = original_like()
    guid = new_guid()
    repo = write_original(baby, tmp_path / "repo", guid)
    cache = tmp_path / "cache"
    held = claim.claim(cache / guid, "a test")
    code, _, err = in_process(capsys, "convert", repo, guid, "--store", cache)
    assert code == 2 and f"is held by a test (pid {os.getpid()} since " in err
    assert not (cache / guid).exists()
    threading.Timer(0.3, held.release).start()  # from_pretrained waits for it to let go
    converted = LittleBaby.from_pretrained(guid, repo=repo, store=cache, d_type="fp64")
    np.testing.assert_array_equal(converted.logits(x), baby.logits(x))
    assert not claim.lock_path(cache / guid).exists()


def test_delete_refuses_the_folder_of_a_live_run(tmp_path, capsys):
    cache = tmp_path / "cache"
    guid = LittleBaby.train_new(TINY, write_corpus(tmp_path / "english.txt"), max_iters=2,
                                store=cache, quiet=True).guid
    held = claim.claim(cache / guid, "a training run")
    before = snapshot(cache)
    code, out, err = in_process(capsys, "delete", guid, "--yes", "--store", cache)
    assert code == 2 and out == "" and f"is held by a training run (pid {os.getpid()}" in err
    assert "Nothing was changed." in err and snapshot(cache) == before
    held.release()
    code, out, _ = in_process(capsys, "delete", guid, "--yes", "--store", cache)
    assert code == 0 and not (cache / guid).exists() and not claim.lock_path(cache / guid).exists()


# ---- a killed run ---------------------------------------------------------------------------
def test_a_killed_run_is_stopped_not_running_and_says_how_to_resume(tmp_path, capsys):
    corpus, cache = write_corpus(tmp_path / "english.txt"), tmp_path / "cache"
    proc = popen("train", "--corpus", corpus, "--store", cache, "--device", "cpu", *TINY_FLAGS,
                 "--max-iters", 100_000, "--checkpoint-interval", 20, "--eval-interval", 100_000,
                 "--generate-tokens", 0, "--quiet")
    try:
        deadline = time.time() + 60
        while not (cache.is_dir() and any(is_guid(p.name) for p in cache.iterdir())):
            assert time.time() < deadline and proc.poll() is None, proc.stderr.read()
            time.sleep(0.02)
        guid = next(p.name for p in cache.iterdir() if is_guid(p.name))
        folder = cache / guid
        wait_for_checkpoint(folder, proc, min_step=20)
        code, out, _ = in_process(capsys, "list", "--store", cache)
        assert code == 0 and f"{guid}  running " in out
        code, out, _ = in_process(capsys, "info", guid, "--store", cache)
        assert code == 0 and f"a training run (pid {proc.pid} since" in out
        code, out, err = in_process(capsys, "train", "--resume", guid, "--store", cache)
        assert code == 2 and f"is held by a training run (pid {proc.pid} since" in err
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.communicate()
    assert proc.returncode == -signal.SIGKILL
    report = read_report(folder)  # as the library reads it: a kill mid-save leaves a journal
    assert report["status"] == "running" and report["hardware"]["device"] == "cpu"
    left = folder / ".report.json.k1lled00.tmp"  # what a kill mid-save leaves, every time
    left.write_bytes(b'{"half')
    before = as_read(folder)
    code, out, _ = in_process(capsys, "list", "--store", cache)
    assert code == 0 and f"{guid}  stopped " in out and f"--resume {guid[:8]}" in out
    code, out, _ = in_process(capsys, "info", guid, "--store", cache)
    step = report["final"]["step"]
    assert code == 0 and f"status     stopped at step {step:,} of 100,000 without finishing" in out
    assert f"little-baby train --resume {folder}" in out
    code, out, err = in_process(capsys, "generate", guid, "--store", cache, "--max-tokens", 5)
    assert code == 0 and len(out) == 5 + 1 and err.count("\n") == 1
    assert err.startswith(f"little-baby generate: note: {guid} is an unfinished run (stopped at")
    assert err.rstrip().endswith(f"its weights are those of step {step:,}.")
    after = as_read(folder)
    assert after.pop("completion.json")  # what generate writes; nothing else changed
    assert after == before and not left.exists()  # the killed writer's debris is swept


def as_read(folder):
    """{name: bytes} of a model folder as a reader sees it: through the journal of a commit
    a kill interrupted (which the next writer finishes), without the temporary files a
    killed writer left (which the next writer removes)."""
    names = {p.name for p in folder.iterdir() if not p.name.startswith(".")}
    names |= {final for _, final in files._journal(folder)}
    return {name: files.committed_path(folder, name).read_bytes() for name in sorted(names)}


def test_sigterm_releases_the_folder_for_a_resume(tmp_path):
    corpus, out = write_corpus(tmp_path / "english.txt"), tmp_path / "run"
    proc = popen("train", "--corpus", corpus, "--out", out, *TINY_FLAGS, "--max-iters", 100_000,
                 "--checkpoint-interval", 20, "--eval-interval", 100_000, "--quiet")
    wait_for_checkpoint(out, proc, min_step=20)
    assert claim.holder(out)["pid"] == proc.pid
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143 and f"--resume {out}" in err
    assert claim.holder(out) is None and not claim.lock_path(out).exists()
    report = json.loads((out / "report.json").read_text())
    assert claim.run_status(out, report["status"]).startswith("interrupted at step")


def test_train_device_gpu_without_cupy_is_one_clear_line(tmp_path, capsys):
    if importlib.util.find_spec("cupy") is not None:
        pytest.skip("CuPy is installed here")
    corpus = write_corpus(tmp_path / "english.txt")
    code, out, err = in_process(capsys, "train", "--corpus", corpus, "--device", "gpu",
                                "--store", tmp_path / "cache", *TINY_FLAGS, "--max-iters", 2)
    assert code == 2 and "c_device='gpu' needs CuPy" in err and out == ""
    assert not (tmp_path / "cache").exists()


# ---- weights that are not what they claim -----------------------------------------------------
def test_non_finite_weights_are_refused_at_load_naming_the_tensor(tmp_path, capsys):
    folder = fresh_baby(english()).save(tmp_path / "model")
    weights = load_file(str(folder / "model.safetensors"))
    weights["blocks.0.attn.qkv.weight"][0, 0] = np.nan
    weights["lm_head.bias"][1] = np.inf
    save_file(weights, str(folder / "model.safetensors"))
    before = snapshot(tmp_path)
    with pytest.raises(WeightsError, match=r"weight 'blocks.0.attn.qkv.weight' holds 1 "
                                           r"non-finite value\(s\) \(nan or inf\)"):
        LittleBaby.load(folder)
    code, out, err = in_process(capsys, "info", folder)
    assert code == 2 and "status     damaged weights" in out
    assert "'blocks.0.attn.qkv.weight' holds 1 non-finite" in err
    code, out, err = in_process(capsys, "generate", folder, "--max-tokens", 5)
    assert code == 2 and out == "" and "non-finite" in err
    assert snapshot(tmp_path) == before


def test_info_reads_the_weights_instead_of_calling_a_truncated_model_complete(tmp_path, capsys):
    folder = tmp_path / "model"
    fresh_baby(english()).fit(english(), max_iters=3, out=folder, quiet=True)
    code, out, _ = in_process(capsys, "info", folder)
    assert code == 0 and "status     complete\n" in out
    weights = folder / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:weights.stat().st_size // 2])
    before = snapshot(tmp_path)
    code, out, err = in_process(capsys, "info", folder)
    assert code == 2 and "status     complete" not in out and "status     damaged weights" in out
    assert "is not a readable safetensors file (it ends inside weight" in err
    code, out, err = in_process(capsys, "info", folder, "--json")
    assert code == 2 and "ends inside weight" in json.loads(out)["weights_damage"]
    assert snapshot(tmp_path) == before


# ---- sizes that cannot fit --------------------------------------------------------------------
def test_an_impossible_size_is_refused_before_anything_is_allocated(tmp_path, capsys):
    corpus = write_corpus(tmp_path / "big.txt", n_lines=5000)  # ~230 KB: room for 20k windows
    code, out, err = in_process(capsys, "train", "--corpus", corpus, "--store", tmp_path / "cache",
                                "--n-ctx", 20_000, "--quiet")
    assert code == 2 and out == "" and err.count("\n") == 1
    assert ("a training step of n_ctx=20000, batch_size=16, n_emb=128, n_layers=4 (mha/mlp) "
            "would need about ") in err and " TiB (activations " in err
    assert "but this machine has " in err and "available: use a smaller --n-ctx, --batch-size" in err
    assert not (tmp_path / "cache").exists()
    baby = fresh_baby(english(), n_ctx=20_000, batch_size=64)
    with pytest.raises(NotEnoughMemoryError, match="would need about"):
        baby.fit(corpus, max_iters=1, out=tmp_path / "model", quiet=True)
    assert baby.guid is None and baby.report == {} and not (tmp_path / "model").exists()


def test_a_model_too_big_to_build_is_refused_before_its_weights_are_allocated():
    config = BabyConfig(n_emb=1 << 16, n_layers=64)  # ~2 T parameters: 16 TiB to build
    tracemalloc.start()
    with pytest.raises(NotEnoughMemoryError) as e:
        LittleBaby(config, CharTokenizer.from_text("abc"))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 1 << 20 and str(e.value).startswith(
        "a model of n_emb=65536, n_layers=64, n_ctx=64 and 3 symbols (mha/mlp) would need about "
        "16.0 TiB (weights 16.0 TiB), but this machine has ")
    assert "use a smaller n_emb, n_layers, n_ctx or n_hidden" in str(e.value)


def test_a_prompt_too_long_for_memory_is_refused_before_anything_is_printed(tmp_path, capsys,
                                                                            monkeypatch):
    folder = fresh_baby(english(), n_ctx=20_000).save(tmp_path / "wide")
    monkeypatch.setattr(resources, "available_bytes", lambda device="cpu": 1 << 30)  # 1 GiB
    prompt = (english(n_lines=600) * 2)[:20_000]
    code, out, err = in_process(capsys, "generate", folder, "--prompt", prompt)
    assert code == 2 and out == ""
    assert ("generating with n_ctx=20000 from a prompt of 20000 tokens would need about 3.0 "
            "GiB") in err and "this machine has 1.0 GiB" in err
    code, out, _ = in_process(capsys, "generate", folder, "--prompt", "The", "--max-tokens", 3)
    assert code == 0 and out.startswith("The") and len(out) == 3 + 3 + 1  # a short one runs


@pytest.mark.parametrize("attention, network", [("mha", "mlp"), ("aft", "mlp"), ("rfa", "swi")])
def test_the_memory_estimate_is_near_what_a_step_allocates(attention, network):
    """On one core (shards one after another, so the peak does not depend on how the
    threads overlap) the estimate of one shard is within a factor 1.5 of tracemalloc's."""
    cfg = BabyConfig(n_ctx=64, n_emb=64, head_size=64, n_heads=4, n_layers=2, batch_size=8,
                     c_attention=attention, c_network=network, c_device_cpu_cores=1)
    baby = LittleBaby(cfg, CharTokenizer.from_text(english()))
    trainer = Trainer(baby, total_steps=10)
    x = np.random.default_rng(0).integers(0, baby.tokenizer.vocab_size, (8, 64))
    trainer.step(x, x)  # AdamW's moments exist from here on
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        trainer.step(x, x)
        step_peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    estimate = training_bytes(cfg, baby.tokenizer.vocab_size, shards=1)
    assert estimate.weights == 3 * 4 * baby.n_params
    assert 0.5 < (estimate.activations + estimate.gradients) / step_peak < 1.5


# ---- a closed pipe ----------------------------------------------------------------------------
@pytest.mark.parametrize("args", [["info"], ["generate", "--max-tokens", 200, "--seed", 1]],
                         ids=["info", "generate"])
def test_a_closed_pipe_ends_quietly(args):
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before the first line, as after `| head -0`
    proc = subprocess.Popen(command(*args), cwd=ROOT, stdout=write_end, stderr=subprocess.PIPE,
                            text=True)
    os.close(write_end)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 141 and err == ""


# ---- the corpus -------------------------------------------------------------------------------
def test_a_corpus_path_that_names_no_file_is_an_error_not_text(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    baby = fresh_baby(english())
    vocab = baby.tokenizer.vocab_size
    for name in ("my notes.txt", "notes/today", "~/no-such-notes-here"):
        with pytest.raises(CorpusError, match=f"corpus file '{name}' does not exist"):
            baby.fit(name, max_iters=1, quiet=True)
    with pytest.raises(CorpusError, match="at least one window"):  # one-line text is text
        baby.fit("just a few words", max_iters=1, quiet=True)
    assert baby.guid is None and baby.report == {} and baby.tokenizer.vocab_size == vocab
    assert list(tmp_path.iterdir()) == []


def _interrupted_run(tmp_path, corpus, folder):
    """A run of 30 steps on `corpus` stopped by Ctrl-C at step 12 (checkpoint there)."""
    with pytest.raises(TrainingInterrupted):
        interrupted_at(fresh_baby(english()), 12).fit(corpus, max_iters=30, checkpoint_interval=5,
                                                      out=folder, quiet=True)
    return fresh_baby(english()).fit(corpus, max_iters=30, checkpoint_interval=5,
                                     out=tmp_path / "whole", quiet=True)


def test_the_report_names_the_corpus_and_resume_finds_it_by_name(tmp_path, monkeypatch):
    corpus, folder = write_corpus(tmp_path / "here" / "notes.txt"), tmp_path / "run"
    whole = _interrupted_run(tmp_path, corpus, folder)
    recorded = json.loads((folder / "report.json").read_text())["corpus"]
    assert recorded["file"] == "notes.txt" and "path" not in recorded
    assert str(tmp_path) not in json.dumps(recorded)  # nothing of this machine's paths
    assert recorded["sha256"] == whole["corpus"]["sha256"]
    moved = tmp_path / "inputs"
    moved.mkdir()
    corpus.rename(moved / "notes.txt")
    impostor = write_corpus(tmp_path / "other" / "notes.txt", n_lines=81)  # same name, other text
    monkeypatch.setenv("LITTLE_BABY_INPUTS", str(impostor.parent))
    before = snapshot(folder)
    with pytest.raises(TrainingError, match=r"this run's corpus, notes.txt \(sha256 "
                                            r"[0-9a-f]{12}\.\.\.\), was not found"):
        LittleBaby.resume(folder, quiet=True)
    assert snapshot(folder) == before
    monkeypatch.setenv("LITTLE_BABY_INPUTS", str(moved))
    resumed = LittleBaby.resume(folder, quiet=True)
    assert resumed.report["status"] == "complete"
    assert resumed.report["final"] == whole["final"]


def test_an_old_report_with_an_absolute_path_still_resumes(tmp_path):
    """Reports written before the corpus's name was recorded keep its absolute path."""
    corpus, folder = write_corpus(tmp_path / "c.txt"), tmp_path / "run"
    whole = _interrupted_run(tmp_path, corpus, folder)
    arrays, counters, state = load_checkpoint(folder)
    old = {k: v for k, v in state["report"]["corpus"].items() if k != "file"}
    state["report"]["corpus"] = {"path": str(corpus.resolve()), **old}
    del state["run"]["corpus_path"]
    meta = {"format": FORMAT, "counters": json.dumps(counters), "state": json.dumps(state)}
    (folder / CHECKPOINT).write_bytes(save(arrays, metadata=meta))
    resumed = LittleBaby.resume(folder, quiet=True)
    assert resumed.report["final"] == whole["final"] and math.isfinite(
        resumed.report["final"]["val_loss"])
