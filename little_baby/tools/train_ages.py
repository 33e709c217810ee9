"""Retrain the original project's five age models (its model card, "Cry. Babble. Speak.
Repeat.": same GUIDs, same architectures) on Tiny Shakespeare, into <store>/<guid>/ of a
model store (never into the shipped models, which are read-only: a maintainer copies the
finished folders into the checkout's shipped/ to ship them).

    python -m little_baby.tools.train_ages --store /work/age_runs             # all five
    python -m little_baby.tools.train_ages --store /work/age_runs --ages 3 6  # some of them
    python -m little_baby.tools.train_ages --table      # the README's table of the shipped ones

Resumable: a model whose run is complete is skipped, one with a checkpoint continues
from it (Ctrl-C or SIGTERM stops with a checkpoint), the others start. A finished run is
then finalised once: its loss over every full window of the held-out text, its weights
stored as float16 when that leaves the loss the same to 3 decimals, its model card.
"""
import argparse
import sys
from pathlib import Path

from ..baby import LittleBaby
from ..config import BabyConfig
from ..errors import BabyError, TrainingInterrupted
from ..io.store.ages import AGES
from ..io.hub.card import model_card
from ..io.store.checkpoint import CHECKPOINT
from ..io.store.places import SHIPPED, store_dir
from ..io.store.files import write_text_atomic
from ..io.store.model_folder import CARD, LOSS_CURVE, read_report, save_model
from ..training.data import find_input, read_corpus
from ..training.evaluate import heldout_loss

BY_MONTHS = {age.months: age for age in AGES.values()}
# every age: pre-norm, mha, mlp, a character tokenizer
ARCHITECTURE = dict(c_sequence="pre", c_attention="mha", c_network="mlp", c_tokenizer="char",
                    n_emb=128, head_size=128, n_heads=16, n_layers=16)
TOKENS_PER_STEP = 4096  # batch_size = TOKENS_PER_STEP / n_ctx windows
# age -> (steps, peak learning rate, dropout); warm-up 5 %, cosine decay to a tenth
TRAINING = {3: (800, 2e-3, 0.0), 6: (1200, 2e-3, 0.0), 12: (1500, 2e-3, 0.05),
            24: (2500, 1.5e-3, 0.1), 48: (5000, 1.5e-3, 0.1)}
SEED = 1337
SAMPLE = {"prompt": "ROMEO:", "max_new_tokens": 500, "temperature": 0.8, "top_k": 40, "seed": 1}
ORIGINAL_REPO = "koureasstavros/TheLittleBaby"
ABOUT = """\
**The {age}-month baby** of the original project, [The Little Baby](https://github.com/{repo})
by Koureas Stavros (Apache-2.0; its model card asks that the original author and project
be credited, as here): same GUID, same architecture (pre-norm, mha, mlp, {n_layers} layers,
{n_heads} heads, n_emb {n_emb}, context {n_ctx}, a character tokenizer), **retrained by
this project**, not the original's weights. Trained on Tiny Shakespeare for {steps:,} steps
of {batch} windows of {n_ctx} characters ({tokens:,} tokens seen, {passes:.1f} passes over
the training text), AdamW with peak learning rate {lr:g}, warm-up and cosine decay, dropout
{dropout:g}, in {hours:.1f} hours on {cpu} ({cores} cores, NumPy {numpy}). Loss over every
full window of the held-out last 10 % of the text: **{loss:.4f} nats, {bits:.3f} bits per
character**. The original's own weights for this GUID load with
`LittleBaby.from_pretrained("{guid}", repo="{repo}")` where the Hub is reachable."""


def age_config(age):
    """The BabyConfig the age-`age` model is trained with."""
    n_ctx = BY_MONTHS[age].n_ctx
    steps, lr, dropout = TRAINING[age]
    return BabyConfig(**ARCHITECTURE, n_ctx=n_ctx, batch_size=TOKENS_PER_STEP // n_ctx,
                      r_learn=lr, r_dropout=dropout, seed=SEED)


def train_age(age, corpus, store, quiet=False):
    """Train (or continue, or skip when done) the age-`age` model in the model store
    `store`; returns its folder."""
    guid = BY_MONTHS[age].guid
    folder = Path(store) / guid
    if not train_run(folder, age_config(age), corpus, TRAINING[age][0], quiet, guid=guid):
        print(f"age {age} months ({guid}): complete, skipped", file=sys.stderr)
    return folder


def train_run(folder, config, corpus, steps, quiet=False, **train_args):
    """Train a new model of `config` on `corpus` into `folder` for `steps` steps of random
    windows (evaluated every 1/30 of them, 50 steps apart at the least), or continue its
    run from the checkpoint there; False, doing nothing, when that run is complete.
    `train_args` go to LittleBaby.train_new (vocab_size, keep, guid ...)."""
    if read_report(folder).get("status") == "complete":
        return False
    if (folder / CHECKPOINT).exists():
        LittleBaby.resume(str(folder), quiet=quiet)
    else:
        LittleBaby.train_new(config, Path(corpus), max_iters=steps,
                             eval_interval=max(50, steps // 30), out=folder, quiet=quiet,
                             **train_args)
    return True


def finalize(age, folder, corpus):
    """Held-out loss, float16 weights when they keep it, and the card, once per model."""
    folder = Path(folder)
    baby = LittleBaby.load(folder)
    if baby.report.get("status") != "complete" or "heldout" in baby.report:
        return
    text = read_corpus(corpus)
    fp32 = heldout_loss(baby, text)
    halved = {k: v.astype("float16") for k, v in baby.params.items()}
    baby16 = LittleBaby(baby.config, baby.tokenizer, params=halved)
    fp16 = heldout_loss(baby16, text)
    keep16 = round(fp16["loss"], 3) == round(fp32["loss"], 3)
    heldout = fp16 if keep16 else fp32
    report, cfg, hw = baby.report, baby.config, baby.report.get("hardware", {})
    corpus_record = report["corpus"]
    if "path" in corpus_record:  # a report from before reports named the file, not the path
        corpus_record["file"] = Path(corpus_record.pop("path")).name
    steps, tokens = report["final"]["step"], report["timings"]["tokens"]
    report["heldout"] = {**heldout, "fp32_loss": fp32["loss"],
                         "weights": "float16" if keep16 else "float32"}
    report["card"] = {"sample": SAMPLE, "about": ABOUT.format(
        age=age, repo=ORIGINAL_REPO, guid=baby.guid, n_layers=cfg.n_layers, n_heads=cfg.n_heads,
        n_emb=cfg.n_emb, n_ctx=cfg.n_ctx, steps=steps, batch=cfg.batch_size, tokens=tokens,
        passes=tokens / report["corpus"]["n_train"], lr=cfg.r_learn, dropout=cfg.r_dropout,
        hours=report["timings"]["seconds"] / 3600, cpu=hw.get("cpu", "a CPU"),
        cores=hw.get("cpu_count", "?"), numpy=hw.get("numpy", "?"), loss=heldout["loss"],
        bits=heldout["bits_per_token"])}
    if keep16:
        baby.params = halved  # the card's sample comes from the weights that ship
    save_model(baby, folder, "float16" if keep16 else None)
    curve = LOSS_CURVE if (folder / LOSS_CURVE).is_file() else None
    write_text_atomic(folder / CARD, model_card(baby, loss_curve=curve))
    print(f"age {age} months: held-out loss {heldout['loss']:.4f} nats "
          f"({heldout['bits_per_token']:.3f} bits/char; fp32 {fp32['loss']:.4f}, "
          f"{report['heldout']['weights']} weights)", file=sys.stderr)


def table(store):
    """The README's table of the finished age models in the folder `store`, as Markdown."""
    rows = ["| age | GUID | n_ctx | parameters | tokens seen | training time | held-out loss "
            "(nats) | bits / char | sample (after \"ROMEO:\") |",
            "|---|---|---:|---:|---:|---:|---:|---:|---|"]
    total = 0
    for age in sorted(BY_MONTHS):
        folder = Path(store) / BY_MONTHS[age].guid
        report = read_report(folder)
        if "heldout" not in report:
            rows.append(f"| {age} months | `{BY_MONTHS[age].guid}` | {BY_MONTHS[age].n_ctx} "
                        f"| | | | not trained yet | | |")
            continue
        total += sum(f.stat().st_size for f in folder.iterdir() if f.is_file())
        baby = LittleBaby.load(folder)
        line = baby.generate(SAMPLE["prompt"], max_new_tokens=60, temperature=0.8, top_k=40,
                             seed=1).strip().split("\n")[0].strip().replace("|", "\\|")
        h = report["heldout"]
        rows.append(f"| {age} months | `{baby.guid}` | {baby.config.n_ctx} | {baby.n_params:,} "
                    f"| {report['timings']['tokens']:,} | {report['timings']['seconds'] / 3600:.1f} h "
                    f"| {h['loss']:.3f} | {h['bits_per_token']:.3f} | {line} |")
    return "\n".join(rows) + f"\n\nOn disk: {total / 2 ** 20:.1f} MiB in all.\n"


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m little_baby.tools.train_ages",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--ages", type=int, nargs="+", choices=sorted(BY_MONTHS),
                        default=sorted(BY_MONTHS, reverse=True))
    parser.add_argument("--corpus", default=None, help="Tiny Shakespeare (default: inputs/)")
    parser.add_argument("--store", default=None,
                        help="the model store to train into (default: the user's store)")
    parser.add_argument("--quiet", action="store_true")
    parser.add_argument("--table", action="store_true",
                        help="print the README's table of the finished models, train nothing")
    args = parser.parse_args(argv)
    if args.table:  # of the shipped models unless a store is named
        print(table(args.store or SHIPPED))
        return 0
    try:
        args.store = str(store_dir(args.store))  # refuses the shipped models' folder
    except BabyError as e:
        parser.error(str(e))
    corpus = args.corpus or find_input("shakespeare.txt")
    if corpus is None:
        parser.error("no shakespeare.txt in inputs/: give --corpus PATH.")
    try:
        for age in args.ages:
            folder = train_age(age, corpus, args.store, args.quiet)
            finalize(age, folder, corpus)
            print(folder)
    except TrainingInterrupted as e:
        print(e, file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
