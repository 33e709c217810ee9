"""The engine's GPU path on tests/cupy_standin.py, a strict stand-in for CuPy (issue 25).

The stand-in's arrays refuse every implicit trip to the host, so whatever here runs on it
makes only the explicit transfers it counts. Checked: the stand-in itself (what it
refuses, what it allows, CuPy's names and signatures where CuPy is installed); the whole
engine on it against NumPy and the reference (forward, backward and finite differences
for every variant, training steps, generation with and without the KV cache, save and
load, a training run with checkpoints); the transfers a training step and a generated
token make; and the GPU check's paths that run without a GPU (little_baby/tools/gpu_check.py,
scripts/gpu_check.sh, little-baby doctor --gpu-check).
"""
import inspect
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from little_baby import BabyConfig, CharTokenizer, LittleBaby
from little_baby.engine import reference
from little_baby.engine.attention import ATTENTIONS
from little_baby.engine.backend import to_host
from little_baby.engine.network import NETWORKS
from little_baby.training.trainer import Trainer
from tests import cupy_standin
from tests.cupy_standin import TRANSFERS, HostTransferError
from tests.gradcheck import TINY, assert_close
from tests.little_texts import english
from tests.test_generation import collected_logits

ROOT = Path(__file__).resolve().parents[1]
VARIANTS = [(a, "mlp") for a in ATTENTIONS] + [("mha", n) for n in NETWORKS if n != "mlp"]
IDS = [f"{a}-{n}" for a, n in VARIANTS]
SETTINGS = dict(n_kv_heads=1, s_window=3, n_groups=2, n_rank=2, n_experts=3)


@pytest.fixture
def cp():
    """`import cupy` gives the stand-in during the test; its transfer counts start at 0."""
    with cupy_standin.installed() as module:
        yield module


def pair(attention="mha", network="mlp", seed=1, **more):
    """The same float64 model on NumPy and on the stand-in 'GPU' (weights moved off their
    initial values), and a batch (x, y) of 3 rows."""
    cfg = dict(TINY, c_attention=attention, c_network=network, **SETTINGS, **more)
    cpu = LittleBaby(BabyConfig(**cfg), CharTokenizer(list("abcdefg")))
    rng = np.random.default_rng(seed)
    for v in cpu.params.values():
        v += rng.normal(0, 0.1, v.shape)
    gpu = LittleBaby(BabyConfig(**cfg, c_device="gpu"), cpu.tokenizer, params=dict(cpu.params))
    x, y = rng.integers(0, 7, (3, cfg["n_ctx"])), rng.integers(0, 7, (3, cfg["n_ctx"]))
    return cpu, gpu, x, y


# ---- the stand-in itself ----------------------------------------------------------------------
def test_the_standin_refuses_every_implicit_trip_to_the_host(cp):
    a = cp.arange(6, dtype=cp.float32).reshape(2, 3)
    s = a.sum()  # a reduction gives a 0-d device array, as CuPy's do
    assert isinstance(s, cp.ndarray) and s.shape == ()
    refused = [lambda: float(s), lambda: int(s), lambda: bool(s), lambda: complex(s),
               lambda: s.item(), lambda: a.tolist(), lambda: list(a), lambda: np.asarray(a),
               lambda: f"{s:.3f}", lambda: [0, 1][s.astype(cp.int64)], lambda: np.sum(a),
               lambda: a + np.ones(3), lambda: np.ones(3) * a, lambda: a[np.array([0])],
               lambda: a.__setitem__(0, np.zeros(3)), lambda: cp.maximum(a, np.zeros(3)),
               lambda: cp.asarray([a, a])]
    for trip in refused:
        with pytest.raises(HostTransferError, match="test_cupy_standin.py"):
            trip()
    assert TRANSFERS == {"to_host": 0, "to_device": 0}


def test_the_standin_allows_what_cupy_makes_explicit(cp):
    a = cp.asarray(np.arange(6.0).reshape(2, 3))           # an upload, counted
    b = np.float32(2.0) * a + 1                              # NumPy scalars mix, as in CuPy
    assert isinstance(b, cp.ndarray) and b.dtype == np.float64
    np.testing.assert_array_equal(cp.asnumpy(b), 2 * np.arange(6.0).reshape(2, 3) + 1)
    np.testing.assert_array_equal(b.get()[1], [7, 9, 11])
    assert to_host(b[0, 0]) == 1.0 and len(a) == 2 and a.T.shape == (3, 2)
    d = cp.zeros(4)
    cp.add.at(d, cp.asarray([0, 0, 3]), 1.0)                 # scatter-add, CuPy 14's way
    np.testing.assert_array_equal(d.get(), [2, 0, 0, 1])
    assert TRANSFERS == {"to_host": 4, "to_device": 2}
    assert "shape=(2, 3)" in repr(a)  # repr shows no values: they would need a transfer
    element = a[1, 2]  # one element is a 0-d view, as in CuPy: it follows its array
    a[1, 2] = 7.0
    assert element.shape == () and to_host(element) == 7.0


def test_the_standin_random_generator_is_cupys_api_with_its_own_stream(cp):
    rng = cp.random.default_rng(0)
    draws = rng.standard_normal((1000,), dtype="float32")
    assert isinstance(draws, cp.ndarray) and draws.dtype == np.float32
    assert not np.allclose(draws.get(), np.random.default_rng(0).standard_normal(1000))
    bits = rng.integers(0, 65536, size=10, dtype=cp.uint16)
    assert bits.dtype == np.uint16 and isinstance(rng.random(), cp.ndarray)
    assert not isinstance(rng.bit_generator.state, dict)  # CuPy's is a method, not a dict
    with pytest.raises(TypeError):
        rng.standard_normal(3, dtype="int32")


def test_the_standin_offers_only_cupys_names_with_cupys_signatures():
    """Checked against the real CuPy where it is installed (it imports without a GPU)."""
    cupy = pytest.importorskip("cupy")
    if cupy is cupy_standin:
        pytest.skip("the stand-in is installed as cupy")
    names = [n for n in dir(cupy_standin) if not n.startswith("_") and n not in {
        "HostTransferError", "TRANSFERS", "reset_counts", "installed", "contextlib", "functools",
        "operator", "os", "sys", "traceback", "types", "numpy", "ufunc"}]
    for name in names:
        assert hasattr(cupy, name), f"cupy has no {name}"
        ours, theirs = getattr(cupy_standin, name), getattr(cupy, name)
        if inspect.isfunction(ours):
            want = list(inspect.signature(theirs).parameters)
            got = list(inspect.signature(ours).parameters)
            assert got == want[:len(got)], f"cupy.{name}{inspect.signature(theirs)}"
    for method, ours in vars(cupy_standin.ndarray).items():  # Cython: the doc's first line
        if method.startswith("_") or not callable(ours):
            continue
        theirs = getattr(cupy.ndarray, method)
        try:
            want = list(inspect.signature(theirs).parameters)
        except ValueError:
            first = theirs.__doc__.splitlines()[0]
            want = [p.split("=")[0].split()[-1].lstrip("*")
                    for p in first.split("(", 1)[1].split(")")[0].split(",")]
        assert list(inspect.signature(ours).parameters) == want, f"cupy.ndarray.{method}"
    for space in ("random", "cuda", "cuda.runtime"):
        ours, theirs = cupy_standin, cupy
        for part in space.split("."):
            ours, theirs = getattr(ours, part), getattr(theirs, part)
        for name in vars(ours):
            assert hasattr(theirs, name), f"cupy.{space} has no {name}"
    for method in ("integers", "random", "standard_normal", "uniform"):
        want = list(inspect.signature(getattr(cupy.random.Generator, method)).parameters)
        got = list(inspect.signature(getattr(cupy_standin.random.Generator, method)).parameters)
        assert got == want, method
    want = list(inspect.signature(cupy.random.default_rng).parameters)
    assert list(inspect.signature(cupy_standin.random.default_rng).parameters) == want
    assert hasattr(cupy.add, "at")


# ---- the engine on it ---------------------------------------------------------------------------
@pytest.mark.parametrize("c_sequence", ["pre", "post"])
def test_forward_equals_the_reference_forward(cp, c_sequence):
    cpu, gpu, x, _ = pair(c_sequence=c_sequence)
    logits = gpu.logits(x)
    assert isinstance(logits, cp.ndarray)
    for row in range(3):
        expected = reference.gpt(cp.asarray(x[row]), gpu.params, gpu.config)  # on the device
        np.testing.assert_allclose(to_host(logits[row]), to_host(expected), rtol=0, atol=1e-10)
    np.testing.assert_allclose(to_host(logits), cpu.logits(x), rtol=0, atol=1e-12)


@pytest.mark.parametrize("attention,network", VARIANTS, ids=IDS)
def test_backward_of_every_variant_equals_numpy_and_finite_differences(cp, attention, network):
    cpu, gpu, x, y = pair(attention, network)
    loss_c, grads_c = cpu.loss_and_grads(x, y)
    loss_g, grads_g = gpu.loss_and_grads(x, y)
    assert isinstance(loss_g, float) and loss_g == pytest.approx(loss_c, rel=1e-12)
    assert list(grads_g) == list(gpu.params)
    rng = np.random.default_rng(0)
    for key, value in gpu.params.items():
        analytic = to_host(grads_g[key]).reshape(-1)
        np.testing.assert_allclose(analytic, grads_c[key].reshape(-1), rtol=1e-9, atol=1e-12,
                                   err_msg=key)
        if attention == "swh":  # a straight-through gradient: not the loss's derivative
            continue
        flat = value.reshape(-1)  # a view of the device weights
        idx = rng.choice(flat.size, min(3, flat.size), replace=False)
        numeric = []
        for i in idx:
            old = flat[i].copy()
            flat[i] = old + 1e-6
            up = gpu.loss(x, y)
            flat[i] = old - 1e-6
            down = gpu.loss(x, y)
            flat[i] = old
            numeric.append((up - down) / 2e-6)
        assert_close(analytic[idx], np.array(numeric), f"{attention}-{network} {key}")


@pytest.mark.parametrize("big_vocab", [False, True], ids=["one-hot", "add.at"])
def test_tied_embeddings_on_the_device_equal_numpy_and_finite_differences(cp, monkeypatch,
                                                                          big_vocab):
    """c_tie: logits x @ wte.T, wte's gradient the sum of its two uses, with no implicit
    host transfer; generation (the tied step) equals NumPy's."""
    if big_vocab:
        from little_baby.engine import ops
        monkeypatch.setattr(ops, "ONE_HOT_MAX_VOCAB", 2)
    cpu, gpu, x, y = pair(c_tie=True)
    assert "lm_head.weight" not in gpu.params
    for row in range(3):
        expected = reference.gpt(cp.asarray(x[row]), gpu.params, gpu.config)
        np.testing.assert_allclose(to_host(gpu.logits(x)[row]), to_host(expected), atol=1e-10)
    loss_c, grads_c = cpu.loss_and_grads(x, y)
    loss_g, grads_g = gpu.loss_and_grads(x, y)
    assert loss_g == pytest.approx(loss_c, rel=1e-12)
    for key in gpu.params:
        np.testing.assert_allclose(to_host(grads_g[key]), grads_c[key], rtol=1e-9, atol=1e-12,
                                   err_msg=key)
    flat = gpu.params["wte.weight"].reshape(-1)
    analytic = to_host(grads_g["wte.weight"]).reshape(-1)
    numeric = []
    for i in range(0, flat.size, 7):
        old = flat[i].copy()
        flat[i] = old + 1e-6
        up = gpu.loss(x, y)
        flat[i] = old - 1e-6
        down = gpu.loss(x, y)
        flat[i] = old
        numeric.append((up - down) / 2e-6)
    assert_close(analytic[::7], np.array(numeric), "tied wte")
    ids_g, rows_g = collected_logits(gpu, [1, 2, 3], 12, use_cache=True)
    ids_c, rows_c = collected_logits(cpu, [1, 2, 3], 12, use_cache=True)
    assert ids_g == ids_c
    np.testing.assert_allclose(rows_g, rows_c, rtol=1e-10, atol=1e-12)


def test_large_vocabularies_scatter_add_with_cupys_add_at(cp):
    """Past ONE_HOT_MAX_VOCAB the embedding's backward is a scatter-add (add.at)."""
    from little_baby.engine.ops import ONE_HOT_MAX_VOCAB, embedding_backward
    rng = np.random.default_rng(0)
    V = ONE_HOT_MAX_VOCAB + 500
    idx = rng.integers(0, 40, (3, 9))  # repeated ids: their rows must add up
    dx = rng.normal(size=(3, 9, 5))
    expected = embedding_backward(dx, idx, V)
    got = embedding_backward(cp.asarray(dx), cp.asarray(idx), V)
    for e, g in zip(expected, got):
        np.testing.assert_allclose(to_host(g), e, rtol=1e-12)


def test_training_steps_give_numpys_losses_with_two_transfers_each(cp):
    text = english()
    tok = CharTokenizer.from_text(text)
    ids = np.asarray(tok.encode(text))
    cfg = dict(n_ctx=16, n_emb=16, head_size=16, n_heads=2, n_layers=2, batch_size=4,
               r_dropout=0.0)
    cpu = LittleBaby(BabyConfig(**cfg, c_device_cpu_cores=1), tok)
    gpu = LittleBaby(BabyConfig(**cfg, c_device="gpu"), tok, params=dict(cpu.params))
    t_cpu, t_gpu = Trainer(cpu, 8), Trainer(gpu, 8)
    rng = np.random.default_rng(0)
    for step in range(8):
        starts = rng.integers(0, len(ids) - 17, 4)
        w = ids[starts[:, None] + np.arange(17)]
        before = TRANSFERS["to_host"]
        loss_g, norm_g = t_gpu.step(w[:, :-1], w[:, 1:])
        assert TRANSFERS["to_host"] - before == 2, "a step brings back its loss and norm only"
        loss_c, norm_c = t_cpu.step(w[:, :-1], w[:, 1:])
        assert loss_g == pytest.approx(loss_c, rel=1e-5) and norm_g == pytest.approx(norm_c, rel=1e-4)
    assert loss_g < np.log(tok.vocab_size)  # it learned something
    np.testing.assert_allclose(to_host(gpu.flat), cpu.flat, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("attention,network", VARIANTS, ids=IDS)
def test_generation_with_and_without_the_cache_equals_numpys(cp, attention, network):
    cpu, gpu, _, _ = pair(attention, network)  # n_ctx 8: 20 tokens slide the window
    before = TRANSFERS["to_host"]
    ids_g, cached = collected_logits(gpu, [1, 2, 3], 20, use_cache=True)
    assert TRANSFERS["to_host"] - before == 20, "one transfer per generated token"
    ids_u, uncached = collected_logits(gpu, [1, 2, 3], 20, use_cache=False)
    ids_c, numpy_rows = collected_logits(cpu, [1, 2, 3], 20, use_cache=True)
    assert ids_g == ids_u == ids_c
    np.testing.assert_allclose(cached, uncached, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(cached, numpy_rows, rtol=1e-10, atol=1e-12)


def test_generate_text_makes_one_transfer_per_token_in_float32(cp):
    baby = LittleBaby(BabyConfig(**{**TINY, "d_type": "fp32"}, c_device="gpu"),
                      CharTokenizer(list("abcdefg")))
    assert TRANSFERS["to_host"] == 1  # the backend's CuPy check brings back its product
    text = baby.generate("abc", max_new_tokens=25, seed=4, top_k=3, top_p=0.9)
    assert len(text) == 25 and TRANSFERS["to_host"] == 26
    assert text == baby.generate("abc", max_new_tokens=25, seed=4, top_k=3, top_p=0.9)


def test_save_and_load_on_the_device(cp, tmp_path):
    cpu, gpu, x, _ = pair("gqa", "swi")
    folder = gpu.save(tmp_path / "model")
    loaded = LittleBaby.load(folder, c_device="gpu")
    assert isinstance(loaded.flat, cp.ndarray)
    np.testing.assert_array_equal(to_host(loaded.logits(x)), to_host(gpu.logits(x)))
    np.testing.assert_array_equal(LittleBaby.load(folder, c_device="cpu").logits(x),
                                  cpu.logits(x))


def test_a_training_run_with_checkpoints_and_dropout_on_the_device(cp, tmp_path):
    config = BabyConfig(n_ctx=16, n_emb=16, head_size=16, n_heads=2, n_layers=1, batch_size=4,
                        r_dropout=0.1, c_device="gpu")
    text = english()
    baby = LittleBaby(config, CharTokenizer.from_text(text))
    report = baby.fit(text, max_iters=6, eval_interval=3, eval_iters=2, checkpoint_interval=3,
                      out=tmp_path / "run", quiet=True)
    evals = report["losses"]["evals"]
    assert evals and all(np.isfinite([e["train"] for e in evals]))
    assert isinstance(baby.flat, cp.ndarray)
    assert json.loads((tmp_path / "run" / "report.json").read_text())["losses"]["evals"]


def test_a_deliberate_float_in_a_forward_fails_naming_its_line(cp, monkeypatch):
    from little_baby.engine.network import mlp
    gelu = mlp.gelu_forward

    def gelu_with_a_host_trip(u):
        print(float(u.max()))  # the deliberate implicit transfer
        return gelu(u)

    line = inspect.getsourcelines(gelu_with_a_host_trip)[1] + 1
    monkeypatch.setattr(mlp, "gelu_forward", gelu_with_a_host_trip)
    _, gpu, x, _ = pair()
    with pytest.raises(HostTransferError, match=rf"test_cupy_standin\.py:{line} in gelu_with_a"):
        gpu.logits(x)


# ---- the GPU check without a GPU ---------------------------------------------------------------
def test_gpu_check_without_a_gpu_says_so_in_one_line_and_exits_0(capsys):
    from little_baby import platforms
    from little_baby.cli.main import main
    cuda = platforms.detect_cuda()
    if cuda.gpus or cuda.driver is not None:
        pytest.skip("this machine has an NVIDIA driver: the check would run for real")
    done = subprocess.run([str(ROOT / "scripts" / "gpu_check.sh")], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("\n") == 1 and "no NVIDIA GPU" in done.stdout, done.stdout
    assert done.stderr == ""
    assert main(["doctor", "--gpu-check"]) == 0
    assert capsys.readouterr().out == done.stdout


def test_gpu_check_runs_every_part_on_the_standin():
    """Every part of the GPU check, small, on the stand-in (torch on the CPU if installed):
    one JSON summary, every part ok."""
    done = subprocess.run([sys.executable, "-m", "little_baby.tools.gpu_check", "--standin"],
                          capture_output=True, text=True, timeout=300, cwd=ROOT)
    summary = json.loads(done.stdout)
    failed = {k: v for k, v in summary["parts"].items() if not v.get("ok")}
    assert not failed, failed
    assert done.returncode == 0 and summary["ok"]
    parts = summary["parts"]
    assert set(parts) == {"gradcheck", "train", "generate", "bench", "torch"}
    assert parts["gradcheck"]["variants"] == len(VARIANTS) + 1
    assert parts["train"]["max_abs_difference"] < 1e-3
    assert parts["generate"]["greedy_agreement_with_cpu"]["gpu_uncached"] == 1.0


def test_gpu_check_goes_on_past_a_part_that_hangs_or_crashes(monkeypatch, capsys):
    """A part that times out or dies says so in the summary; the others still run."""
    from little_baby.tools import gpu_check
    real = gpu_check.run_child

    def run_child(args, timeout, env=None):
        if "train" in args:
            return None, "", "stuck in a kernel"          # killed at its time limit
        if "generate" in args:
            return -11, "", "Segmentation fault"           # CUDA took the process down
        return real(args, timeout, env)

    monkeypatch.setattr(gpu_check, "run_child", run_child)
    code = gpu_check.main(["--standin", "--only", "train", "gradcheck", "generate"])
    summary = json.loads(capsys.readouterr().out)
    assert code == 1 and not summary["ok"]
    parts = summary["parts"]
    assert list(parts) == ["gradcheck", "train", "generate"] and parts["gradcheck"]["ok"]
    assert "timed out" in parts["train"]["error"] and "stuck" in parts["train"]["stderr_tail"]
    assert "code -11" in parts["generate"]["error"]


def test_gpu_check_says_why_when_cupy_cannot_be_installed(monkeypatch):
    """A GPU, no CuPy and no package index: the pip failure is in the summary."""
    from little_baby import platforms
    from little_baby.tools import gpu_check
    cuda = platforms.Cuda(gpus=(), driver=(12, 8), driver_source="nvidia-smi", toolkit=None,
                          toolkit_source=None, problems=())
    monkeypatch.setattr(platforms, "detect_cuda", lambda: cuda)
    monkeypatch.setattr(platforms, "probe_cupy", lambda python=None, timeout=None:
                        platforms.CupyStatus(problem="ModuleNotFoundError: No module named 'cupy'"))
    monkeypatch.setenv("PIP_INDEX_URL", "http://127.0.0.1:9/simple")  # nothing listens there
    monkeypatch.setenv("PIP_NO_CACHE_DIR", "1")
    found = gpu_check.make_cupy_work(120)
    assert not found["ok"] and found["requirement"] == "cupy-cuda12x[ctk]"
    assert "pip install" in found["error"] and "cupy-cuda12x" in found["error"]


def test_gpu_check_without_the_package_still_asks_its_cupy_check(monkeypatch):
    """little_baby's dependencies missing: engine/cupy_check.py, run by path, answers."""
    import importlib.util
    from little_baby.tools import gpu_check
    if importlib.util.find_spec("cupy") is not None:
        pytest.skip("CuPy is installed here: the check's answer depends on the GPU")
    import little_baby
    monkeypatch.setitem(sys.modules, "little_baby.platforms", None)  # `import` raises
    monkeypatch.delattr(little_baby, "platforms", raising=False)
    found = gpu_check.make_cupy_work(120)
    assert not found["ok"] and "little_baby cannot be imported" in found["error"]
    assert found["error"].endswith("CuPy: ModuleNotFoundError: No module named 'cupy'")
