"""Every attention and network variant trained at the same small shape for the same number
of steps on Tiny Shakespeare, as a Markdown table: parameters, ms per training step,
tokens/s and validation loss, then each variant in one line (its docstring's first).

    python -m little_baby.tools.variants_table               # the table in README.md
    python -m little_baby.tools.variants_table --steps 100   # quicker, rougher

Attention variants run with the `mlp` network, network variants with `mha` attention.
"""
import argparse
import math
import statistics
import sys
import time

import numpy

from ..baby import LittleBaby
from ..config import BabyConfig
from ..engine.attention import ATTENTIONS
from ..engine.network import NETWORKS
from ..errors import BabyError
from ..tokenizer import CharTokenizer
from ..training.data import find_input, random_batch, read_corpus
from ..training.trainer import Trainer

SHAPE = dict(n_ctx=64, n_emb=64, head_size=64, n_heads=4, n_layers=2, batch_size=16,
             r_dropout=0.0, r_learn=3e-3, n_kv_heads=2, s_window=16)
VAL_WINDOWS = 512  # validation windows of n_ctx tokens, the same for every variant


def variants():
    """(attention, network) pairs: each attention with mlp, each network with mha."""
    return [(a, "mlp") for a in ATTENTIONS] + [("mha", n) for n in NETWORKS if n != "mlp"]


def train_one(attention, network, steps, tok, train, val_x, val_y):
    """Train a fresh model for `steps` steps -> (params, median ms per step, val loss)."""

    baby = LittleBaby(BabyConfig(c_attention=attention, c_network=network, **SHAPE), tok)
    trainer = Trainer(baby, total_steps=steps)
    rng = numpy.random.default_rng(0)  # the same batches for every variant
    times = []
    for _ in range(steps):
        x, y = random_batch(train, SHAPE["batch_size"], SHAPE["n_ctx"], rng)
        start = time.perf_counter()
        trainer.step(x, y)
        times.append(time.perf_counter() - start)
    losses = [baby.loss(val_x[i:i + 64], val_y[i:i + 64]) for i in range(0, len(val_x), 64)]
    return baby.n_params, statistics.median(times[3:]) * 1e3, sum(losses) / len(losses)


def first_line(module):
    """The first paragraph of a variant's docstring, as one line."""
    return " ".join(module.__doc__.strip().split("\n\n")[0].split())


def run(steps):

    path = find_input("shakespeare.txt")
    if path is None:
        raise BabyError("Tiny Shakespeare not found: put shakespeare.txt in ./inputs or point "
                        "LITTLE_BABY_INPUTS at its folder.")
    text = read_corpus(path)
    tok = CharTokenizer.from_text(text)
    ids = tok.encode(text)
    split = int(0.9 * len(ids))
    val_x, val_y = random_batch(ids[split:], VAL_WINDOWS, SHAPE["n_ctx"],
                                numpy.random.default_rng(1))
    s = SHAPE
    print(f"Tiny Shakespeare, {steps} steps of {s['batch_size']} x {s['n_ctx']} tokens, "
          f"n_emb {s['n_emb']}, {s['n_heads']} heads, {s['n_layers']} layers, AdamW lr "
          f"{s['r_learn']:g}, no dropout (n_kv_heads {s['n_kv_heads']}, s_window "
          f"{s['s_window']}, other settings at their defaults); validation loss on "
          f"{VAL_WINDOWS} windows (the uniform guess: ln {tok.vocab_size} = "
          f"{math.log(tok.vocab_size):.2f}).\n")
    print("| attention | network | params | ms/step | tokens/s | validation loss |")
    print("|---|---|---:|---:|---:|---:|")
    tokens = s["batch_size"] * s["n_ctx"]
    for attention, network in variants():
        n, ms, loss = train_one(attention, network, steps, tok, ids[:split], val_x, val_y)
        print(f"| {attention} | {network} | {n:,} | {ms:.1f} | {tokens / ms * 1e3:,.0f} | "
              f"{loss:.3f} |", flush=True)
    print()
    for registry in (ATTENTIONS, NETWORKS):
        for module in registry.values():
            print(f"- {first_line(module)}")
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m little_baby.tools.variants_table",
                                     description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=300, help="training steps per variant")
    args = parser.parse_args(argv)
    try:
        return run(args.steps)
    except BabyError as e:
        print(f"variants_table: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
