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


def test_model_flops_are_what_torch_counts_in_gpt2s_forward():
    """MFU's numerator against an independent count: torch's FlopCounterMode over the
    matmuls transformers' GPT2LMHeadModel runs in a forward pass (eager attention, so q.k
    and att.v are matmuls too): the blocks, the tied head once, attention at this ctx."""
    torch = pytest.importorskip("torch", reason="torch counts the FLOPs it runs")
    transformers = pytest.importorskip("transformers", reason="its GPT2LMHeadModel is counted")
    from torch.utils.flop_counter import FlopCounterMode
    shape = dict(n_layer=2, n_embd=12, n_head=3, n_positions=16, vocab_size=20)
    config = transformers.GPT2Config(**shape, attn_implementation="eager", bos_token_id=0,
                                     eos_token_id=0)
    model = transformers.GPT2LMHeadModel(config).eval()
    with torch.no_grad(), FlopCounterMode(display=False) as counted:
        model(torch.zeros(2, 5, dtype=torch.long))
    assert load_benchmark().model_flops(shape, batch=2, ctx=5) == counted.get_total_flops()


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
