"""Which tokenizer wins at the age-48 size: BPE babies against the shipped char model.

Each BPE baby has the age-48 model's architecture and training (tools/train_ages.py:
16 layers, n_emb 128, context 128, 32 windows a step, 5,000 steps, the same learning
rate, dropout and seed), with a byte-level BPE of --vocab-sizes tokens learnt from the
training part of Tiny Shakespeare. Same steps of the same shape: the same compute, bar
the larger output layer, while a BPE window holds more characters. All are scored on
the same held-out text, the last 10 % of the characters (training/data.encode_split),
over every full window: bits per character. A BPE baby keeps its best evaluation's
weights: a window of BPE tokens holds 2-3 times the characters, so it walks the 1 MB text
2-3 times as often and overfits sooner (benchmarks/results/bpe_vs_char_age48_*.json).

    python benchmarks/bpe_vs_char.py --out /tmp/bpe48                  # CPU: hours
    python benchmarks/bpe_vs_char.py --out /tmp/bpe48 --device gpu     # minutes on a GPU
    python benchmarks/bpe_vs_char.py --out /tmp/bpe48 --max-iters 50   # a quick look

--out holds one run folder per vocabulary size, bpe-<size>/ (not a model store: its
folders are named by size, not GUID).

The vocabulary sizes train side by side, one process each; a stopped run resumes from its
checkpoint when the command is given again. Prints one JSON summary.
"""
import argparse
import dataclasses
import json
import subprocess
import sys
from pathlib import Path

from little_baby import LittleBaby
from little_baby.io.store.ages import AGES, DEFAULT_AGE
from little_baby.tools.train_ages import SAMPLE, TRAINING, age_config, train_run
from little_baby.training.data import find_input, read_corpus
from little_baby.training.evaluate import heldout_loss


def train_one(vocab_size, corpus, folder, device, max_iters):
    """Train (or resume, or skip when complete) the BPE baby of `vocab_size` in `folder`,
    as train_ages trains the age-48 model."""
    config = dataclasses.replace(age_config(48), c_tokenizer="bpe", c_device=device)
    train_run(folder, config, corpus, max_iters, quiet=True, vocab_size=vocab_size, keep="best")


def score(baby, text, report):
    """The figures of one model: size, characters per token, held-out bits per character,
    and a sample as the age models' cards draw it (200 tokens)."""
    held = heldout_loss(baby, text)
    corpus, timings = report["corpus"], report.get("timings", {})
    chars_per_token = held["bits_per_token"] / held["bits_per_char"]
    return {"tokenizer": baby.config.c_tokenizer, "vocab_size": baby.tokenizer.vocab_size,
            "n_params": baby.n_params, "chars_per_token": round(chars_per_token, 3),
            "heldout_bits_per_char": round(held["bits_per_char"], 4),
            "heldout_nats_per_token": round(held["loss"], 4), "windows": held["windows"],
            "steps": report["final"]["step"], "train_seconds": timings.get("train_seconds"),
            "chars_seen": round(timings.get("tokens", 0) * corpus["n_chars"] / corpus["n_tokens"]),
            "device": report.get("hardware", {}).get("device"),
            "sample": SAMPLE["prompt"] + baby.generate(
                SAMPLE["prompt"], 200, temperature=SAMPLE["temperature"], top_k=SAMPLE["top_k"],
                seed=SAMPLE["seed"])}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True,
                        help="folder for the BPE babies, one bpe-<size>/ each")
    parser.add_argument("--vocab-sizes", type=int, nargs="+", default=[1024, 4096])
    parser.add_argument("--device", choices=["cpu", "gpu"], default="cpu")
    parser.add_argument("--max-iters", type=int, default=TRAINING[48][0])
    parser.add_argument("--corpus", default=None, help="Tiny Shakespeare (default: inputs/)")
    parser.add_argument("--only", type=int, help=argparse.SUPPRESS)  # one child's vocab size
    args = parser.parse_args(argv)
    corpus = args.corpus or find_input("shakespeare.txt")
    if corpus is None:
        parser.error("no shakespeare.txt in inputs/ or $LITTLE_BABY_INPUTS: give --corpus PATH.")
    out = Path(args.out)
    if args.only is not None:
        train_one(args.only, corpus, out / f"bpe-{args.only}", args.device, args.max_iters)
        return 0
    children = [subprocess.Popen([sys.executable, __file__, *(argv or sys.argv[1:]),
                                  "--corpus", str(corpus), "--only", str(n)])
                for n in args.vocab_sizes]
    if any(child.wait() for child in children):
        print("a training run failed (see above); run the command again to resume it",
              file=sys.stderr)
        return 1
    text = read_corpus(corpus)
    char = LittleBaby.from_pretrained(DEFAULT_AGE)
    rows = [score(char, text, char.report)]
    for n in args.vocab_sizes:
        baby = LittleBaby.load(out / f"bpe-{n}")
        rows.append(score(baby, text, baby.report))
    best = min(rows, key=lambda r: r["heldout_bits_per_char"])
    print(json.dumps({"age": AGES[DEFAULT_AGE].months, "rows": rows,
                      "winner": f"{best['tokenizer']} {best['vocab_size']}"}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
