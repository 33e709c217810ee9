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
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

from .shapes import SHAPES, VOCAB  # the same shapes and vocabulary as ours


class Block(nn.Module):
    def __init__(self, C, heads, dropout):
        super().__init__()
        self.heads, self.dropout = heads, dropout
        self.ln1, self.ln2 = nn.LayerNorm(C), nn.LayerNorm(C)
        self.qkv, self.proj = nn.Linear(C, 3 * C), nn.Linear(C, C)
        self.up, self.down = nn.Linear(C, 4 * C), nn.Linear(4 * C, C)
        self.drop = nn.Dropout(dropout)

    def forward(self, x):
        B, T, C = x.shape
        q, k, v = self.qkv(self.ln1(x)).split(C, dim=2)
        q, k, v = (t.view(B, T, self.heads, C // self.heads).transpose(1, 2) for t in (q, k, v))
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True,
                                           dropout_p=self.dropout if self.training else 0.0)
        x = x + self.drop(self.proj(y.transpose(1, 2).reshape(B, T, C)))
        return x + self.drop(self.down(F.gelu(self.up(self.ln2(x)), approximate="tanh")))


class GPT(nn.Module):
    def __init__(self, n_ctx, n_emb, n_heads, n_layers, dropout):
        super().__init__()
        self.wte, self.wpe = nn.Embedding(VOCAB, n_emb), nn.Embedding(n_ctx, n_emb)
        self.blocks = nn.ModuleList(Block(n_emb, n_heads, dropout) for _ in range(n_layers))
        self.ln_f, self.head = nn.LayerNorm(n_emb), nn.Linear(n_emb, VOCAB)
        self.drop = nn.Dropout(dropout)

    def forward(self, idx, targets=None):
        x = self.drop(self.wte(idx) + self.wpe(torch.arange(idx.shape[1])))
        for block in self.blocks:
            x = block(x)
        logits = self.head(self.ln_f(x))
        if targets is None:
            return logits
        return F.cross_entropy(logits.view(-1, VOCAB), targets.reshape(-1))


@torch.no_grad()
def generate_tokens_per_s(model, n_ctx, n_tokens):
    """nanoGPT's generation loop: crop to the last n_ctx tokens, run the whole window,
    sample from the last position (no KV cache)."""
    model.eval()
    idx = torch.zeros((1, 1), dtype=torch.long)
    start = time.perf_counter()
    for _ in range(n_tokens):
        logits = model(idx[:, -n_ctx:])[:, -1, :]
        idx = torch.cat([idx, torch.multinomial(F.softmax(logits, dim=-1), 1)], dim=1)
    return n_tokens / (time.perf_counter() - start)


def train_ms_per_step(model, shape, steps, compiled):
    """Median ms of a training step (forward, backward, clipping, AdamW), after warm-up
    steps (with torch.compile, the first ones compile)."""
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, betas=(0.9, 0.99), weight_decay=0.1)
    run = torch.compile(model) if compiled else model
    times = []
    for i in range(steps + (5 if compiled else 3)):
        w = torch.randint(0, VOCAB, (shape["batch_size"], shape["n_ctx"] + 1))
        start = time.perf_counter()
        loss = run(w[:, :-1], w[:, 1:])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if i >= (5 if compiled else 3):
            times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3


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
    if args.json:
        print(json.dumps(result))
    else:
        print(f"torch {result['torch']} {args.shape}{' compiled' if args.compile else ''}: "
              f"{ms:.1f} ms/step, {result['tokens_per_s']:,.0f} tokens/s ({result['params']:,} "
              f"params, {args.threads} threads)")
        if args.gen_tokens:
            print(f"  generation without a cache (nanoGPT's loop), {args.gen_tokens} tokens: "
                  f"{result['generation_no_cache_tokens_per_s']:,.0f} tokens/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
