"""What several commands share: --cache and --repo (finding or fetching a model), the
config and plan options, sizes and times."""
import argparse
import dataclasses
from pathlib import Path

from ...config import DEVICE, TRAINING, BabyConfig
from ...errors import BabyError
from ...io.hub import locate

# names people know from nanoGPT-style scripts, beside the config's own
FLAG_ALIASES = {"n_ctx": ["--block-size"], "n_layers": ["--n-layer"], "n_heads": ["--n-head"],
                "n_emb": ["--n-embd", "--n-embed"], "r_learn": ["--lr", "--learning-rate"],
                "r_dropout": ["--dropout"], "n_epochs": ["--epochs"],
                "c_tokenizer": ["--tokenizer"]}
# settings a finetune may change: they do not alter the weights' shapes or maths
TRAINING_KEYS = BabyConfig.keys(TRAINING, DEVICE)
PLAN_KEYS = ("max_iters", "eval_interval", "eval_iters", "checkpoint_interval")


def add_cache_argument(parser):
    parser.add_argument("--cache", metavar="DIR",
                        help="the model store (default: $LITTLE_BABY_CACHE, else ./cache)")


def add_repo_argument(parser):
    parser.add_argument("--repo", metavar="REPO",
                        help="Hub repo (or a folder laid out like one) to fetch a GUID from when "
                             "the cache lacks it (default: $LITTLE_BABY_REPO, else "
                             "koureasstavros/TheLittleBaby)")


def find_or_fetch(name, cache, repo=None):
    """The folder of model `name` (any name resolve.py reads: a folder, a GUID or a
    unique start of one, an age, a Hub repo id), from the cache or the package, else
    fetched as LittleBaby.from_pretrained does (into the Hub cache, or converted into
    the cache)."""
    return locate(name, repo=repo, cache=cache)[0]


def in_hub_cache(folder):
    """Whether `folder` is in huggingface_hub's cache (which only that library writes)."""
    from huggingface_hub import constants
    return Path(folder).resolve().is_relative_to(Path(constants.HF_HUB_CACHE).resolve())


def add_config_arguments(parser, keys=None):
    """One --kebab-case option per config key (all keys, or `keys`), typed by its default."""
    group = parser.add_argument_group("model and training settings (BabyConfig keys)")
    for field in dataclasses.fields(BabyConfig):
        if keys is not None and field.name not in keys:
            continue
        flags = ["--" + field.name.replace("_", "-"), *FLAG_ALIASES.get(field.name, [])]
        kind = type(field.default)
        options = dict(dest=field.name, default=None, help=f"default {field.default}")
        if kind is bool:
            options["action"] = argparse.BooleanOptionalAction
        else:
            options.update(type=_warmup if field.name == "s_warmup" else kind,
                           metavar={int: "N", float: "X"}.get(kind, "NAME"))
        group.add_argument(*flags, **options)


def config_overrides(args, keys=None):
    """The config keys given on the command line, as a dict."""
    names = [f.name for f in dataclasses.fields(BabyConfig)]
    return {k: getattr(args, k) for k in names
            if (keys is None or k in keys) and getattr(args, k, None) is not None}


def add_plan_arguments(parser):
    group = parser.add_argument_group("training plan")
    group.add_argument("--max-iters", type=int, metavar="N",
                       help="train N steps on random windows (instead of --n-epochs epochs)")
    group.add_argument("--eval-interval", type=int, metavar="N",
                       help="evaluate every N steps (default: a 20th of the run, at least 50)")
    group.add_argument("--eval-iters", type=int, metavar="N",
                       help="batches in the fixed evaluation samples (default 10)")
    group.add_argument("--checkpoint-interval", type=int, metavar="N",
                       help="checkpoint every N steps (default: at every evaluation)")
    parser.add_argument("--generate-tokens", type=int, default=200, metavar="N",
                        help="tokens of the sample written to completion.json afterwards (0: none)")
    parser.add_argument("--quiet", action="store_true",
                        help="no progress bar or sample; print only the model folder")


def plan_arguments(args, overrides):
    """The plan options as keyword arguments of LittleBaby.fit."""
    if args.max_iters is not None and "n_epochs" in overrides:
        raise BabyError("give --max-iters (random windows) or --n-epochs (epochs), not both.")
    return {k: getattr(args, k) for k in PLAN_KEYS if getattr(args, k) is not None}


def _warmup(text):
    try:
        return float(text)
    except ValueError:
        return text


def human_size(n_bytes):
    for unit in ("B", "KB", "MB", "GB"):
        if n_bytes < 1000 or unit == "GB":
            return f"{n_bytes:.0f} {unit}" if unit == "B" else f"{n_bytes:.1f} {unit}"
        n_bytes /= 1000


def human_duration(seconds):
    minutes, s = divmod(round(seconds), 60)
    hours, m = divmod(minutes, 60)
    return f"{hours}h {m:02d}m" if hours else f"{m}m {s:02d}s" if m else f"{seconds:.1f}s"
