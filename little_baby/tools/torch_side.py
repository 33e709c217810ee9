"""PyTorch side of the speed comparison: nanoGPT's model (Karpathy, nanoGPT model.py:
pre-norm blocks, fused qkv, scaled_dot_product_attention, tanh GELU) at little_baby's
benchmark shapes, trained with AdamW on the CPU and timed as `little-baby bench` times
ours; eager, or compiled with torch.compile (inductor). `little-baby bench --against
torch` runs it beside ours, each in its own process, rounds alternating.

Not a dependency of the project: install torch's CPU build to run it (a plain `pip install
torch` on Linux brings the CUDA build, gigabytes of it):
`pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu`.

    python -m little_baby.tools.torch_side --shape baby --threads 2 [--compile] [--json]
"""
import argparse
import json
import sys

from .shapes import SHAPES  # the same shapes as ours

INSTALL = "pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu"


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m little_baby.tools.torch_side",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--shape", choices=SHAPES, default="baby")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--dropout", type=float, default=0.0)
    parser.add_argument("--compile", action="store_true", help="torch.compile the model (inductor)")
    parser.add_argument("--gen-tokens", type=int, default=0, help="0 skips the generation test")
    parser.add_argument("--json", action="store_true", help="one JSON line")
    args = parser.parse_args(argv)
    try:
        import torch
    except ImportError:
        print(f"torch_side needs PyTorch, which is not installed: {INSTALL} (its CPU build).",
              file=sys.stderr)
        return 2

    from .torch_gpt import (GPT, generate_cached_tokens_per_s, generate_tokens_per_s,
                            train_ms_per_step)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    s = SHAPES[args.shape]
    model = GPT(s["n_ctx"], s["n_emb"], s["n_heads"], s["n_layers"], args.dropout)
    ms = train_ms_per_step(model, s, args.steps, args.compile)
    tokens = s["batch_size"] * s["n_ctx"]
    result = {"torch": torch.__version__, "shape": args.shape, "compiled": args.compile,
              "ms_per_step": ms, "tokens_per_s": tokens / ms * 1e3, "threads": args.threads,
              "params": sum(p.numel() for p in model.parameters())}
    if args.gen_tokens:
        result["generation_no_cache_tokens_per_s"] = generate_tokens_per_s(
            model, s["n_ctx"], args.gen_tokens)
        result["generation_cache_tokens_per_s"] = generate_cached_tokens_per_s(
            model, s["n_ctx"], args.gen_tokens)
    if args.json:
        print(json.dumps(result))
    else:
        print(f"torch {result['torch']} {args.shape}{' compiled' if args.compile else ''}: "
              f"{ms:.1f} ms/step, {result['tokens_per_s']:,.0f} tokens/s ({result['params']:,} "
              f"params, {args.threads} threads)")
        if args.gen_tokens:
            print(f"  generation, {args.gen_tokens} tokens: "
                  f"{result['generation_no_cache_tokens_per_s']:,.0f} tokens/s without a cache "
                  f"(nanoGPT's loop), {result['generation_cache_tokens_per_s']:,.0f} with one")
    return 0


if __name__ == "__main__":
    sys.exit(main())
