"""Finetune a model on new text: a new model (new GUID) that records its parent.

    little-baby finetune 3f2a --corpus sophocles.txt --max-iters 500 --r-learn 3e-4
    little-baby finetune --corpus notes.txt        # on top of the packaged default model

Symbols of the new text the model does not know (Greek letters, say) are added to its
vocabulary: existing ids and weights stay as they are, the new embedding rows and
lm_head columns start fresh. Only training settings may change; the architecture is the
parent's. A stopped finetune continues with `little-baby train --resume GUID`.
"""
from pathlib import Path

from ...io.resolve import find_model
from ...baby import LittleBaby
from ...errors import BabyError
from .common import (TRAINING_KEYS, add_cache_argument, add_config_arguments, add_plan_arguments,
                     config_overrides, plan_arguments)
from .train import add_device_argument, train_and_report


def add_arguments(parser):
    parser.add_argument("model", nargs="?", metavar="MODEL",
                        help="GUID, unique GUID prefix or folder (default: the packaged model)")
    parser.add_argument("--corpus", metavar="FILE", help="the new text (UTF-8)")
    parser.add_argument("--out", metavar="DIR", help="model folder (default: cache/<new guid>)")
    add_device_argument(parser)
    add_cache_argument(parser)
    add_plan_arguments(parser)
    add_config_arguments(parser, TRAINING_KEYS)


def run(args):
    if not args.corpus:
        raise BabyError("finetune needs --corpus FILE, the text to train on.")
    overrides = config_overrides(args, TRAINING_KEYS)
    plan = plan_arguments(args, overrides)
    corpus = Path(args.corpus)
    baby = LittleBaby.load(find_model(args.model, args.cache), **overrides)

    def train():  # the loaded model becomes its finetuned child
        baby.fit(corpus, out=args.out, cache=args.cache, quiet=args.quiet, **plan)
        return baby

    return train_and_report(train, args)
