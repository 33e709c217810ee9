"""Retrain the original project's five age models (its model card, "Cry. Babble. Speak.
Repeat.": same GUIDs, same architectures) on Tiny Shakespeare, into cache/<guid>/.

    python -m little_baby.tools.train_ages                 # all five, oldest first
    python -m little_baby.tools.train_ages --ages 3 6      # some of them

Resumable: a model whose run is complete is skipped, one with a checkpoint continues
from it (Ctrl-C or SIGTERM stops with a checkpoint), the others start.
"""
import argparse
import sys
from pathlib import Path

from ..baby import LittleBaby
from ..config import BabyConfig
from ..training.data import find_input, load_corpus
from ..errors import TrainingInterrupted
from ..io.store import read_report
from ..tokenizer import CharTokenizer
from ..io.checkpoint import CHECKPOINT

# age in months -> (GUID, n_ctx), from the original project's model card
AGES = {
    3: ("33bd6583-1b87-4469-b55e-0ccb8fd0441c", 8),
    6: ("180eeb27-b1b4-4427-9734-c70e10da2005", 16),
    12: ("5f13a2ab-113a-4c2c-8abd-40384bdd8854", 32),
    24: ("cb632ce3-3f3b-432b-b24f-9171005f205e", 64),
    48: ("12b8b053-6c14-42aa-a957-89b809e6f785", 128),
}
# every age: pre-norm, mha, mlp, a character tokenizer
ARCHITECTURE = dict(c_sequence="pre", c_attention="mha", c_network="mlp", c_tokenizer="char",
                    n_emb=128, head_size=128, n_heads=16, n_layers=16)
TOKENS_PER_STEP = 4096  # batch_size = TOKENS_PER_STEP / n_ctx windows
# age -> (steps, peak learning rate, dropout); warm-up 5 %, cosine decay to a tenth
TRAINING = {3: (800, 2e-3, 0.0), 6: (1200, 2e-3, 0.0), 12: (1500, 2e-3, 0.05),
            24: (2500, 1.5e-3, 0.1), 48: (5000, 1.5e-3, 0.1)}
SEED = 1337


def age_config(age):
    """The BabyConfig the age-`age` model is trained with."""
    _, n_ctx = AGES[age]
    steps, lr, dropout = TRAINING[age]
    return BabyConfig(**ARCHITECTURE, n_ctx=n_ctx, batch_size=TOKENS_PER_STEP // n_ctx,
                      r_learn=lr, r_dropout=dropout, seed=SEED)


def train_age(age, corpus, cache, quiet=False):
    """Train (or continue, or skip when done) the age-`age` model; returns its folder."""
    guid, _ = AGES[age]
    folder = Path(cache) / guid
    if read_report(folder).get("status") == "complete":
        print(f"age {age} months ({guid}): complete, skipped", file=sys.stderr)
    elif (folder / CHECKPOINT).exists():
        LittleBaby.resume(str(folder), quiet=quiet)
    else:
        text, _ = load_corpus(Path(corpus))
        baby = LittleBaby(age_config(age), CharTokenizer.from_text(text))
        steps = TRAINING[age][0]
        baby.fit(Path(corpus), max_iters=steps, eval_interval=max(50, steps // 30),
                 out=folder, guid=guid, quiet=quiet)
    return folder


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m little_baby.tools.train_ages",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--ages", type=int, nargs="+", choices=sorted(AGES),
                        default=sorted(AGES, reverse=True))
    parser.add_argument("--corpus", default=None, help="Tiny Shakespeare (default: inputs/)")
    parser.add_argument("--cache", default=str(Path(__file__).resolve().parents[2] / "cache"))
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    corpus = args.corpus or find_input("shakespeare.txt")
    if corpus is None:
        parser.error("no shakespeare.txt in inputs/: give --corpus PATH.")
    try:
        for age in args.ages:
            print(train_age(age, corpus, args.cache, args.quiet))
    except TrainingInterrupted as e:
        print(e, file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
