"""Show a model: settings, parameter count, size on disk, losses and lineage.

    little-baby info 3f2a
    little-baby info                 # the packaged default model
    little-baby info 3f2a --json     # config and report as JSON
    little-baby info age-48-months   # fetched from the Hub first if need be

The weights file is read and checked (complete, the config's shapes, no nan or inf): a
damaged one is named, with exit code 2. A run's status is what is true now: `running`
while a live process holds its folder, `stopped` when its process ended without
finishing (killed, crashed), with the command that continues it.
"""
import json

from ...engine.transformer import check_shapes, count_params, param_shapes
from ...errors import BabyError, WeightsError
from ...io.formats.gpt2_checkpoint import gpt2_config_and_tokenizer
from ...io.store import catalog
from ...io.store.ages import shipped_folder
from ...io.store.identity import describe
from ...io.store.model_folder import (LOSS_CURVE, WEIGHTS, check_model_folder, is_gpt2_folder,
                                      is_model_folder, read_config_and_tokenizer, read_report, read_weights)
from ...io.store.places import is_shipped, store_dir
from ...io.store.report import corpus_name, model_loss
from .common import (add_model_arguments, find_or_fetch, human_duration,
                     human_size, run_state)


def add_arguments(parser):
    add_model_arguments(parser)
    parser.add_argument("--json", action="store_true", help="print config and report as JSON")


def run(args):
    folder = find_or_fetch(args.model, args.store, args.repo)
    if is_gpt2_folder(folder):
        return gpt2_info(folder, args)
    report = read_report(folder)
    try:
        config, tokenizer, _ = check_model_folder(folder)
    except WeightsError as e:  # the config and tokenizer are still shown when they can be
        config, tokenizer = read_config_and_tokenizer(folder)
        damage = str(e)
    else:
        damage = weights_damage(folder, config, tokenizer.vocab_size)
    status, explained = run_state(folder, report)
    if args.json:
        print(json.dumps({"folder": str(folder), "status": status, "weights_damage": damage,
                          "config": config.to_dict(), "report": report},
                         indent=2, ensure_ascii=False))
        if damage:
            raise WeightsError(damage)
        return 0
    files = catalog.folder_files(folder)
    print(f"model      {report.get('guid') or folder.name}")
    print(f"folder     {folder}" + ("  (shipped with the package: read-only)"
                                     if is_shipped(folder) else ""))
    print(f"status     {'damaged weights (see below)' if damage else explained}")
    origin = describe(report)
    if origin:
        print(f"origin     {origin}")
    if report.get("lineage"):
        print(f"lineage    {lineage(report, args.store)}")
    if report.get("n_params"):
        print(f"parameters {report['n_params']:,}")
    print(f"size       {human_size(sum(st.st_size for _, st in files))} on disk: "
          f"{', '.join(f.name for f, _ in files)}")
    print(f"vocabulary {tokenizer.describe(examples=8)}")
    print("config     " + _columns([f"{k}={v}" for k, v in config.to_dict().items()]))
    if "final" in report:
        final, timings, corpus = report["final"], report["timings"], report["corpus"]
        source = corpus_name(corpus) or "text given in Python"
        print(f"training   {final['step']:,} steps on {source} ({corpus['n_tokens']:,} tokens) in "
              f"{human_duration(timings['seconds'])}, {timings['tokens_per_s']:,} tokens/s")
        print(f"losses     train {final['train_loss']:.4f}, validation {final['val_loss']:.4f} "
              f"(best {final['best_val_loss']:.4f} at step {final['best_step']:,})")
        for epoch in report["losses"]["epochs"]:
            print(f"  epoch {epoch['epoch']}: mean training-step loss {epoch['train']:.4f}, "
                  f"validation {epoch['val']:.4f}")
    loss, how = model_loss(report)
    if loss is not None:
        print(f"loss       {loss:.4f} nats per token ({how})")
    curve = folder / LOSS_CURVE
    if report.get("loss_curve") and curve.is_file():  # a copy saved elsewhere has none
        print(f"curve      {curve}")
    if damage:
        raise WeightsError(damage)
    return 0


def gpt2_info(folder, args):
    """A GPT-2 checkpoint (transformers' files, read by LittleBaby.from_gpt2): what it
    is, as ours will hold it, without reading its weights."""
    hf, config, tokenizer = gpt2_config_and_tokenizer(folder)
    params = count_params(config, tokenizer.vocab_size)
    if args.json:
        print(json.dumps({"folder": str(folder), "format": "gpt2", "n_params": params,
                          "config": config.to_dict()}, indent=2, ensure_ascii=False))
        return 0
    files = catalog.folder_files(folder)
    print(f"model      GPT-2 checkpoint ({', '.join(getattr(hf, 'architectures', None) or ['GPT2LMHeadModel'])}), "
          f"read without torch by LittleBaby.from_gpt2")
    print(f"folder     {folder}")
    print(f"parameters {params:,}" + (" (the output layer tied to wte)" if config.c_tie else ""))
    print(f"size       {human_size(sum(st.st_size for _, st in files))} on disk: "
          f"{', '.join(f.name for f, _ in files)}")
    print(f"vocabulary {tokenizer.describe(examples=8)}")
    print("config     " + _columns([f"{k}={v}" for k, v in config.to_dict().items()]))
    return 0


def weights_damage(folder, config, vocab_size):
    """What is wrong with `folder`'s weights file (missing, truncated, corrupt, another
    config's shapes, nan or inf), or None when it loads as this config's weights."""
    if not (folder / WEIGHTS).is_file():
        return f"{folder} has no {WEIGHTS}: the model cannot be loaded."
    try:
        check_shapes(read_weights(folder / WEIGHTS), param_shapes(config, vocab_size))
    except BabyError as e:
        return str(e)
    return None



def lineage(report, store):
    """'guid <- parent <- grandparent', each marked when it is not in the store."""
    chain = [report.get("guid") or "?", *report.get("lineage", [])]
    return " <- ".join([chain[0], *(_where(g, store) for g in chain[1:])])


def _where(guid, store):
    if is_model_folder(store_dir(store) / guid):
        return guid
    if shipped_folder(guid) is not None:
        return f"{guid} (ships with the package)"
    return f"{guid} (not in the store)"


def _columns(items, width=4):
    rows = [items[i:i + width] for i in range(0, len(items), width)]
    return "\n           ".join("  ".join(f"{item:24}" for item in row).rstrip() for row in rows)
