"""The `little-baby` command, run as users run it (a subprocess): train, finetune,
generate, info, list, delete, Ctrl-C, kill -9 and --resume, and bad input."""
import json
import os
import pty
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from safetensors import safe_open

from little_baby import LittleBaby
from little_baby.io.store.ages import AGES, DEFAULT_AGE, shipped_folder
from little_baby.io.store.checkpoint import CHECKPOINT
from little_baby.cli import main
from tests.little_texts import GREEK, TINY, english

ROOT = Path(__file__).resolve().parent.parent
TINY_FLAGS = [f"--{k.replace('_', '-')}={v}" for k, v in TINY.items()]


def command(*args):
    return [sys.executable, "-m", "little_baby", *map(str, args)]


def cli(*args, stdin=subprocess.DEVNULL):
    env = {k: v for k, v in os.environ.items() if k != "LITTLE_BABY_STORE"}
    return subprocess.run(command(*args), cwd=ROOT, env=env, stdin=stdin, capture_output=True,
                          text=True, timeout=120)


def in_process(capsys, *args):
    """(exit code, stdout, stderr) of the command run in this process: the same code as
    the subprocess, without the second or so a new Python takes to start."""
    code = main([str(a) for a in args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def snapshot(folder):
    return {p: p.read_bytes() for p in sorted(Path(folder).rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """(cache, guid, corpus) of a tiny model trained for one epoch by `little-baby train`."""
    tmp = tmp_path_factory.mktemp("cli")
    corpus = tmp / "english.txt"
    corpus.write_text(english(), encoding="utf-8")
    cache = tmp / "cache"
    r = cli("train", "--corpus", corpus, "--store", cache, *TINY_FLAGS, "--n-epochs", 1,
            "--generate-tokens", 20, "--quiet")
    assert r.returncode == 0, r.stderr
    folder = Path(r.stdout.strip())
    assert folder.parent == cache and r.stderr == ""  # --quiet: only the folder, no bar
    return cache, folder.name, corpus


def test_train_writes_the_model_folder_with_a_sample(trained):
    cache, guid, _ = trained
    folder = cache / guid
    assert {"config.json", "tokenizer.json", "model.safetensors", "report.json",
            "loss_curve.png", "completion.json"} == {p.name for p in folder.iterdir()}
    report = json.loads((folder / "report.json").read_text())
    assert report["status"] == "complete" and report["losses"]["epochs"][0]["epoch"] == 1
    completion = json.loads((folder / "completion.json").read_text())
    assert completion["prompt"] == "" and len(completion["text"]) == 20


def test_info_list_and_generate(trained):
    cache, guid, _ = trained
    info = cli("info", guid[:8], "--store", cache)
    assert info.returncode == 0, info.stderr
    for expected in (guid, "parameters", "n_layers=1", "validation", "origin     Trained from scratch",
                     "loss_curve.png"):
        assert expected in info.stdout
    as_json = json.loads(cli("info", guid, "--json", "--store", cache).stdout)
    assert as_json["report"]["guid"] == guid
    listed = cli("list", "--store", cache)
    assert listed.returncode == 0 and guid in listed.stdout and "complete" in listed.stdout
    runs = [cli("generate", guid, "--prompt", "The baby", "--max-tokens", 30, "--seed", 7,
                "--store", cache) for _ in range(2)]
    assert runs[0].returncode == 0, runs[0].stderr
    assert runs[0].stdout.startswith("The baby") and runs[0].stdout == runs[1].stdout
    completion = json.loads((cache / guid / "completion.json").read_text())
    assert completion["prompt"] == "The baby" and completion["settings"]["seed"] == 7
    assert runs[0].stdout == "The baby" + completion["text"] + "\n"
    unknown = cli("generate", guid, "--prompt", "Ωμέγα", "--store", cache)
    assert unknown.returncode == 2 and "not in this model's vocabulary" in unknown.stderr


def test_finetune_on_greek_records_the_parent(trained, tmp_path):
    cache, guid, _ = trained
    greek = tmp_path / "greek.txt"
    greek.write_text(GREEK, encoding="utf-8")
    parent_files = snapshot(cache / guid)
    r = cli("finetune", guid, "--corpus", greek, "--max-iters", 10, "--r-learn", 3e-3,
            "--store", cache, "--quiet", "--generate-tokens", 0)
    assert r.returncode == 0, r.stderr
    child = Path(r.stdout.strip()).name
    report = json.loads((cache / child / "report.json").read_text())
    assert report["parent_guid"] == guid and report["settings"]["config"]["r_learn"] == 3e-3
    assert "Ι" in report["corpus"]["new_symbols"]
    assert f"{child} <- {guid}" in cli("info", child, "--store", cache).stdout
    assert snapshot(cache / guid) == parent_files
    arch = cli("finetune", guid, "--corpus", greek, "--n-layers", 2, "--store", cache)
    assert arch.returncode == 2 and arch.stderr.count("\n") == 1
    assert "keeps its parent's architecture, so --n-layers 2 cannot change" in arch.stderr
    assert "`little-baby train --corpus FILE --n-layers 2`" in arch.stderr


def with_a_terminal(answer, *args):
    """(exit code, stdout, stderr) of the command with a terminal as stdin, typing `answer`."""
    typist, terminal = pty.openpty()
    proc = subprocess.Popen(command(*args), cwd=ROOT, stdin=terminal, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    os.close(terminal)
    os.write(typist, answer.encode())
    out, err = proc.communicate(timeout=60)
    os.close(typist)
    return proc.returncode, out, err


def test_delete_asks_and_refuses_without_a_terminal(trained, capsys):
    cache, _, corpus = trained
    guids = [LittleBaby.train_new(TINY, corpus, max_iters=2, store=cache, quiet=True).guid
             for _ in range(2)]
    before = snapshot(cache)
    refused = cli("delete", guids[0], "--store", cache)
    assert refused.returncode == 2 and "stdin is not a terminal" in refused.stderr
    assert "--yes" in refused.stderr and snapshot(cache) == before
    for bad, message in [("../english.txt", "not a model GUID"),
                         ("00000000-0000-4000-8000-000000000000", "no model")]:
        code, _, err = in_process(capsys, "delete", bad, "--yes", "--store", cache)
        assert code == 2 and message in err and snapshot(cache) == before
    code, out, _ = with_a_terminal("n\n", "delete", guids[0], "--store", cache)
    assert code == 1 and f"delete model {guids[0]}" in out and "nothing deleted" in out
    assert snapshot(cache) == before
    code, out, _ = with_a_terminal("y\n", "delete", guids[0][:8], "--store", cache)
    assert code == 0 and f"deleted {guids[0]}" in out and not (cache / guids[0]).exists()
    code, out, _ = in_process(capsys, "delete", guids[1], "--yes", "--store", cache)
    assert code == 0 and f"deleted {guids[1]}" in out and not (cache / guids[1]).exists()
    listed = cli("list", "--store", cache).stdout
    assert guids[0] not in listed and guids[1] not in listed


BAD_INPUTS = [
    (None, ["--corpus", "{tmp}/missing.txt"], "does not exist"),
    (b"", ["--corpus", "{tmp}/c.txt"], "is empty"),
    (b"\xff\xfe not utf-8 \xe9" * 40, ["--corpus", "{tmp}/c.txt"], "not UTF-8"),
    (b"too small", ["--corpus", "{tmp}/c.txt"], "at least one window"),
    ("text", ["--corpus", "{tmp}/c.txt", "--n-heads", "3"], "divisible by n_heads"),
    ("text", ["--corpus", "{tmp}/c.txt", "--config", '{"n_layer": 2}'], "unknown config key"),
    ("text", ["--corpus", "{tmp}/c.txt", "--max-iters", "5", "--n-epochs", "2"], "not both"),
    ("text", ["--corpus", "{tmp}/c.txt", "--out", "{model}"], "already holds a model"),
    ("text", ["--resume", "{model}", "--n-layers", "2"], "leave out --n-layers"),
    ("text", ["--resume", "{model}"], "complete: nothing to resume"),
    ("text", [], "train needs --corpus"),
]


@pytest.mark.parametrize("setup, args, message", BAD_INPUTS, ids=[m for *_, m in BAD_INPUTS])
def test_bad_input_is_one_clear_line_and_changes_nothing(trained, tmp_path, capsys, setup, args,
                                                        message):
    cache, guid, _ = trained
    if setup is not None:
        (tmp_path / "c.txt").write_bytes(english().encode() if setup == "text" else setup)
    args = [a.replace("{tmp}", str(tmp_path)).replace("{model}", str(cache / guid)) for a in args]
    before = snapshot(cache)
    code, out, err = in_process(capsys, "train", *args, "--store", cache,
                                *([] if "--resume" in args else TINY_FLAGS[:3]))
    assert code == 2, err
    assert err.startswith("little-baby train: error:") and err.count("\n") == 1
    assert message in err and out == ""
    assert snapshot(cache) == before


def wait_for_checkpoint(folder, proc, min_step):
    """Poll until folder's checkpoint has reached min_step (the run must still be going)."""
    deadline = time.time() + 60
    while time.time() < deadline:
        assert proc.poll() is None, "the run ended before it could be stopped"
        try:
            with safe_open(str(folder / CHECKPOINT), "numpy") as f:
                if json.loads(f.metadata()["counters"])["step"] >= min_step:
                    return
        except Exception:  # not there yet
            pass
        time.sleep(0.02)
    raise AssertionError("no checkpoint appeared")


def test_kill_9_and_resume_reach_the_uninterrupted_weights(tmp_path):
    corpus = tmp_path / "english.txt"
    corpus.write_text(english(n_lines=150), encoding="utf-8")
    flags = [*TINY_FLAGS, "--n-epochs", 2, "--checkpoint-interval", 40, "--eval-interval", 200,
             "--generate-tokens", 0, "--quiet"]
    killed = subprocess.Popen(command("train", "--corpus", corpus, "--out", tmp_path / "run",
                                      *flags), cwd=ROOT, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    wait_for_checkpoint(tmp_path / "run", killed, min_step=80)
    killed.send_signal(signal.SIGKILL)
    assert killed.wait() == -signal.SIGKILL
    assert json.loads((tmp_path / "run/report.json").read_text())["status"] == "running"
    resumed = cli("train", "--resume", tmp_path / "run", "--quiet", "--generate-tokens", 0)
    assert resumed.returncode == 0, resumed.stderr
    whole = LittleBaby.train_new({**TINY, "n_epochs": 2}, corpus, out=tmp_path / "whole",
                                 quiet=True)
    again = LittleBaby.load(tmp_path / "run")
    for key, value in whole.params.items():
        np.testing.assert_array_equal(again.params[key], value, err_msg=key)
    report = json.loads((tmp_path / "run/report.json").read_text())
    assert report["final"] == whole.report["final"] and report["status"] == "complete"
    assert [e["train"] for e in report["losses"]["epochs"]] == \
        [e["train"] for e in whole.report["losses"]["epochs"]]


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_ctrl_c_or_sigterm_saves_a_checkpoint_and_says_how_to_resume(signum, tmp_path):
    corpus = tmp_path / "english.txt"
    corpus.write_text(english(n_lines=300), encoding="utf-8")
    proc = subprocess.Popen(command("train", "--corpus", corpus, "--out", tmp_path / "run",
                                    *TINY_FLAGS, "--n-epochs", 3, "--checkpoint-interval", 20,
                                    "--quiet"),
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for_checkpoint(tmp_path / "run", proc, min_step=20)
    proc.send_signal(signum)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signum and f"--resume {tmp_path / 'run'}" in stderr
    report = json.loads((tmp_path / "run/report.json").read_text())
    assert report["status"].startswith("interrupted at step")
    assert (tmp_path / "run" / CHECKPOINT).is_file()


def test_generate_with_the_shipped_default_model(tmp_path):
    folder = shipped_folder(AGES[DEFAULT_AGE].guid)
    if folder is None:
        pytest.skip(f"{DEFAULT_AGE} is not trained yet (python -m little_baby.tools.train_ages)")
    files = snapshot(folder)
    r = cli("generate", "--prompt", "ROMEO:", "--max-tokens", 40, "--seed", 1,
            "--store", tmp_path / "empty")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("ROMEO:") and len(r.stdout) == len("ROMEO:") + 40 + 1
    assert snapshot(folder) == files  # no completion.json inside the package


def test_info_shows_the_loss_curve_only_where_there_is_one(trained, tmp_path, capsys):
    """A trained model saved elsewhere keeps its report, which names a loss curve, but
    not the picture: info does not point at a file that is not there."""
    cache, guid, _ = trained
    code, out, _ = in_process(capsys, "info", guid, "--store", cache)
    assert code == 0 and f"curve      {cache / guid / 'loss_curve.png'}" in out
    LittleBaby.load(guid, store=cache).save(tmp_path / "copy")
    code, out, _ = in_process(capsys, "info", tmp_path / "copy")
    assert code == 0 and "\ncurve " not in out
