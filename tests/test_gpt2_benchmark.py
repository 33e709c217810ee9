"""benchmarks/gpt2_small.py at its tiny shape: both sides run, hold the same tied GPT-2
(the same parameter count: the output layer counted once), and the figures are sane."""
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def load_benchmark():
    spec = importlib.util.spec_from_file_location("gpt2_small", ROOT / "benchmarks" / "gpt2_small.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_model_flops_count_the_blocks_the_tied_head_and_attention():
    bench = load_benchmark()
    shape = dict(n_layer=2, n_embd=8, n_head=2, n_positions=16, vocab_size=10)
    per_token = 2 * (2 * 12 * 8 * 8 + 10 * 8) + 2 * 4 * 4 * 8
    assert bench.model_flops(shape, batch=3, ctx=4) == per_token * 12


def test_the_tiny_shape_runs_both_sides(tmp_path):
    pytest.importorskip("torch", reason="torch's CPU build is the other side")
    pytest.importorskip("transformers", reason="transformers' GPT2LMHeadModel is the other side")
    out = tmp_path / "figures.json"
    run = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "gpt2_small.py"), "--shape",
                          "tiny", "--steps", "1", "--gen-tokens", "4", "--threads", "1",
                          "--json", str(out)], capture_output=True, text=True, timeout=300,
                         cwd=ROOT)
    assert run.returncode == 0, run.stdout + run.stderr
    results = json.loads(out.read_text())["results"]
    ours, torch = results["ours"], results["torch eager"]
    assert ours["params"] == torch["params"] == 172_288  # tied on both sides
    for r in (ours, torch):
        assert r["step_s"] > 0 and r["forward_s"] > 0 and r["gen_tokens_per_s"] > 0
        assert 0 < r["mfu"] < 2 and r["peak_mib"] > 10
    assert "torch's time / ours" in run.stdout
