"""Benchmark: training-step time, tokens/s, model-FLOPs utilisation and peak memory at
the 'baby' and 'age-48-months' shapes, and generation speed with and without the cache.

    little-baby bench                           # both shapes
    little-baby bench --shape baby --attention mha --network mlp --steps 30
    little-baby bench --profile                 # where a step's time goes (tools/profile.py)
    little-baby bench --against torch --rounds 3   # beside nanoGPT's model in PyTorch
    python -m little_baby.tools.bench --shape baby   # the same, without the command

Each shape runs in a fresh process so its peak memory is its own. --against torch runs
ours, torch eager and torch.compile (tools/torch_side.py) each in its own process, in
turn, for --rounds rounds (these machines' speed drifts: alternating spreads the drift
over all three), and prints each one's median and the ratios; at the baby shape also
generation: ours with the KV cache against torch's loop without one (nanoGPT's) and with one.
"""
import argparse
import json
import multiprocessing
import queue as queue_module
import resource
import statistics
import sys
import time

import numpy

from ..config import ATTENTION_NAMES, NETWORK_NAMES
from ..engine.backend import usable_cores
from ..errors import BabyError
from ..training.trainer import Trainer
from .profile import print_profile, profile_training
from .shapes import SHAPES, VOCAB, fresh_baby
from .torch_side import INSTALL as TORCH_INSTALL

PEAK_SHAPES = [(768, 128, 512), (1024, 1024, 1024)]  # (n, k, m) of a @ b


def matmul_peak(seconds=1.0, shapes=PEAK_SHAPES):
    """This machine's float32 2-D matmul speed in GFLOP/s: the best over `shapes`."""
    best = 0.0
    for n, k, m in shapes:
        a = numpy.random.rand(n, k).astype(numpy.float32)
        b = numpy.random.rand(k, m).astype(numpy.float32)
        a @ b
        reps, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds / len(shapes):
            a @ b
            reps += 1
        best = max(best, 2 * n * k * m * reps / (time.perf_counter() - start) / 1e9)
    return best


def step_flops(cfg, baby):
    """Matmul FLOPs of one training step: 3x the forward's (forward + 2x backward).

    Forward per token: 2 x (parameters used in matmuls, not the embedding tables)
    plus attention's q.k and att.v products, 2 x 2 x T x head_size per layer (as computed:
    the full T x T, masked), which the O(T) variants gla and aft do not have.
    """
    tokens = cfg.batch_size * cfg.n_ctx
    matmul_params = sum(v.size for k, v in baby.params.items()
                        if v.ndim == 2 and not k.startswith(("wte.", "wpe.")))
    scores = cfg.c_attention not in ("gla", "aft")
    per_token = 2 * matmul_params + scores * cfg.n_layers * 4 * cfg.n_ctx * cfg.head_size
    return 3 * per_token * tokens


def print_floor(shape, overrides, peak):
    """The least a step could take here: its matmul FLOPs at this machine's matmul peak,
    every other operation free (a roofline's flat part)."""
    baby = fresh_baby(shape, overrides)
    gflop = step_flops(baby.config, baby) / 1e9
    print(f"  floor: {gflop:.2f} GFLOP of matmuls at this machine's float32 peak of {peak:.0f} "
          f"GFLOP/s take {gflop / peak * 1e3:.1f} ms, with nothing else costing anything")


def measure_training(shape, steps, overrides):
    """Median ms per training step (forward, backward, AdamW) and derived figures."""

    baby = fresh_baby(shape, overrides)
    cfg = baby.config
    trainer = Trainer(baby, total_steps=steps + 3)
    rng = numpy.random.default_rng(0)
    batch = lambda: rng.integers(0, VOCAB, (cfg.batch_size, cfg.n_ctx + 1))  # noqa: E731
    times = []
    for i in range(steps + 3):
        w = batch()
        start = time.perf_counter()
        trainer.step(w[:, :-1], w[:, 1:])
        if i >= 3:  # the first steps warm caches and the allocator
            times.append(time.perf_counter() - start)
    ms = statistics.median(times) * 1e3
    return {"shape": shape, "attention": cfg.c_attention, "network": cfg.c_network,
            "params": baby.n_params, "ms_per_step": ms,
            "tokens_per_s": cfg.batch_size * cfg.n_ctx / ms * 1e3,
            "gflop_per_step": step_flops(cfg, baby) / 1e9}


def measure_generation(shape, n_tokens, overrides, repeats=3):
    """Tokens/s generating n_tokens from a one-character prompt, with and without the
    cache (the median of `repeats` runs: a run lasts well under a second)."""
    baby = fresh_baby(shape, overrides)
    out = {}
    for use_cache in (True, False):
        baby.generate("A", max_new_tokens=20, seed=0, use_cache=use_cache)  # warm up
        rates = []
        for _ in range(repeats):
            start = time.perf_counter()
            baby.generate("A", max_new_tokens=n_tokens, seed=0, use_cache=use_cache)
            rates.append(n_tokens / (time.perf_counter() - start))
        out["cache" if use_cache else "no_cache"] = statistics.median(rates)
    return out


def _child(fn, args, queue):
    """fn(*args) in this (fresh) process, reported with the process's peak memory; an
    exception is reported as {"error": ...} (the parent would wait for ever otherwise)."""
    try:
        result = fn(*args)
        result["peak_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    except Exception as e:  # noqa: BLE001: reported, not lost
        result = {"error": f"{type(e).__name__}: {e}"}
    queue.put(result)


def run_isolated(fn, *args):
    """The dict fn(*args) returns, computed in a fresh process so that its peak memory
    (peak_mib, added) is its own; {"error": ...} if it raised or the process died (the
    OOM killer, a crash). `fn` must be importable."""
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_child, args=(fn, args, queue))
    proc.start()
    while True:
        try:
            result = queue.get(timeout=1)
            break
        except queue_module.Empty:
            if not proc.is_alive() and queue.empty():
                result = {"error": f"the measuring process died (exit code {proc.exitcode})"}
                break
    proc.join()
    return result


def _measured(fn, *args):
    """run_isolated for this module's measurements: an error is a BabyError."""
    result = run_isolated(fn, *args)
    if "error" in result:
        raise BabyError(f"the measurement failed: {result['error']}")
    return result


def add_arguments(parser):
    parser.add_argument("--shape", choices=[*SHAPES, "all"], default="all")
    parser.add_argument("--steps", type=int, default=20, help="timed training steps per shape")
    parser.add_argument("--attention", default="mha", choices=ATTENTION_NAMES,
                        help="c_attention variant (default mha)")
    parser.add_argument("--network", default="mlp", choices=NETWORK_NAMES,
                        help="c_network variant (default mlp)")
    parser.add_argument("--dropout", type=float, default=0.0, help="r_dropout while timing")
    parser.add_argument("--gen-tokens", type=int, default=500, help="tokens for the generation test")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON lines")
    parser.add_argument("--profile", action="store_true",
                        help="print where a training step's time goes, function by function")
    parser.add_argument("--against", choices=["torch"],
                        help="time nanoGPT's model in PyTorch (eager and torch.compile) beside ours")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds for --against")
    parser.add_argument("--no-compile", action="store_true",
                        help="with --against torch: leave torch.compile out (it compiles for a minute)")


def run(args):
    overrides = dict(c_attention=args.attention, c_network=args.network, r_dropout=args.dropout)
    shapes = list(SHAPES) if args.shape == "all" else [args.shape]
    if args.profile:
        peak = matmul_peak()
        for shape in shapes:
            print_profile(profile_training(shape, args.steps, overrides=overrides))
            print_floor(shape, overrides, peak)
        return 0
    if args.against:
        return against_torch(shapes, args, overrides)
    peak = matmul_peak()
    if not args.json:
        print(f"float32 2-D matmul peak here: {peak:.0f} GFLOP/s "
              f"(numpy {numpy.__version__}, Python {sys.version.split()[0]})")
        print(f"{'shape':6} {'variant':8} {'params':>9} {'ms/step':>8} {'tokens/s':>9} "
              f"{'GFLOP':>6} {'MFU':>5} {'peak MiB':>8}")
    for shape in shapes:
        r = _measured(measure_training, shape, args.steps, overrides)
        r["mfu"] = r["gflop_per_step"] / (r["ms_per_step"] / 1e3) / peak
        r["matmul_peak_gflops"] = peak
        if args.json:
            print(json.dumps(r))
        else:
            print(f"{shape:6} {r['attention'] + '/' + r['network']:8} {r['params']:9,} "
                  f"{r['ms_per_step']:8.1f} {r['tokens_per_s']:9,.0f} {r['gflop_per_step']:6.2f} "
                  f"{r['mfu']:5.0%} {r['peak_mib']:8.0f}")
    g = _measured(measure_generation, "baby", args.gen_tokens, overrides)
    if args.json:
        print(json.dumps({"generation": g}))
    else:
        print(f"generation at the baby shape, {args.gen_tokens} tokens: "
              f"{g['cache']:,.0f} tokens/s with the KV cache, {g['no_cache']:,.0f} without")
    return 0


def against_torch(shapes, args, overrides):
    """Ours, torch eager and torch.compile at each shape, `args.rounds` alternating rounds of
    separate processes; the medians and torch's time over ours (above 1: ours is faster).
    At the baby shape also generation (--gen-tokens): ours with the KV cache against torch's
    loop without one (nanoGPT's) and with one (tools/torch_gpt.py)."""
    import importlib.util
    import subprocess
    if importlib.util.find_spec("torch") is None:
        raise BabyError(f"--against torch needs PyTorch: {TORCH_INSTALL} (its CPU build).")
    sides = ["torch eager"] + ([] if args.no_compile else ["torch.compile"])
    threads = usable_cores()
    for shape in shapes:
        generate = shape == "baby" and args.gen_tokens > 0
        times = {"ours": [], **{side: [] for side in sides}}
        rates = {"ours, KV cache": [], "torch, no cache": [], "torch, KV cache": []}
        for _ in range(args.rounds):
            ours = _measured(measure_training, shape, args.steps, overrides)
            times["ours"].append(ours["ms_per_step"])
            if generate:
                g = _measured(measure_generation, shape, args.gen_tokens, overrides)
                rates["ours, KV cache"].append(g["cache"])
            for side in sides:
                command = [sys.executable, "-m", "little_baby.tools.torch_side", "--shape", shape,
                           "--steps", str(args.steps), "--threads", str(threads), "--json",
                           "--dropout", str(args.dropout)] + (["--compile"] if side != "torch eager" else [])
                if generate and side == "torch eager":
                    command += ["--gen-tokens", str(args.gen_tokens)]
                out = json.loads(subprocess.run(command, capture_output=True, text=True,
                                                check=True).stdout.splitlines()[-1])
                times[side].append(out["ms_per_step"])
                if "generation_cache_tokens_per_s" in out:
                    rates["torch, no cache"].append(out["generation_no_cache_tokens_per_s"])
                    rates["torch, KV cache"].append(out["generation_cache_tokens_per_s"])
        medians = {side: statistics.median(t) for side, t in times.items()}
        result = {"shape": shape, "rounds": args.rounds, "threads": threads,
                  "ms_per_step": times, "median_ms": medians,
                  "ratios": {side: medians[side] / medians["ours"] for side in sides}}
        if generate:
            gen = {side: statistics.median(r) for side, r in rates.items()}
            result["generation"] = {"tokens": args.gen_tokens, "tokens_per_s": rates,
                                    "median_tokens_per_s": gen,
                                    "ours_over": {side: gen["ours, KV cache"] / gen[side]
                                                  for side in gen if side.startswith("torch")}}
        if args.json:
            print(json.dumps(result))
            continue
        print(f"{shape}: median ms per training step over {args.rounds} alternating rounds, "
              f"{threads} threads")
        for side, t in times.items():
            ratio = "" if side == "ours" else f"   {medians[side] / medians['ours']:.2f}x ours"
            print(f"  {side:14} {medians[side]:8.1f}  ({', '.join(f'{x:.1f}' for x in t)}){ratio}")
        if generate:
            print(f"  generation, {args.gen_tokens} tokens, median tokens/s:")
            for side, r in rates.items():
                ratio = "" if side.startswith("ours") else \
                    f"   ours is {result['generation']['ours_over'][side]:.1f}x"
                print(f"  {side:16} {gen[side]:8,.0f}  ({', '.join(f'{x:,.0f}' for x in r)}){ratio}")
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m little_baby.tools.bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
