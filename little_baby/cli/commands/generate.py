"""Generate text with a model, streamed to stdout as it is made.

    little-baby generate --prompt "ROMEO:"                 # the packaged default model
    little-baby generate 3f2a --prompt "ROMEO:" --max-tokens 300 --temperature 0.7 --seed 1
    little-baby generate someone/baby-sophocles --prompt "ROMEO:"    # from the Hub

MODEL is a GUID in the store (or a unique start of one), a model folder's path, or what
LittleBaby.from_pretrained takes: an age (age-48-months), a GUID on the Hub (--repo), a
Hub repo id. The prompt, the text and the settings go to the model's completion.json (not
for the packaged default model or a model in the Hub cache, whose folders are left alone).

The sampling settings and their defaults are LittleBaby.generate's (engine/sampling.py),
so one --seed gives the text generate(..., seed=) gives; --top-k 0 turns top-k off. A
bad value is refused, in one line, before anything is loaded or printed.

A model whose run has not finished (still training, stopped, interrupted, diverged) is
used as it is, with one line on stderr saying so and at which step its weights are.
"""
import sys

from ...baby import LittleBaby
from ...engine.sampling import DEFAULTS, OFF, check_settings, none_if_off
from ...errors import TokenizerError
from ...io.store.places import is_shipped
from ...io.store.model_folder import write_completion
from ...training.resources import check_generation_fits
from .common import (add_model_arguments, complete, find_or_fetch,
                     in_hub_cache, run_state)


def add_arguments(parser):
    add_model_arguments(parser)
    parser.add_argument("--prompt", default="", help="text to continue (default: empty)")
    parser.add_argument("--max-tokens", type=_number, default=DEFAULTS.max_new_tokens,
                        metavar="N", help=f"tokens to generate, 0 or more "
                                          f"(default {DEFAULTS.max_new_tokens})")
    parser.add_argument("--temperature", type=_number, default=DEFAULTS.temperature,
                        metavar="T", help=f"0 or more: 0 is greedy, higher is wilder "
                                          f"(default {DEFAULTS.temperature})")
    parser.add_argument("--top-k", type=_number, default=DEFAULTS.top_k, metavar="K",
                        help=f"sample from the K likeliest tokens, 1 or more; {OFF['top_k']}: off "
                             f"(default {DEFAULTS.top_k})")
    parser.add_argument("--top-p", type=_number, default=DEFAULTS.top_p, metavar="P",
                        help="sample from the likeliest tokens that add up to P, 0 < P <= 1 "
                             "(nucleus; default off)")
    parser.add_argument("--seed", type=_number, default=DEFAULTS.seed, metavar="N",
                        help="make the sample repeatable (0 or more)")
    parser.add_argument("--no-cache", dest="use_cache", action="store_false",
                        help="recompute every position instead of using the KV cache (slower)")
    parser.add_argument("--drop-unknown", action="store_true",
                        help="skip prompt characters the model does not know (default: error)")
    parser.add_argument("--device", choices=["cpu", "gpu"], default=None,
                        help="run on this device, whatever the model was trained on")
    parser.add_argument("--half", action="store_true",
                        help="hold the weights in float16: half the memory; on the CPU every "
                             "product is still float32's, several times slower")


CLI_NAMES = {"max_new_tokens": "--max-tokens", "temperature": "--temperature",
             "top_k": "--top-k", "top_p": "--top-p", "seed": "--seed"}  # the checks' names here


def _number(text):
    """An int or a float if `text` is one, else the text itself (check_settings then
    refuses it in one line, which argparse's own type errors do not)."""
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def checked_settings(args):
    """The generate options, checked (engine/sampling.py) before anything else happens:
    --top-k is off at OFF's value, --top-p and --seed when left out."""
    off = {"top_k": str(OFF["top_k"]), "top_p": "leave it out", "seed": "leave it out"}
    return check_settings(args.max_tokens, args.temperature, none_if_off("top_k", args.top_k),
                          args.top_p, args.seed, names=CLI_NAMES, off=off)


def run(args):
    checked = checked_settings(args)
    folder = find_or_fetch(args.model, args.store, args.repo)
    overrides = {} if args.device is None else {"c_device": args.device}
    if args.half:
        overrides["d_type"] = "fp16"
    elif args.device == "cpu":
        overrides["d_type"] = "fp32"  # a GPU's fp16 config: fp32 is the CPU's fast type
    baby = LittleBaby.load(folder, **overrides)
    unknown = "drop" if args.drop_unknown else "error"
    check_prompt_symbols(baby.tokenizer, args.prompt, unknown)
    prompt_tokens = len(baby.tokenizer.encode(args.prompt, unknown=unknown)) or 1
    check_generation_fits(baby.config, baby.tokenizer.vocab_size,
                          min(prompt_tokens, baby.config.n_ctx), baby.backend.device)
    note = unfinished_note(folder, baby.report)
    if note:
        print(f"little-baby generate: note: {note}", file=sys.stderr, flush=True)
    settings = {"max_tokens": checked.max_new_tokens, "temperature": checked.temperature,
                "top_k": checked.top_k, "top_p": checked.top_p, "seed": checked.seed,
                "use_cache": args.use_cache, "unknown": unknown}
    record = complete(baby, args.prompt, settings, echo=True)
    if not is_shipped(folder) and not in_hub_cache(folder):  # never inside the package
        write_completion(folder, record)
    return 0


def check_prompt_symbols(tokenizer, prompt, unknown):
    """Refuse, in the command's words, a prompt with symbols the model does not know
    (unless --drop-unknown)."""
    if tokenizer.kind == "bpe":  # byte-level: every text is made of known tokens
        return
    missing = sorted({p for p in tokenizer.split(prompt) if p not in tokenizer.ids})
    if missing and unknown == "error":
        shown = ", ".join(repr(m) for m in missing[:20]) + (" ..." if len(missing) > 20 else "")
        raise TokenizerError(
            f"{len(missing)} symbol(s) of the prompt are not in this model's vocabulary: "
            f"{shown}. Remove them, add --drop-unknown to skip them, or finetune the model "
            f"on text that contains them (little-baby finetune MODEL --corpus FILE).")


def unfinished_note(folder, report):
    """One sentence when `folder`'s model comes from a run that has not finished, else None."""
    status, explained = run_state(folder, report)
    if status in ("complete", "unknown"):
        return None
    final = report.get("final", {})
    step = final.get("kept_step", final.get("step"))
    weights = f"its weights are those of step {step:,}" if step is not None else \
        "its weights are not a finished model's"
    return f"{report.get('guid') or folder} is an unfinished run ({explained}): {weights}."
