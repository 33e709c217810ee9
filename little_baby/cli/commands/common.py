"""What several commands share: --cache and --repo (finding or fetching a model), the
config and plan options, sizes and times."""
import argparse
import dataclasses
from pathlib import Path

from ...config import (ATTENTION_NAMES, DEVICE, NETWORK_NAMES, TRAINING, VALUE_ALIASES,
                       BabyConfig)
from ...errors import CLI_SPELLINGS, BabyError
from ...io.hub import locate

# names people know from nanoGPT-style scripts, beside the config's own
FLAG_ALIASES = {"n_ctx": ["--block-size"], "n_layers": ["--n-layer"], "n_heads": ["--n-head"],
                "n_emb": ["--n-embd", "--n-embed"], "r_learn": ["--lr", "--learning-rate"],
                "r_dropout": ["--dropout"], "n_epochs": ["--epochs"],
                "c_tokenizer": ["--tokenizer"]}
# the values a choice setting takes (BabyConfig.validate refuses others; a test checks both)
CHOICES = {"c_sequence": ("pre", "post"), "c_attention": ATTENTION_NAMES,
           "c_network": NETWORK_NAMES, "c_tokenizer": ("char", "word", "bpe"),
           "c_device": ("cpu", "gpu"), "d_type": ("fp16", "fp32", "fp64")}
HELP = {"c_device": "where it runs: cpu, or gpu (CuPy)",
        "s_warmup": "'none', 'auto' (5%% of the steps, at most 1000) or a fraction of the steps"}
# settings a finetune may change: they do not alter the weights' shapes or maths
TRAINING_KEYS = BabyConfig.keys(TRAINING, DEVICE)
PLAN_KEYS = ("max_iters", "eval_interval", "eval_iters", "checkpoint_interval", "keep",
             "weights_dtype")


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


def option(key):
    """The option of config key `key`: --n-ctx for n_ctx (c_device is --device)."""
    return CLI_SPELLINGS.get(key) or "--" + key.replace("_", "-")


def add_config_arguments(parser, keys=None, defaults=None):
    """One --kebab-case option per config key (all keys, or `keys`), typed by its default;
    a choice lists its choices. `defaults`: {key: what --help says the default is} where
    the command's default is not BabyConfig's."""
    group = parser.add_argument_group("model and training settings (BabyConfig keys)")
    for field in dataclasses.fields(BabyConfig):
        if keys is not None and field.name not in keys:
            continue
        flags = [option(field.name), *FLAG_ALIASES.get(field.name, [])]
        kind = type(field.default)
        default = (defaults or {}).get(field.name, f"default {field.default}")
        what = HELP.get(field.name)
        options = dict(dest=field.name, default=None,
                       help=f"{what} ({default})" if what else default)
        if kind is bool:
            options["action"] = argparse.BooleanOptionalAction
        elif field.name in CHOICES:
            names = CHOICES[field.name]
            options.update(choices=[*names, *VALUE_ALIASES.get(field.name, {})],
                           metavar="{" + ",".join(names) + "}")
        else:
            options.update(type=_warmup if field.name == "s_warmup" else kind,
                           metavar={int: "N", float: "X"}.get(kind, "NAME"))
        group.add_argument(*flags, **options)


def config_overrides(args, keys=None):
    """The config keys given on the command line, as a dict."""
    names = [f.name for f in dataclasses.fields(BabyConfig)]
    return {k: getattr(args, k) for k in names
            if (keys is None or k in keys) and getattr(args, k, None) is not None}


def add_plan_arguments(parser, finetune=False):
    group = parser.add_argument_group("training plan")
    group.add_argument("--max-iters", type=int, metavar="N",
                       help="train N steps on random windows (instead of --n-epochs epochs)")
    group.add_argument("--eval-interval", type=int, metavar="N",
                       help="evaluate every N steps (default: a 20th of the run, at least 50)")
    group.add_argument("--eval-iters", type=int, metavar="N",
                       help="batches in the fixed evaluation samples (default 10)")
    group.add_argument("--checkpoint-interval", type=int, metavar="N",
                       help="checkpoint every N steps (default: at every evaluation)")
    group.add_argument("--keep", choices=["best", "last"],
                       help="the weights saved: those of the evaluation with the lowest "
                            "validation loss (best), or of the last step (last) (default: "
                            + ("best, so a finetune never ends worse on the validation sample "
                               "than its parent)" if finetune else "last)"))
    group.add_argument("--weights-dtype", choices=["float16", "float32"],
                       help="the float type of the saved weights (default: "
                            + ("the parent's: float16 for the age models)" if finetune
                               else "float32)"))
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
