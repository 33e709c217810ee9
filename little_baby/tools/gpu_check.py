"""The GPU check (issue 25): the engine on CuPy against the engine on NumPy, on this machine.

    little-baby doctor --gpu-check       # or: python -m little_baby.tools.gpu_check
    scripts/gpu_check.sh                 # the same, from a clone of the repository
    python -m little_baby.tools.gpu_check --budget 300   # seconds for all (default 450)
    python -m little_baby.tools.gpu_check --json out.json # the summary also written there

Without an NVIDIA GPU it says so in one line and exits 0. With one it:
  cupy      makes CuPy work: kept if `import cupy` runs a kernel, else the wheel
            little_baby.platforms chooses (cupy-cuda12x / cupy-cuda13x) is pip-installed
  gradcheck every attention and network variant, float64: the GPU's loss and gradients
            against the CPU's, and the GPU's gradients against finite differences
  train     the baby (the project's default shape, no dropout) a few hundred steps on both
            from the same weights and batches: the two loss curves compared
  generate  the 48-month model: greedy text with and without the KV cache on the GPU and
            on the CPU (the same tokens), and cached sampling's tokens per second
  bench     a training step and cached generation, ours on CuPy, for nanoGPT's baby (its
            GPU shape: 6 layers, 6 heads, 384 wide, 256 tokens, batch 64) and the 48-month
            shape (16 layers, 16 heads, 128 wide, 128 tokens, batch 32)
  torch     the same with PyTorch on the same GPU (skipped, saying so, without torch)
Each part runs in its own process with its own time limit, so one that fails, hangs or
crashes CUDA leaves the others to run; one JSON summary is printed last, always.

--standin runs the parts on tests/cupy_standin.py (NumPy pretending to be a GPU) with
small sizes, from a clone of the repository: how the tests check this on a machine
without a GPU.
"""
import sys
from pathlib import Path

if __name__ == "__main__":  # run by path: this folder's bench.py, datasets.py are not modules,
    HERE = Path(__file__).resolve().parent  # and this copy of little_baby (and tests/) is
    sys.path[:] = [str(HERE.parents[1])] + [p for p in sys.path if Path(p or ".").resolve() != HERE]

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import runpy  # noqa: E402
import signal  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402
import traceback  # noqa: E402

PACKAGE = Path(__file__).resolve().parents[1]  # little_baby/

MARKER = "GPU_CHECK_PART "
# (part, seconds it may take at most, whether it needs CuPy)
PARTS = [("gradcheck", 75, True), ("bench", 90, True), ("torch", 90, False),
         ("train", 100, True), ("generate", 60, True)]
INSTALL_SECONDS = 150
TRAIN_SECONDS = 60  # the train part stops there (after at least 100 steps) on a slow CPU
BABY = dict(n_ctx=64, n_emb=128, head_size=128, n_heads=4, n_layers=4, batch_size=16)
SHAPES = {  # the shapes timed against PyTorch: name -> config (with its batch_size)
    "nanogpt_baby": dict(n_ctx=256, n_emb=384, head_size=384, n_heads=6, n_layers=6,
                         batch_size=64),
    "age48": dict(n_ctx=128, n_emb=128, head_size=128, n_heads=16, n_layers=16, batch_size=32),
}
QUICK_SHAPES = {"nanogpt_baby": dict(n_ctx=16, n_emb=24, head_size=24, n_heads=6, n_layers=2,
                                     batch_size=4),
                "age48": dict(n_ctx=16, n_emb=16, head_size=16, n_heads=4, n_layers=2,
                              batch_size=4)}
VOCAB = 65


def say(text):
    print(f"gpu_check: {text}", file=sys.stderr, flush=True)


# ---- the parts (each runs in a fresh process: `gpu_check.py --part NAME`) ----------------------
def _numpy():
    import numpy
    return numpy


def _tokenizer(n=VOCAB):
    from little_baby import CharTokenizer
    return CharTokenizer([chr(32 + i) for i in range(n)])


def _text():
    """Shakespeare where the inputs are, else the package's own Markdown (the model cards:
    any text will do for comparing two devices)."""
    from little_baby.training.data import find_input
    path = find_input("shakespeare.txt")
    if path is not None:
        return path.read_text(encoding="utf-8"), path.name
    parts = sorted(PACKAGE.rglob("*.md"))
    text = "\n".join(p.read_text(encoding="utf-8", errors="replace") for p in parts)
    return (text * (1 + 200_000 // max(1, len(text))))[:400_000], "the package's Markdown"


def _config(**kw):
    from little_baby import BabyConfig
    return BabyConfig(**kw)


def _baby(cfg, tok, params=None):
    from little_baby import LittleBaby
    return LittleBaby(cfg, tok, params=params)


def _host(baby, a):
    return baby.backend.to_numpy(a)


def _sync():
    import cupy
    cupy.cuda.runtime.deviceSynchronize()


def part_gradcheck(quick):
    """Every variant, float64, the same weights and batch on both devices."""
    np = _numpy()
    from little_baby.engine.attention import ATTENTIONS
    from little_baby.engine.network import NETWORKS
    tiny = dict(n_ctx=8, n_emb=8, head_size=8, n_heads=2, n_layers=2, r_dropout=0.0,
                d_type="fp64", s_window=3, n_kv_heads=1, n_groups=2, n_rank=2, n_experts=2)
    combos = [("pre", a, "mlp") for a in ATTENTIONS] + [("pre", "mha", n) for n in NETWORKS
                                                        if n != "mlp"] + [("post", "mha", "mlp")]
    tok = _tokenizer(7)
    rng = np.random.default_rng(1)
    x, y = rng.integers(0, 7, (3, 8)), rng.integers(0, 7, (3, 8))
    worst, rows = 0.0, {}
    for seq, att, net in combos:
        cfg = dict(tiny, c_sequence=seq, c_attention=att, c_network=net)
        cpu = _baby(_config(**cfg), tok)
        for v in cpu.params.values():
            v += rng.normal(0, 0.1, v.shape)
        gpu = _baby(_config(**cfg, c_device="gpu"), tok, params=dict(cpu.params))
        loss_c, grads_c = cpu.loss_and_grads(x, y)
        loss_g, grads_g = gpu.loss_and_grads(x, y)
        err = abs(loss_g - loss_c) / abs(loss_c)
        for k, g in grads_c.items():
            err = max(err, float(np.abs(_host(gpu, grads_g[k]) - g).max() / (np.abs(g).max() + 1e-30)))
        rows[f"{seq}/{att}/{net}"] = float(f"{err:.3g}")
        worst = max(worst, err)
    # finite differences on the GPU itself (mha/mlp): a few entries of every weight
    cfg = dict(tiny, c_device="gpu")
    gpu = _baby(_config(**cfg), tok)
    _, grads = gpu.loss_and_grads(x, y)
    fd_worst = 0.0
    for key, value in gpu.params.items():
        flat, g = value.reshape(-1), _host(gpu, grads[key]).reshape(-1)
        for i in np.random.default_rng(0).choice(flat.size, min(3, flat.size), replace=False):
            i = int(i)
            old = float(_host(gpu, flat[i]))
            flat[i] = old + 1e-6
            up = gpu.loss(x, y)
            flat[i] = old - 1e-6
            down = gpu.loss(x, y)
            flat[i] = old
            numeric = (up - down) / 2e-6
            fd_worst = max(fd_worst, abs(g[i] - numeric) / (1e-7 + 1e-5 * abs(numeric)))
    return {"ok": bool(worst < 1e-9 and fd_worst <= 1.0), "variants": len(combos),
            "worst_relative_difference_gpu_vs_cpu": float(f"{worst:.3g}"),
            "finite_differences_worst_in_tolerances": float(f"{fd_worst:.3g}"),
            "per_variant": rows}


def part_train(quick):
    """The baby on both devices from the same weights, on the same batches."""
    np = _numpy()
    from little_baby import CharTokenizer
    from little_baby.training.data import TrainingData, encode_split
    from little_baby.training.trainer import Trainer
    text, source = _text()
    steps = 20 if quick else 300
    shape = dict(BABY, n_ctx=16, n_emb=16, head_size=16, n_layers=2, batch_size=4) if quick else BABY
    tok = CharTokenizer.from_text(text)
    cfg = dict(shape, r_dropout=0.0)
    cpu = _baby(_config(**cfg), tok)
    gpu = _baby(_config(**cfg, c_device="gpu"), tok, params=dict(cpu.params))
    data = TrainingData(*encode_split(tok, text, cpu.config.r_split), shape["n_ctx"],
                        shape["batch_size"])
    trainers = {"gpu": Trainer(gpu, steps), "cpu": Trainer(cpu, steps)}
    curves, seconds = {"cpu": [], "gpu": []}, {"cpu": 0.0, "gpu": 0.0}
    started = time.perf_counter()
    for step in range(steps):  # side by side, so a slow CPU shortens both curves alike
        x, y = data.random_batch(step)
        for name, trainer in trainers.items():
            start = time.perf_counter()
            curves[name].append(trainer.step(x, y)[0])
            if step >= 5:  # after the GPU's first kernels are compiled
                seconds[name] += time.perf_counter() - start
        if time.perf_counter() - started > TRAIN_SECONDS and step + 1 >= 100:
            break
    done = len(curves["gpu"])
    c, g = np.array(curves["cpu"]), np.array(curves["gpu"])
    tail = max(1, done // 10)
    end_c, end_g = float(c[-tail:].mean()), float(g[-tail:].mean())
    return {"ok": bool(np.isfinite(g).all() and abs(end_g - end_c) < 0.02 * end_c
                       and g[-tail:].mean() < g[:tail].mean() - (0.0 if quick else 0.5)),
            "text": source, "steps": done, "shape": shape,
            "loss_first_cpu": round(float(c[0]), 5), "loss_first_gpu": round(float(g[0]), 5),
            "loss_last_cpu": round(end_c, 5), "loss_last_gpu": round(end_g, 5),
            "max_abs_difference": round(float(np.abs(c - g).max()), 5),
            "max_abs_difference_first_50": round(float(np.abs(c - g)[:50].max()), 6),
            "ms_per_step_cpu": round(seconds["cpu"] / max(1, done - 5) * 1e3, 2),
            "ms_per_step_gpu": round(seconds["gpu"] / max(1, done - 5) * 1e3, 2),
            "curve_gpu_every_25": [round(float(v), 4) for v in g[::25]],
            "curve_cpu_every_25": [round(float(v), 4) for v in c[::25]]}


def part_generate(quick):
    """The 48-month model's greedy text, cached and not, on both devices (and in float16 on
    the GPU, reported only: float16 may part ways sooner); sampling speed."""
    from little_baby import LittleBaby
    n = 40 if quick else 300
    cpu = LittleBaby.load("age-48-months")
    gpu = LittleBaby.load("age-48-months", c_device="gpu")
    prompt = "ROMEO:"
    texts = {"cpu_cached": cpu.generate(prompt, n, temperature=0),
             "gpu_cached": gpu.generate(prompt, n, temperature=0),
             "gpu_uncached": gpu.generate(prompt, n, temperature=0, use_cache=False)}
    agree = {k: _agreement(texts["cpu_cached"], v) for k, v in texts.items()}
    rates = {}
    for name, baby in (("cpu", cpu), ("gpu", gpu)):
        baby.generate(prompt, 20, seed=1)  # warm-up
        start = time.perf_counter()
        sampled = baby.generate(prompt, n, seed=1)
        rates[name] = round(n / (time.perf_counter() - start), 1)
    result = {"ok": min(agree.values()) >= 0.5 and len(sampled) == n,
              "tokens": n, "greedy_agreement_with_cpu": agree,
              "cached_tokens_per_s": rates, "sample": sampled[:120]}
    try:
        half = LittleBaby.load("age-48-months", c_device="gpu", d_type="fp16")
        m = 8 if quick else n  # NumPy's float16 (the stand-in's) is slow
        result["fp16_greedy_agreement_with_cpu"] = _agreement(
            texts["cpu_cached"][:m], half.generate(prompt, m, temperature=0))
        start = time.perf_counter()
        half.generate(prompt, m, seed=1)
        result["fp16_cached_tokens_per_s"] = round(m / (time.perf_counter() - start), 1)
    except Exception as e:
        result["fp16_error"] = f"{type(e).__name__}: {e}"[:300]
    return result


def _agreement(a, b):
    """Share of positions where two texts agree, up to the first difference's aftermath."""
    same = next((i for i, (p, q) in enumerate(zip(a, b)) if p != q), min(len(a), len(b)))
    return round(same / max(1, len(a)), 3)


def part_bench(quick):
    """Our training step and cached generation on CuPy, for each shape."""
    np = _numpy()
    from little_baby.training.trainer import Trainer
    out = {}
    tok = _tokenizer()
    for name, shape in (QUICK_SHAPES if quick else SHAPES).items():
        baby = _baby(_config(**shape, r_dropout=0.0, c_device="gpu"), tok)
        trainer = Trainer(baby, 1000)
        rng = np.random.default_rng(0)
        B, T = shape["batch_size"], shape["n_ctx"]
        times = []
        for i in range(3 + (3 if quick else 10)):
            w = rng.integers(0, VOCAB, (B, T + 1))
            start = time.perf_counter()
            trainer.step(w[:, :-1], w[:, 1:])  # returns host floats: the step has finished
            if i >= 3:
                times.append(time.perf_counter() - start)
        n = min(20 if quick else 200, T - 1)  # within one window, as torch's below
        baby.generate(" ", 10, seed=0)
        start = time.perf_counter()
        baby.generate(" ", n, seed=0, temperature=0.8, top_k=40)
        gen = n / (time.perf_counter() - start)
        out[name] = {"shape": shape, "params": baby.n_params,
                     "ms_per_step": round(float(np.median(times)) * 1e3, 2),
                     "tokens_per_s_training": round(B * T / float(np.median(times))),
                     "generated_tokens_per_s_cached": round(gen, 1)}
    return {"ok": True, "ours_cupy": out}


def part_torch(quick):
    """The same shapes in PyTorch (nanoGPT's model; generation with a KV cache)."""
    try:
        import torch
    except ImportError:
        return {"ok": True, "skipped": "torch is not importable here: no PyTorch comparison"}
    if quick:
        device = "cpu"
    elif not torch.cuda.is_available():
        return {"ok": True, "skipped": f"torch {torch.__version__} sees no CUDA GPU "
                                       f"(a CPU build?): no PyTorch comparison"}
    else:
        device = "cuda"
    out = {}
    for name, shape in (QUICK_SHAPES if quick else SHAPES).items():
        out[name] = _torch_shape(torch, device, shape, quick)
    return {"ok": True, "torch": torch.__version__, "device": device,
            "gpu": torch.cuda.get_device_name(0) if device == "cuda" else None,
            "torch_cuda": out}


def _torch_shape(torch, device, shape, quick):
    import torch.nn as nn
    import torch.nn.functional as F
    B, T, C, h, L = (shape[k] for k in ("batch_size", "n_ctx", "n_emb", "n_heads", "n_layers"))

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.ln1, self.ln2 = nn.LayerNorm(C), nn.LayerNorm(C)
            self.qkv, self.proj = nn.Linear(C, 3 * C), nn.Linear(C, C)
            self.up, self.down = nn.Linear(C, 4 * C), nn.Linear(4 * C, C)

        def forward(self, x, cache=None):
            b, t, _ = x.shape
            q, k, v = self.qkv(self.ln1(x)).split(C, dim=2)
            q, k, v = (z.view(b, t, h, C // h).transpose(1, 2) for z in (q, k, v))
            if cache is None:
                y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
            else:  # one new position: append to the cache, attend to all of it
                keys, values, n = cache
                keys[:, :, n:n + t], values[:, :, n:n + t] = k, v
                y = F.scaled_dot_product_attention(q, keys[:, :, :n + t], values[:, :, :n + t],
                                                   is_causal=t > 1)
            x = x + self.proj(y.transpose(1, 2).reshape(b, t, C))
            return x + self.down(F.gelu(self.up(self.ln2(x)), approximate="tanh"))

    class GPT(nn.Module):
        def __init__(self):
            super().__init__()
            self.wte, self.wpe = nn.Embedding(VOCAB, C), nn.Embedding(T, C)
            self.blocks = nn.ModuleList(Block() for _ in range(L))
            self.ln_f, self.head = nn.LayerNorm(C), nn.Linear(C, VOCAB)

        def forward(self, idx, start=0, caches=None):
            pos = torch.arange(start, start + idx.shape[1], device=idx.device)
            x = self.wte(idx) + self.wpe(pos)
            for i, block in enumerate(self.blocks):
                x = block(x, None if caches is None else (*caches[i], start))
            return self.head(self.ln_f(x))

    model = GPT().to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, betas=(0.9, 0.99), weight_decay=0.1)
    times = []
    for i in range(3 + (3 if quick else 10)):
        w = torch.randint(0, VOCAB, (B, T + 1), device=device)
        start = time.perf_counter()
        logits = model(w[:, :-1])
        loss = F.cross_entropy(logits.view(-1, VOCAB), w[:, 1:].reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        norm = torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        loss.item(), norm.item()  # as ours: the loss and the norm come to the host
        if i >= 3:
            times.append(time.perf_counter() - start)
    ms = sorted(times)[len(times) // 2] * 1e3

    @torch.no_grad()
    def generate(n):
        model.eval()
        caches = [(torch.empty(1, h, T, C // h, device=device),
                   torch.empty(1, h, T, C // h, device=device)) for _ in range(L)]
        idx = torch.zeros((1, 1), dtype=torch.long, device=device)
        for pos in range(min(n, T)):
            logits = model(idx, pos, caches)[0, -1] / 0.8
            kth = torch.topk(logits, 40).values[-1]
            logits[logits < kth] = -float("inf")
            token = torch.multinomial(F.softmax(logits, dim=-1), 1).item()  # one per token
            idx = torch.tensor([[token]], device=device)
        return min(n, T)

    generate(10)
    start = time.perf_counter()
    n = generate(20 if quick else 200)
    rate = n / (time.perf_counter() - start)
    return {"ms_per_step": round(ms, 2), "tokens_per_s_training": round(B * T / ms * 1e3),
            "params": sum(p.numel() for p in model.parameters()),
            "generated_tokens_per_s_cached": round(rate, 1),
            "generated_tokens": n}


PART_FUNCTIONS = {"gradcheck": part_gradcheck, "train": part_train, "generate": part_generate,
                  "bench": part_bench, "torch": part_torch}


def run_part(name, standin, quick):
    """In this process: run one part, print its result after MARKER."""
    if standin:
        from tests import cupy_standin
        sys.modules["cupy"] = cupy_standin
    started = time.perf_counter()
    try:
        result = PART_FUNCTIONS[name](quick)
    except Exception as e:
        result = {"ok": False, "error": f"{type(e).__name__}: {e}"[:500],
                  "where": traceback.format_exc().strip().splitlines()[-3:]}
    result["seconds"] = round(time.perf_counter() - started, 1)
    print(MARKER + json.dumps(result, default=_plain), flush=True)


def _plain(value):
    """NumPy scalars (and anything else json cannot write) as plain values."""
    try:
        return value.item()
    except Exception:
        return str(value)


# ---- the driver ------------------------------------------------------------------------------
def run_child(args, timeout, env=None):
    """Run `args` (a list) with a time limit; (returncode or None on timeout, stdout, stderr)."""
    try:
        child = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                 errors="replace", start_new_session=True, env=env,
                                 stdin=subprocess.DEVNULL)
    except OSError as e:
        return -1, "", str(e)
    try:
        out, err = child.communicate(timeout=max(1, timeout))
        return child.returncode, out, err
    except subprocess.TimeoutExpired:
        try:
            os.killpg(child.pid, signal.SIGKILL)
        except OSError:
            pass
        out, err = child.communicate()
        return None, out, err


def _child_env():
    """This environment, with this copy of little_baby (and, in a clone, tests/) first on
    the path of the parts' processes."""
    paths = [str(PACKAGE.parent), *filter(None, [os.environ.get("PYTHONPATH")])]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}


def _tail(text, n=400):
    text = (text or "").strip()
    return text[-n:] if text else ""


def make_cupy_work(budget_left):
    """{"ok": CuPy runs a kernel here, ...}: a working CuPy is kept, else the chosen wheel
    is pip-installed (pip may have no network: that is said, and the other parts go on)."""
    try:
        from little_baby import platforms
    except Exception as e:  # its dependencies missing: only the package's CuPy check, by path
        check = runpy.run_path(str(PACKAGE / "engine" / "cupy_check.py"))  # standard library only
        _, out, err = run_child(check["command"](sys.executable), 90)
        found = check["read"](out) or {}
        return {"ok": bool(found.get("works")), "version": found.get("version"),
                "error": f"little_baby cannot be imported here ({type(e).__name__}: {e}): "
                         f"`pip install -e .` first; no CuPy install was tried"
                         + ("" if found.get("works") else
                            f"; CuPy: {found.get('problem') or _tail(err, 200)}")}
    cuda = platforms.detect_cuda()
    info = {"driver_cuda": platforms.version_text(cuda.driver),
            "toolkit_cuda": platforms.version_text(cuda.toolkit),
            "compute_capability": platforms.version_text(cuda.compute_capability),
            "gpus": [g.name for g in cuda.gpus]}
    status = platforms.probe_cupy(timeout=min(90, budget_left))
    if status.works:
        return {"ok": True, "installed_now": False, "version": status.version,
                "device": status.device, **info}
    choice = platforms.choose_cupy(cuda.driver, cuda.toolkit, cuda.compute_capability)
    command, advice = platforms.plan_install(choice, status)
    info.update(found=status.problem, requirement=choice.requirement, reason=choice.reason)
    if command is None:
        return {"ok": False, "installed_now": False, "error": " ".join(advice) or status.problem,
                **info}
    command = command + ["--disable-pip-version-check", "--progress-bar", "off",
                         "--retries", "1", "--timeout", "20"]
    say(f"CuPy does not work here ({status.problem}); installing: {' '.join(command)}")
    code, out, err = run_child(command, min(INSTALL_SECONDS, budget_left - 30))
    info["pip_command"] = " ".join(command)
    if code != 0:
        why = "timed out" if code is None else f"exit {code}"
        return {"ok": False, "installed_now": False,
                "error": f"pip install {why} (no network to PyPI?): {_tail(err or out, 300)}",
                **info}
    after = platforms.probe_cupy(timeout=90)
    return {"ok": after.works, "installed_now": True, "version": after.version,
            "device": after.device, **({} if after.works else {"error": after.problem}), **info}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--budget", type=float, default=450,
                        help="seconds for the whole check (default 450)")
    parser.add_argument("--standin", action="store_true",
                        help="run on tests/cupy_standin.py, small sizes (tests, no GPU)")
    parser.add_argument("--only", nargs="*", choices=[p for p, _, _ in PARTS],
                        help="run these parts only")
    parser.add_argument("--json", help="also write the summary to this file")
    parser.add_argument("--part", choices=list(PART_FUNCTIONS), help=argparse.SUPPRESS)
    parser.add_argument("--full", action="store_true", help=argparse.SUPPRESS)  # --part at
    args = parser.parse_args(argv)                                 # full size on the stand-in
    if args.part:
        run_part(args.part, args.standin, quick=args.standin and not args.full)
        return 0
    started = time.perf_counter()
    summary = {"gpu_check": 1, "standin": args.standin, "cupy": {"ok": False}, "parts": {}}
    try:
        if not args.standin and not has_gpu():
            print("gpu_check: no NVIDIA GPU or driver on this machine (nvidia-smi, NVML and "
                  "libcuda found none): nothing to check.")
            return 0
        run_parts(args, summary, started)
    except BaseException as e:  # whatever happens, the summary is printed
        summary["error"] = f"{type(e).__name__}: {e}"[:500]
    summary["ok"] = bool(summary["cupy"].get("ok")) and bool(summary["parts"]) and all(
        p.get("ok") for p in summary["parts"].values()) and "error" not in summary
    summary["seconds"] = round(time.perf_counter() - started, 1)
    text = json.dumps(summary, indent=1, default=_plain)
    print(text, flush=True)
    if args.json:
        try:
            Path(args.json).write_text(text + "\n", encoding="utf-8")
        except OSError as e:
            say(f"could not write {args.json}: {e}")
    return 0 if summary["ok"] else 1


def has_gpu():
    """Whether this machine has an NVIDIA GPU or driver (platforms' detection; nvidia-smi
    on PATH if the package cannot be imported)."""
    try:
        from little_baby import platforms
    except Exception:
        import shutil
        return shutil.which("nvidia-smi") is not None
    cuda = platforms.detect_cuda()
    if cuda.gpus or cuda.driver is not None:
        say(f"GPU: {', '.join(g.name for g in cuda.gpus) or '?'}; driver CUDA "
            f"{platforms.version_text(cuda.driver)}")
        return True
    return False


def run_parts(args, summary, started):
    left = lambda: args.budget - (time.perf_counter() - started)  # noqa: E731
    if args.standin:
        cupy = {"ok": True, "standin": "tests/cupy_standin.py (NumPy pretending to be a GPU)"}
    else:
        try:
            cupy = make_cupy_work(left())
        except Exception as e:  # the other parts still run
            cupy = {"ok": False, "error": f"{type(e).__name__}: {e}"}
    summary["cupy"] = cupy
    say(f"CuPy: {'works' if cupy['ok'] else 'does not work: ' + str(cupy.get('error'))}")
    for name, limit, needs_cupy in PARTS:
        if args.only and name not in args.only:
            continue
        if needs_cupy and not cupy["ok"]:
            summary["parts"][name] = {"ok": False, "skipped": "CuPy does not work here"}
            continue
        timeout = min(limit * (3 if args.standin else 1), left() - 5)
        if timeout < 5:
            summary["parts"][name] = {"ok": False, "skipped": "no time left in the budget"}
            continue
        say(f"{name} (at most {timeout:.0f} s) ...")
        child = [sys.executable, str(Path(__file__).resolve()), "--part", name]  # by path:
        # the torch part runs even where little_baby's own imports fail
        code, out, err = run_child(child + (["--standin"] if args.standin else []), timeout,
                                   env=_child_env())
        line = next((ln for ln in reversed(out.splitlines()) if ln.startswith(MARKER)), None)
        if line is not None:
            result = json.loads(line[len(MARKER):])
        elif code is None:
            result = {"ok": False, "error": f"timed out after {timeout:.0f} s",
                      "stderr_tail": _tail(err)}
        else:
            result = {"ok": False, "error": f"the part's process ended with code {code} and no "
                                            f"result", "stderr_tail": _tail(err)}
        summary["parts"][name] = result
        say(f"{name}: {'ok' if result.get('ok') else 'FAILED'} "
            f"({result.get('seconds', '?')} s) {result.get('error', result.get('skipped', ''))}")


if __name__ == "__main__":
    sys.exit(main())
