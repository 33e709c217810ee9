"""Train a new model on a UTF-8 text file, or continue a stopped run.

    little-baby train --corpus shakespeare.txt --n-layers 4 --n-emb 128 --max-iters 2000
    little-baby train --corpus notes.txt --config settings.json --n-epochs 3 --quiet
    little-baby train --corpus shakespeare.txt --device gpu         # on the GPU (CuPy)
    little-baby train --resume 3f2a                      # after Ctrl-C, a crash or a kill
    little-baby train --corpus shakespeare.txt --tokenizer bpe --vocab-size 4096

Settings: the defaults, then --config (a JSON file or string), then the options. The
model goes to <store>/<new guid>/ (or --out DIR): config.json, tokenizer.json,
model.safetensors, report.json, loss_curve.png and completion.json (a sample). Until it
is finished the folder also holds checkpoint.safetensors (every --checkpoint-interval
steps and on Ctrl-C), from which --resume continues exactly where the run stopped.

--tokenizer bpe (the config's c_tokenizer) first learns a byte-level BPE of --vocab-size
tokens (default 1024) from the training part of the corpus, then trains the model on its
tokens; the summary gives bits per character, which compares with the char models.

--out must be a new or empty folder. One run holds a folder at a time: a second run into
it, or a --resume of a run still going, exits with code 2 naming the run that holds it.
A size that cannot fit in memory is refused before anything is allocated.
"""
from pathlib import Path

from ...baby import LittleBaby
from ...config import BabyConfig
from ...errors import BabyError
from ...io.store.resolve import find_model
from .common import (PLAN_KEYS, add_store_argument, add_config_arguments, add_plan_arguments,
                     config_overrides, plan_arguments, train_and_report)


def add_arguments(parser):
    parser.add_argument("--corpus", metavar="FILE", help="the training text (UTF-8)")
    parser.add_argument("--config", metavar="JSON", help="settings: a JSON file or JSON string")
    parser.add_argument("--out", metavar="DIR", help="model folder (default: <store>/<guid>/)")
    parser.add_argument("--resume", metavar="MODEL",
                        help="continue the stopped run of this GUID or folder from its checkpoint")
    parser.add_argument("--vocab-size", type=int, metavar="N",
                        help="--tokenizer bpe: the tokens to learn, bytes included (default 1024)")
    add_store_argument(parser)
    add_plan_arguments(parser)
    add_config_arguments(parser)  # --device is the config's c_device, as in `generate`


def run(args):
    overrides = config_overrides(args)
    if args.resume:
        given = [k for k in ("config", "out", "vocab_size", *PLAN_KEYS)
                 if getattr(args, k) is not None]
        if given or overrides:
            flags = ", ".join("--" + k.replace("_", "-") for k in [*given, *overrides])
            raise BabyError(f"--resume continues a run with its own settings; leave out {flags}.")
        folder = find_model(args.resume, args.store)
        corpus = Path(args.corpus) if args.corpus else None
        return train_and_report(lambda: LittleBaby.resume(folder, corpus=corpus, quiet=args.quiet),
                                args)
    if not args.corpus:
        raise BabyError("train needs --corpus FILE (or --resume MODEL to continue a run).")
    config = (BabyConfig.from_json(args.config, **overrides) if args.config
              else BabyConfig.from_dict(overrides))
    plan = plan_arguments(args, overrides)
    return train_and_report(
        lambda: LittleBaby.train_new(config, Path(args.corpus), vocab_size=args.vocab_size,
                                     out=args.out, store=args.store, quiet=args.quiet, **plan),
        args)
