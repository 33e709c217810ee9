"""What several commands share: MODEL, --store and --repo (finding or fetching a model), the
config and plan options, a run's state, a sample generated and a training run's summary,
sizes and times. Each command module imports the library and this module, never another
command."""
import argparse
import dataclasses
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

from ...config import (ATTENTION_NAMES, DEVICE, NETWORK_NAMES, TRAINING, VALUE_ALIASES,
                       BabyConfig)
from ...engine.sampling import DEFAULTS
from ...errors import CLI_SPELLINGS, BabyError, TrainingInterrupted
from ...io.hub.fetch import locate
from ...io.store.claim import describe_holder, holder, run_status
from ...io.store.identity import home
from ...io.store.places import STORE_ENV, default_store
from ...io.store.model_folder import write_completion
from ...training.run import kept_note

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
        "s_warmup": "'none', 'auto' (5%% of the steps, at most 1000) or a fraction of the steps",
        "c_device_gpu_tensor": "changes nothing: recorded, and kept only so the original "
                               "project's config files load"}
# settings a finetune may change: they do not alter the weights' shapes or maths
TRAINING_KEYS = BabyConfig.keys(TRAINING, DEVICE)
PLAN_KEYS = ("max_iters", "eval_interval", "eval_iters", "checkpoint_interval", "keep",
             "weights_dtype")


def add_store_argument(parser):
    parser.add_argument("--store", metavar="DIR",
                        help=f"the model store (default: ${STORE_ENV}, else {default_store()})")
    parser.add_argument("--cache", help=argparse.SUPPRESS)  # its older name (main: one_store)


def add_model_arguments(parser):
    """MODEL, any name of a model, with --store and --repo: where find_or_fetch looks."""
    parser.add_argument("model", nargs="?", metavar="MODEL",
                        help="GUID, unique GUID prefix, folder, age or Hub repo id "
                             "(default: the packaged model)")
    add_store_argument(parser)
    parser.add_argument("--repo", metavar="REPO",
                        help="Hub repo (or a folder laid out like one) to fetch a GUID from when "
                             "the store lacks it (default: $LITTLE_BABY_REPO, else "
                             "koureasstavros/TheLittleBaby)")


def find_or_fetch(name, store, repo=None):
    """The folder of model `name` (any name resolve.py reads: a folder, a GUID or a
    unique start of one, an age, a Hub repo id), from the store or the package, else
    fetched as LittleBaby.from_pretrained does (into the Hub cache, or converted into
    the store)."""
    return locate(name, repo=repo, store=store)[0]


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


def run_state(folder, report):
    """(status, a sentence saying what it means now) of the model in `folder`: a report's
    'running' is 'running' only while a live process holds the folder (io/store/claim.py)."""
    recorded = report.get("status", "unknown")
    status = run_status(folder, recorded)
    final, plan = report.get("final", {}), report.get("settings", {}).get("plan", {})
    at = (f" at step {final['step']:,} of {plan['total_steps']:,}"
          if "step" in final and plan.get("total_steps") else "")
    resume = f"continue it with `little-baby train --resume {folder}`"
    if status == "running":
        return status, f"running{at} (last checkpoint): {describe_holder(holder(folder))}"
    if status == "stopped":
        return status, (f"stopped{at} without finishing: no process holds it any more (it was "
                        f"killed or crashed); {resume}")
    if status == "running?":
        return status, (f"running{at} according to its report, but no lock says whether a "
                        f"process still trains it (a run started by a version without "
                        f"locks?); if none does, {resume}")
    if status.startswith(("interrupted", "failed")):
        return status, f"{status}; {resume}"
    return status, status


def complete(baby, prompt, settings, echo=False):
    """Generate from `prompt` with `settings` (the generate options); with echo, print the
    prompt and then each piece as it is made. Returns the completion.json record."""
    start = time.perf_counter()
    pieces = []
    # stream checks the settings and the prompt's symbols now, before any text is printed
    stream = baby.stream(prompt, settings["max_tokens"], settings["temperature"],
                         settings["top_k"], settings["top_p"], settings["seed"],
                         settings["use_cache"], settings["unknown"])
    if echo:
        print(prompt, end="", flush=True)
    for piece in stream:
        pieces.append(piece)
        if echo:
            print(piece, end="", flush=True)
    if echo:
        print(flush=True)
    seconds = time.perf_counter() - start
    return {"guid": baby.guid, "prompt": prompt, "text": "".join(pieces), "settings": settings,
            "time": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "seconds": round(seconds, 3), "tokens_per_s": round(len(pieces) / max(seconds, 1e-9))}


def sample_settings(baby, n_tokens):
    """The settings of the sample written after training (empty prompt, as the original)."""
    return {"max_tokens": n_tokens, "temperature": DEFAULTS.temperature, "top_k": DEFAULTS.top_k,
            "top_p": DEFAULTS.top_p, "seed": baby.config.seed, "use_cache": True,
            "unknown": "error"}


def train_and_report(train, args):
    """Run `train()` (which returns the model, saved in its folder: identity.home); then
    print a summary and write a sample to completion.json. Ctrl-C or SIGTERM
    (after the run's checkpoint) is exit code 128 + the signal's number: 130 or 143."""
    try:
        baby = train()
    except TrainingInterrupted as e:
        print(f"little-baby {args.command}: {e}", file=sys.stderr)
        return 128 + e.signum
    folder = home(baby)
    if args.generate_tokens > 0:
        record = complete(baby, "", sample_settings(baby, args.generate_tokens))
        write_completion(folder, record)
    if args.quiet:
        print(folder)
        return 0
    r = baby.report
    final, timings, plan = r["final"], r["timings"], r["settings"]["plan"]
    walk = (f"{plan['n_epochs']} epoch(s)" if plan["n_epochs"] else "random windows")
    print(f"model {baby.guid} saved in {folder}")
    print(f"  {final['step']:,} steps ({walk}) in {human_duration(timings['seconds'])}, "
          f"{timings['tokens_per_s']:,} tokens/s, {baby.n_params:,} parameters")
    if final.get("kept") == "best":
        print(f"  {kept_note(final)}; train loss there {final['train_loss']:.4f}")
    else:
        print(f"  loss: train {final['train_loss']:.4f}, validation {final['val_loss']:.4f} "
              f"(best {final['best_val_loss']:.4f} at step {final['best_step']:,})")
    if final.get("val_bits_per_char") is not None:
        print(f"  validation {final['val_bits_per_char']:.4f} bits per character "
              f"({baby.tokenizer.vocab_size:,} {baby.config.c_tokenizer} tokens)")
    if r.get("loss_curve"):
        print(f"  loss curve: {folder / r['loss_curve']}")
    if args.generate_tokens > 0:
        print(f"sample ({args.generate_tokens} tokens, temperature 0.8):\n{record['text']}")
    return 0



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
