"""GPT-2 small (124M: 12 layers, 768 wide, 12 heads, 1,024 positions, 50,257 tokens, tied
embeddings) in our engine beside transformers' GPT2LMHeadModel in PyTorch eager, on the
CPU with the same threads: a forward pass and a training step (forward, backward, AdamW)
at llm.c's CPU example's batch (4 x 64 tokens), cached greedy generation, and each side's
peak memory. Both models are random (nothing is downloaded); each side runs in a process
of its own so its peak memory is its own, and the sides take turns for --rounds rounds
(these machines' speed drifts: alternating spreads the drift over both), the table giving
each figure's median over the rounds.

Model-FLOPs utilisation is each side's matmul FLOPs per second over this machine's
float32 matmul peak as NumPy measures it at the model's shapes (the best of 3 runs before
and 3 after; on a shared machine others' work lowers it, and MFU reads high): forward
2 x (block weights + the tied head, V x C) per token plus attention's two T x T products,
a training step three times that.

torch and transformers are not dependencies of the project: torch's CPU build is
`pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu`, then
`pip install transformers`. Without them only our column is printed.

    python benchmarks/gpt2_small.py                   # 124M, batch 4 x 64, 2 threads, 3 rounds
    python benchmarks/gpt2_small.py --threads 4 --steps 5 --rounds 5 --json out.json
    python benchmarks/gpt2_small.py --shape tiny      # a 2-layer model: seconds, for a check
"""
import argparse
import json
import os
import statistics
import sys
import time

from little_baby.tools.bench import run_isolated

SHAPES = {  # GPT2Config's names
    "small": dict(n_layer=12, n_embd=768, n_head=12, n_positions=1024, vocab_size=50257),
    "tiny": dict(n_layer=2, n_embd=64, n_head=4, n_positions=128, vocab_size=1000),
}


def matmul_peak():
    """This machine's float32 matmul speed in GFLOP/s as NumPy gets it at the model's own
    shapes (the MLP's and the head's; bench.matmul_peak's best of 3 tries)."""
    from little_baby.tools.bench import matmul_peak as best_over
    return max(best_over(1.5, [(256, 768, 3072), (256, 768, 8192), (1024, 1024, 1024)])
               for _ in range(3))


def model_flops(shape, batch, ctx):
    """Matmul FLOPs of one forward pass over batch x ctx tokens."""
    C, L, V = shape["n_embd"], shape["n_layer"], shape["vocab_size"]
    block = 4 * C * C + 8 * C * C  # qkv + proj, up + down (n_inner = 4C)
    per_token = 2 * (L * block + V * C) + L * 4 * ctx * C  # weights, then q.k and att.v
    return per_token * batch * ctx


def median_time(f, repeats, warmup=3):
    for _ in range(warmup):
        f()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        f()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def batch_of(shape, batch, ctx, seed=0):
    import numpy
    rng = numpy.random.default_rng(seed)
    w = rng.integers(0, shape["vocab_size"], (batch, ctx + 1))
    return w[:, :-1], w[:, 1:]


# ---- ours -------------------------------------------------------------------------------------
def ours(shape, batch, ctx, steps, threads, gen_tokens):
    from little_baby import BabyConfig, CharTokenizer, LittleBaby
    from little_baby.engine.sampling import check_settings, generate_ids
    from little_baby.training.trainer import Trainer
    cfg = BabyConfig(n_ctx=shape["n_positions"], n_emb=shape["n_embd"],
                     head_size=shape["n_embd"], n_heads=shape["n_head"],
                     n_layers=shape["n_layer"], c_tie=True, r_dropout=0.0, batch_size=batch,
                     c_device_cpu_cores=threads, r_learn=1e-4)
    # a vocabulary of V distinct characters stands in for GPT-2's BPE: same shapes, same maths
    tokenizer = CharTokenizer([chr(0x100 + i) for i in range(shape["vocab_size"])])
    baby = LittleBaby(cfg, tokenizer)
    x, y = batch_of(shape, batch, ctx)
    forward = median_time(lambda: baby.logits(x), steps)
    trainer = Trainer(baby, total_steps=steps + 1)
    step = median_time(lambda: trainer.step(x, y), steps)
    settings = check_settings(gen_tokens, 0.0, None, None, 0)
    prompt = [int(i) for i in x[0, :8]]
    generate = lambda: list(generate_ids(baby.transformer, baby.backend, prompt,  # noqa: E731
                                         *settings, True))
    gen = median_time(generate, 3)
    return {"params": baby.n_params, "forward_s": forward, "step_s": step,
            "gen_tokens_per_s": gen_tokens / gen}


# ---- transformers' GPT-2 in PyTorch eager ---------------------------------------------------------
def theirs(shape, batch, ctx, steps, threads, gen_tokens):
    import torch
    import torch.nn.functional as F
    import transformers
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    config = transformers.GPT2Config(**shape, resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0,
                                     bos_token_id=0, eos_token_id=0)
    model = transformers.GPT2LMHeadModel(config)
    x, y = (torch.from_numpy(a) for a in batch_of(shape, batch, ctx))
    model.eval()

    def forward():
        with torch.no_grad():
            model(x).logits
    forward_s = median_time(forward, steps)
    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4, weight_decay=0.1)

    def step():
        logits = model(x).logits
        loss = F.cross_entropy(logits.view(-1, logits.shape[-1]), y.reshape(-1))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        return loss.item()
    step_s = median_time(step, steps)
    model.eval()
    prompt = x[:1, :8]

    def generate():
        with torch.no_grad():
            model.generate(prompt, max_new_tokens=gen_tokens, min_new_tokens=gen_tokens,
                           do_sample=False, use_cache=True, pad_token_id=0)
    gen = median_time(generate, 3)

    def loop():  # the plain KV-cache loop, without generate()'s per-token machinery
        with torch.no_grad():
            out = model(prompt, use_cache=True)
            for _ in range(gen_tokens):
                out = model(out.logits[:, -1:].argmax(-1), past_key_values=out.past_key_values,
                            use_cache=True)
    loop_s = median_time(loop, 3)
    return {"params": sum(p.numel() for p in model.parameters()), "forward_s": forward_s,
            "step_s": step_s, "gen_tokens_per_s": gen_tokens / gen,
            "loop_tokens_per_s": gen_tokens / loop_s,
            "torch": torch.__version__, "transformers": transformers.__version__}


def theirs_quietly(*job):
    import warnings
    warnings.filterwarnings("ignore")  # transformers' deprecations, not the figures
    return theirs(*job)


def medians(rounds):
    """One result dict of the rounds' medians (and each round's step time), or the first
    error."""
    errors = [r for r in rounds if "error" in r]
    if errors:
        return errors[0]
    out = {k: statistics.median(r[k] for r in rounds) if isinstance(v, float) else v
           for k, v in rounds[0].items()}
    return {**out, "step_s_rounds": [r["step_s"] for r in rounds]}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shape", choices=list(SHAPES), default="small")
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--ctx", type=int, default=64, help="tokens per row")
    parser.add_argument("--steps", type=int, default=3, help="timed repeats in a round (median)")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds (median)")
    parser.add_argument("--threads", type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument("--gen-tokens", type=int, default=32)
    parser.add_argument("--json", metavar="FILE", help="also write the figures here")
    args = parser.parse_args(argv)
    shape = SHAPES[args.shape]
    if args.ctx > shape["n_positions"]:
        parser.error(f"--ctx is at most n_positions = {shape['n_positions']}.")
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))   # the children's BLAS
    os.environ.setdefault("OPENBLAS_NUM_THREADS", str(args.threads))
    peak = matmul_peak()
    job = (shape, args.batch, args.ctx, args.steps, args.threads, args.gen_tokens)
    try:
        import torch  # noqa: F401
        import transformers  # noqa: F401
        sides = {"ours": ours, "torch eager": theirs_quietly}
    except ImportError:
        sides = {"ours": ours}
    rounds = {name: [] for name in sides}
    for _ in range(args.rounds):
        for name, side in sides.items():
            rounds[name].append(run_isolated(side, *job))
    results = {name: medians(r) for name, r in rounds.items()}
    results.setdefault("torch eager",
                       {"error": "torch and transformers are not installed (see --help)"})
    peak = max(peak, matmul_peak())  # before and after: a busy machine lowers one of them
    flops = model_flops(shape, args.batch, args.ctx)
    print(f"GPT-2 {args.shape} ({shape['n_layer']} layers, {shape['n_embd']} wide, "
          f"vocab {shape['vocab_size']:,}, tied), batch {args.batch} x {args.ctx} tokens, "
          f"{args.threads} thread(s), medians of {args.rounds} alternating rounds; NumPy "
          f"float32 matmul peak {peak:.0f} GFLOP/s")
    print(f"{'':12} {'params':>12} {'forward ms':>11} {'step ms':>9} {'tokens/s':>9} "
          f"{'step MFU':>9} {'gen tok/s':>10} {'peak MiB':>9}")
    for name, r in results.items():
        if "error" in r:
            print(f"{name:12} {r['error']}")
            continue
        mfu = 3 * flops / r["step_s"] / 1e9 / peak
        r.update(mfu=mfu, tokens_per_s=args.batch * args.ctx / r["step_s"])
        print(f"{name:12} {r['params']:>12,} {r['forward_s'] * 1e3:>11.1f} "
              f"{r['step_s'] * 1e3:>9.1f} {r['tokens_per_s']:>9.0f} {mfu:>9.0%} "
              f"{r['gen_tokens_per_s']:>10.1f} {r['peak_mib']:>9.0f}   steps: "
              + ", ".join(f"{t * 1e3:.0f}" for t in r["step_s_rounds"]))
    a, b = results["ours"], results["torch eager"]
    if "error" not in a and "error" not in b:
        print(f"torch's time / ours: forward {b['forward_s'] / a['forward_s']:.2f}, training "
              f"step {b['step_s'] / a['step_s']:.2f}; cached generation ours / torch "
              f"{a['gen_tokens_per_s'] / b['gen_tokens_per_s']:.2f} (above 1: ours is faster); "
              f"torch's plain KV-cache loop, without generate(): "
              f"{b['loop_tokens_per_s']:.1f} tokens/s, ours / it "
              f"{a['gen_tokens_per_s'] / b['loop_tokens_per_s']:.2f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"shape": args.shape, **vars(args), "matmul_peak_gflops": peak,
                       "results": results}, f, indent=2)
    return 0 if all("error" not in r for r in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
