"""Generate text with a model, streamed to stdout as it is made.

    little-baby generate --prompt "ROMEO:"                 # the packaged default model
    little-baby generate 3f2a --prompt "ROMEO:" --max-tokens 300 --temperature 0.7 --seed 1
    little-baby generate someone/baby-sophocles --prompt "ROMEO:"    # from the Hub

MODEL is a GUID in the cache (or a unique start of one), a model folder's path, or what
LittleBaby.from_pretrained takes: an age (age-48-months), a GUID on the Hub (--repo), a
Hub repo id. The prompt, the text and the settings go to the model's completion.json (not
for the packaged default model or a model in the Hub cache, whose folders are left alone).
"""
import time
from datetime import datetime, timezone

from ...io import cache as model_cache
from ...baby import LittleBaby
from ...io.store import write_completion
from .common import add_cache_argument, add_repo_argument, find_or_fetch, in_hub_cache


def add_arguments(parser):
    parser.add_argument("model", nargs="?", metavar="MODEL",
                        help="GUID, unique GUID prefix, folder, age or Hub repo id "
                             "(default: the packaged model)")
    parser.add_argument("--prompt", default="", help="text to continue (default: empty)")
    parser.add_argument("--max-tokens", type=int, default=500, metavar="N",
                        help="tokens to generate (default 500)")
    parser.add_argument("--temperature", type=float, default=0.8,
                        help="0 is greedy; higher is wilder (default 0.8)")
    parser.add_argument("--top-k", type=int, default=40, metavar="K",
                        help="sample from the K likeliest tokens (default 40; 0: all)")
    parser.add_argument("--top-p", type=float, default=None, metavar="P",
                        help="sample from the likeliest tokens that add up to P (nucleus)")
    parser.add_argument("--seed", type=int, default=None, help="make the sample repeatable")
    parser.add_argument("--no-cache", dest="use_cache", action="store_false",
                        help="recompute every position instead of using the KV cache (slower)")
    parser.add_argument("--drop-unknown", action="store_true",
                        help="skip prompt characters the model does not know (default: error)")
    parser.add_argument("--device", choices=["cpu", "gpu"], default=None,
                        help="run on this device, whatever the model was trained on")
    add_cache_argument(parser)
    add_repo_argument(parser)


def run(args):
    folder = find_or_fetch(args.model, args.cache, args.repo)
    overrides = {} if args.device is None else {"c_device": args.device}
    if args.device == "cpu":
        overrides["d_type"] = "fp32"  # fp16 is for GPUs; fp32 holds any saved weights
    baby = LittleBaby.load(folder, **overrides)
    settings = {"max_tokens": args.max_tokens, "temperature": args.temperature,
                "top_k": args.top_k or None, "top_p": args.top_p, "seed": args.seed,
                "use_cache": args.use_cache, "unknown": "drop" if args.drop_unknown else "error"}
    record = complete(baby, args.prompt, settings, echo=True)
    if folder.resolve() != model_cache.DEFAULT_MODEL.resolve() and not in_hub_cache(folder):
        write_completion(folder, record)
    return 0


def complete(baby, prompt, settings, echo=False):
    """Generate from `prompt` with `settings` (the generate options); with echo, print the
    prompt and then each piece as it is made. Returns the completion.json record."""
    baby.tokenizer.encode(prompt, unknown=settings["unknown"])  # unknown symbols: error first
    start = time.perf_counter()
    pieces = []
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
    return {"max_tokens": n_tokens, "temperature": 0.8, "top_k": 40, "top_p": None,
            "seed": baby.config.seed, "use_cache": True, "unknown": "error"}

