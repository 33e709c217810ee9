"""Finetune a model on new text: a new model (new GUID) that records its parent.

    little-baby finetune 3f2a --corpus sophocles.txt --max-iters 500 --r-learn 3e-4
    little-baby finetune --corpus notes.txt        # on top of the packaged default model
    little-baby finetune openai-community/gpt2 --corpus notes.txt --batch-size 4 --n-epochs 1

MODEL is any name generate takes (a GUID, an age, a folder, a Hub repo id), fetched as
LittleBaby.from_pretrained fetches it; a model pulled from the Hub is named as the new
model's base_model in its card.

Symbols of the new text the model does not know (Greek letters, say) are added to its
vocabulary: existing ids and weights stay as they are, the new embedding rows and
lm_head columns start fresh. Only training settings may change; the architecture is the
parent's. A stopped finetune continues with `little-baby train --resume GUID`.

Its defaults are made not to spoil the parent: it trains at --r-learn 3e-4 (not the rate
the parent was trained at, which restarts too hard on a model already trained), keeps the
weights of the evaluation with the lowest validation loss (--keep best: the parent's own
weights at step 0 if nothing better comes) and saves them in the parent's float type
(float16 for the age models; --weights-dtype float32 to change it).
"""
import argparse
from pathlib import Path

from ...baby import LittleBaby
from ...config import ARCHITECTURE, BabyConfig
from ...errors import BabyError
from ...training.data import load_corpus
from ...training.run import FINETUNE_R_LEARN
from .common import (FLAG_ALIASES, TRAINING_KEYS, add_config_arguments, add_model_arguments,
                     add_plan_arguments, config_overrides, option, plan_arguments,
                     train_and_report)


def add_arguments(parser):
    add_model_arguments(parser)
    parser.add_argument("--corpus", metavar="FILE", help="the new text (UTF-8)")
    parser.add_argument("--out", metavar="DIR", help="model folder (default: <store>/<new guid>/)")
    add_plan_arguments(parser, finetune=True)
    rate = f"{FINETUNE_R_LEARN:.0e}".replace("e-0", "e-")
    add_config_arguments(parser, TRAINING_KEYS, defaults={
        **{key: "default: the parent's" for key in TRAINING_KEYS},
        "r_learn": f"default {rate} for a finetune, whatever the parent was trained at"})
    for key in BabyConfig.keys(ARCHITECTURE):  # refused in run(), in words that say why
        parser.add_argument(option(key), *FLAG_ALIASES.get(key, []), dest=f"architecture_{key}",
                            help=argparse.SUPPRESS)


def run(args):
    if not args.corpus:
        raise BabyError("finetune needs --corpus FILE, the text to train on.")
    fixed = [f"{option(k)} {v}" for k in BabyConfig.keys(ARCHITECTURE)
             if (v := getattr(args, f"architecture_{k}")) is not None]
    if fixed:
        raise BabyError(f"a finetune keeps its parent's architecture, so {', '.join(fixed)} "
                        f"cannot change (only training settings can); a new model of that "
                        f"shape: `little-baby train --corpus FILE {' '.join(fixed)}`.")
    overrides = config_overrides(args, TRAINING_KEYS)
    plan = plan_arguments(args, overrides)
    overrides.setdefault("r_learn", FINETUNE_R_LEARN)
    corpus = load_corpus(Path(args.corpus))  # read once, before any model is fetched
    baby = LittleBaby.from_pretrained(args.model, repo=args.repo, store=args.store, **overrides)

    def train():  # the loaded model becomes its finetuned child
        baby.fit(corpus, out=args.out, store=args.store, quiet=args.quiet, **plan)
        return baby

    return train_and_report(train, args)
