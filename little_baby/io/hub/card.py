"""Model cards: the README.md of a model folder or Hub repo. The Hub's YAML metadata, then
the model's own numbers — from its config, its weights and its report.json — rendered
from the template model_cards/model_card.md. What the report lacks is left out, never
made up; the sample is generated from the model itself, with the settings it names.
"""
import re
from importlib import resources

from ..store import identity
from ..store.report import corpus_name

TEMPLATE = "model_cards/model_card.md"
SAMPLE = {"prompt": "", "max_new_tokens": 200, "temperature": 0.8, "top_k": 40, "seed": 0}
MAX_EVAL_ROWS = 20
COUNTS = {"n_chars", "n_train", "n_val", "total_steps", "tokens_per_s", "tokens"}  # 1,234,567

ARCHITECTURE = [("attention", "c_attention"), ("network", "c_network"),
                ("LayerNorm", "c_sequence"), ("layers", "n_layers"), ("heads", "n_heads"),
                ("head size (all heads)", "head_size"), ("embedding width", "n_emb"),
                ("context (tokens)", "n_ctx"), ("attention temperature", "r_temp"),
                ("LayerNorm epsilon", "r_ln_eps")]
HIDDEN = ("hidden expansion", "n_hidden")
VARIANT_SETTINGS = {"gqa": [("key/value heads", "n_kv_heads")], "rfa": [("window", "s_window")],
                    "mlp": [HIDDEN], "swi": [HIDDEN], "moe": [("experts", "n_experts"), HIDDEN],
                    "lor": [("rank", "n_rank")], "ggl": [("groups", "n_groups")]}
TRAINING = [("batch size", "batch_size"), ("learning rate (AdamW)", "r_learn"),
            ("weight decay", "r_weight_decay"), ("gradient clipping (global norm)", "r_clip"),
            ("warm-up", "s_warmup"), ("dropout", "r_dropout"),
            ("train / validation split", "r_split"), ("shuffle", "c_shuffle"), ("seed", "seed")]
HARDWARE = [("device", "device"), ("GPU", "gpu"), ("CPU", "cpu"), ("CPU cores", "cpu_count"),
            ("OS", "os"), ("Python", "python"), ("NumPy", "numpy"), ("CuPy", "cupy")]


def model_card(baby, repo_id=None, loss_curve=None, metadata=None):
    """The card of `baby` as text. `repo_id`: the Hub repo it goes to; `loss_curve`: the
    image's file name beside the card, if there is one; `metadata`: more YAML fields
    (e.g. {"datasets": ["karpathy/tiny_shakespeare"], "language": "en"})."""
    from huggingface_hub import ModelCard, ModelCardData

    report, cfg = identity.recorded(baby), baby.config
    title = repo_id.split("/")[-1] if repo_id else (f"The Little Baby {baby.guid}" if baby.guid
                                                    else "The Little Baby")
    data = {"library_name": "little_baby", "license": "apache-2.0",
            "pipeline_tag": "text-generation", "model_name": title, "tags": _tags(cfg),
            "base_model": identity.base_model(report), "eval_results": _eval_results(report)}
    card_data = ModelCardData(**{k: v for k, v in {**data, **(metadata or {})}.items()
                                 if v is not None})
    template = resources.files("little_baby").joinpath(TEMPLATE).read_text(encoding="utf-8")
    card = ModelCard.from_template(
        card_data, template_str=template, title=title, guid=baby.guid,
        origin=_origin(report), about=report.get("card", {}).get("about"),
        architecture=_architecture(baby),
        training=_training(report), results=_results(report), evals=_evals(report),
        loss_curve=loss_curve, hardware=_rows(report.get("hardware", {}), HARDWARE),
        sample=_sample(baby), lineage=identity.lineage(baby), how_to_load=_how_to_load(baby, repo_id))
    return str(card)


def _tags(cfg):
    level = "byte-level-bpe" if cfg.c_tokenizer == "bpe" else f"{cfg.c_tokenizer}-level"
    return ["little-baby", "numpy", "from-scratch", level,
            f"attention-{cfg.c_attention}", f"network-{cfg.c_network}"]


def _origin(report):
    """Where a converted or imported model came from, in a sentence (identity.describe);
    None for a trained model (the card's Training section) or a finetune (its Lineage)."""
    if identity.origin(report)["kind"] in ("trained", "finetuned"):
        return None
    return identity.describe(report)


def _eval_results(report):
    from huggingface_hub import EvalResult

    heldout = report.get("heldout")
    val_loss = heldout["loss"] if heldout else report.get("final", {}).get("val_loss")
    if val_loss is None:
        return None
    corpus = report.get("corpus", {})
    name = corpus_name(corpus) or "training text"
    what = ("every full window of the held-out text" if heldout else "a fixed sample of "
            "held-out windows")
    return [EvalResult(task_type="text-generation", dataset_type="text", dataset_name=name,
                       dataset_split="validation", metric_type="loss",
                       metric_name=f"validation loss (nats per token, {what})",
                       metric_value=round(val_loss, 4))]


def _architecture(baby):
    cfg = baby.config.to_dict()
    rows = _rows(cfg, ARCHITECTURE + VARIANT_SETTINGS.get(cfg["c_attention"], [])
                 + VARIANT_SETTINGS.get(cfg["c_network"], []))
    if cfg.get("c_tie"):
        rows = rows + [("output layer", "tied: the token embedding transposed, no bias "
                                        "(GPT-2's)")]
    return rows + [("tokenizer", baby.tokenizer.describe(examples=6).replace("|", "\\|")),
                   ("parameters", f"{baby.n_params:,}"),
                   ("weights", _weights(baby))]


def _weights(baby):
    stored = baby.report.get("heldout", {}).get("weights")
    if stored and stored != baby.backend.dtype.name:
        return f"{stored} safetensors (computed in {baby.backend.dtype.name})"
    return f"{baby.backend.dtype.name}, safetensors"


def _training(report):
    settings = report.get("settings", {})
    plan, corpus = settings.get("plan", {}), report.get("corpus", {})
    rows = []
    if plan.get("max_iters"):
        rows.append(("steps (random windows)", plan["max_iters"]))
    elif plan.get("n_epochs"):
        rows.append(("epochs", plan["n_epochs"]))
    rows += _rows(plan, [("total steps", "total_steps"),
                         ("evaluated every (steps)", "eval_interval")])
    rows += _rows(settings.get("config", {}), TRAINING)
    if corpus_name(corpus):
        rows.append(("text", f"`{corpus_name(corpus)}`"))
    rows += _rows(corpus, [("characters", "n_chars"), ("training tokens", "n_train"),
                           ("validation tokens", "n_val")])
    if corpus.get("sha256"):
        rows.append(("text sha256", f"`{corpus['sha256']}`"))
    return rows


def _results(report):
    final, timings = report.get("final", {}), report.get("timings", {})
    rows = [] if report.get("status") in (None, "complete") else [("status", report["status"])]
    rows += _rows(final, [("steps", "step")])
    rows += [(label, f"{final[key]:.4f}") for label, key in
             [("final train loss", "train_loss"), ("final validation loss", "val_loss")]
             if final.get(key) is not None]
    heldout = report.get("heldout")
    if heldout:
        rows += [(f"held-out loss, all {heldout['windows']:,} windows (nats / token)",
                  f"{heldout['loss']:.4f}"),
                 ("held-out bits per token", f"{heldout['bits_per_token']:.4f}")]
    if final.get("best_val_loss") is not None:
        rows.append(("best validation loss", f"{final['best_val_loss']:.4f}"
                     + (f" (step {final['best_step']})" if "best_step" in final else "")))
    rows += _rows(timings, [("training tokens / s", "tokens_per_s"), ("ms per step", "ms_per_step"),
                            ("training time (s)", "train_seconds"), ("tokens seen", "tokens")])
    return rows + _rows(report, [("finished", "finished")])


def _evals(report):
    evals = report.get("losses", {}).get("evals", [])
    step = max(1, -(-len(evals) // MAX_EVAL_ROWS))
    shown = evals[::step] + ([evals[-1]] if evals and (len(evals) - 1) % step else [])
    return [{"step": e["step"], "train": f"{e['train']:.4f}", "val": f"{e['val']:.4f}"}
            for e in shown]


def _sample(baby):
    """A sample with the settings the report's card asks for (else SAMPLE's)."""
    settings = {**SAMPLE, **baby.report.get("card", {}).get("sample", {})}
    prompt = settings.pop("prompt")
    text = prompt + baby.generate(prompt, **settings)
    longest = max((len(run) for run in re.findall("`+", text)), default=0)
    described = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in settings.items())
    start = f"the prompt {prompt!r}, shown first" if prompt else "an empty prompt"
    return {"intro": f"What this model writes from {start} ({described}):",
            "fence": "`" * max(3, longest + 1), "text": text}


def _how_to_load(baby, repo_id):
    if repo_id:
        lines = [f'baby = LittleBaby.from_pretrained("{repo_id}")']
        if baby.guid:
            lines.append(f'baby = LittleBaby.from_pretrained("{baby.guid}", repo="{repo_id}")'
                         f'  # by GUID')
        return lines
    lines = ['baby = LittleBaby.from_pretrained("path/to/this/folder")']
    if baby.guid:
        lines.append(f'baby = LittleBaby.from_pretrained("{baby.guid}")  # by its GUID')
    return lines


def _rows(values, labels):
    """(label, value) for each (label, key) whose key `values` has (and is not None)."""
    return [(label, f"{values[key]:,}" if key in COUNTS else values[key])
            for label, key in labels if values.get(key) is not None]
