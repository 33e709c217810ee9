"""`little-baby bench --profile` and `--against torch`: they run and their figures add up
(speed itself is measured by the commands, never asserted in tests)."""
import importlib.util
import json

import pytest

from little_baby.cli import main
from little_baby.tools import profile


def test_the_profile_accounts_for_the_step(capsys):
    result = profile.profile_training("baby", steps=2, warmup=1)
    names = {name for name, _, _ in result["rows"]}
    assert {"ops.linear_forward", "ops.linear_backward", "optim.AdamW.step",
            "(outside the engine)"} <= names
    engine = sum(ms for name, ms, _ in result["rows"] if name != "(outside the engine)")
    capacity = result["ms_per_step"] * result["threads"]
    assert 0 < engine <= capacity * 1.02  # own times never add up to more than the cores had
    assert all(ms >= 0 for name, ms, _ in result["rows"] if name != "(outside the engine)")
    # and the engine is left as it was: no timer stays wrapped around a function
    from little_baby.engine import ops
    assert not hasattr(ops.linear_forward, "__wrapped__")


def test_bench_profile_prints_the_table(capsys):
    assert main(["bench", "--profile", "--shape", "baby", "--steps", "1"]) == 0
    out = capsys.readouterr().out
    assert "ops.linear_backward" in out and "(outside the engine)" in out
    # the roofline's floor: the baby's 3.96 GFLOP of matmuls a step (issue 26's figure)
    assert "floor: 3.96 GFLOP of matmuls" in out


@pytest.mark.skipif(importlib.util.find_spec("torch") is None,
                    reason="needs torch: pip install torch==2.13.0 --index-url "
                           "https://download.pytorch.org/whl/cpu")
def test_bench_against_torch_gives_ratios(capsys):
    assert main(["bench", "--against", "torch", "--shape", "baby", "--rounds", "1",
                 "--steps", "1", "--no-compile", "--gen-tokens", "80", "--json"]) == 0
    result = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert set(result["ratios"]) == {"torch eager"}
    assert result["ratios"]["torch eager"] == pytest.approx(
        result["median_ms"]["torch eager"] / result["median_ms"]["ours"])
    gen = result["generation"]  # 80 tokens: past the baby's n_ctx 64, so a window restarts
    assert set(gen["ours_over"]) == {"torch, no cache", "torch, KV cache"}
    assert gen["ours_over"]["torch, KV cache"] == pytest.approx(
        gen["median_tokens_per_s"]["ours, KV cache"] / gen["median_tokens_per_s"]["torch, KV cache"])


def test_torchs_kv_cache_loop_gives_the_whole_windows_logits():
    """The torch side's cached generation is a fair peer: its one-position steps after a
    prefill give the logits of the whole window, as ours do."""
    torch = pytest.importorskip("torch")
    from little_baby.tools.torch_gpt import GPT
    torch.manual_seed(0)
    model = GPT(16, 32, 4, 2, 0.0).eval()
    idx = torch.randint(0, 65, (1, 12))
    with torch.no_grad():
        caches = [[] for _ in model.blocks]
        model(idx[:, :5], caches=caches)
        steps = torch.stack([model.step(idx[:, i:i + 1], i, caches)[0] for i in range(5, 12)])
        torch.testing.assert_close(steps, model(idx)[0, 5:], rtol=0, atol=1e-5)


def test_the_torch_side_without_torch_says_how_to_install_it():
    import subprocess
    import sys
    r = subprocess.run([sys.executable, "-c", "import sys; sys.modules['torch'] = None\n"
                        "from little_baby.tools import torch_side\n"
                        "sys.exit(torch_side.main(['--steps', '1']))"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and r.stdout == "", r.stderr
    assert r.stderr.count("\n") == 1 and "pip install torch==2.13.0" in r.stderr


def test_a_measuring_process_that_dies_is_an_error_not_a_wait():
    """The OOM killer or a crash ends the child without a word: reported, not waited on."""
    import os
    from little_baby.tools.bench import run_isolated
    assert run_isolated(os._exit, 9) == {"error": "the measuring process died (exit code 9)"}
