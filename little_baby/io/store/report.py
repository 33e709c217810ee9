"""report.json: what a model folder records about how the model came to be (its GUID and
lineage, the corpus, the settings, the losses, the timings, the held-out measurement).

This module is its schema; who the model is (guid, parent_guid, lineage, origin) is
identity.py's to write and to read. A report is informative (a model loads without one), but
when present it is read by `info`, `list`, the cards and the Space, so it is checked on
read: every field below, where present, has its type; a report with `final` also has
the `corpus`, `losses` and `timings` that describe that final state. Other fields are
kept as they are (a newer writer may add some).
"""
from pathlib import Path

from ...errors import ModelFolderError

NUMBER, TEXT, WHOLE = (int, float), (str,), (int,)
OPTIONAL_TEXT = (str, type(None))

FIELDS = {  # field: its type, or for a dict, {key: type}
    "guid": OPTIONAL_TEXT, "parent_guid": OPTIONAL_TEXT, "lineage": list,
    "status": TEXT, "started": TEXT, "finished": TEXT, "n_params": WHOLE,
    "loss_curve": OPTIONAL_TEXT, "notes": list, "settings": dict, "hardware": dict,
    "card": dict, "original": (bool, dict), "converted_from": (str, dict),
    "origin": {"kind": TEXT, "base_model": TEXT, "repo": TEXT, "revision": TEXT,
               "commit": TEXT, "folder": TEXT},
    "corpus": {"sha256": TEXT, "n_chars": WHOLE, "n_tokens": WHOLE, "n_train": WHOLE,
               "n_val": WHOLE, "new_symbols": list, "file": OPTIONAL_TEXT,
               "path": OPTIONAL_TEXT, "n_val_chars": WHOLE},
    "losses": {"evals": list, "epochs": list},
    "final": {"step": WHOLE, "train_loss": NUMBER, "val_loss": NUMBER,
              "best_val_loss": NUMBER, "best_step": WHOLE, "kept": TEXT, "kept_step": WHOLE,
              "last_val_loss": NUMBER, "last_val_step": WHOLE, "val_bits_per_char": NUMBER},
    "timings": {"seconds": NUMBER, "train_seconds": NUMBER, "ms_per_step": NUMBER,
                "tokens": WHOLE, "tokens_per_s": NUMBER},
    "heldout": {"loss": NUMBER, "bits_per_token": NUMBER, "windows": WHOLE, "tokens": WHOLE,
                "fp32_loss": NUMBER, "weights": TEXT},
}
WITH_FINAL = {  # a report with `final` describes it: these fields, with these keys
    "final": ("step", "train_loss", "val_loss", "best_val_loss", "best_step"),
    "corpus": ("n_tokens",), "losses": ("evals", "epochs"), "timings": ("seconds", "tokens_per_s")}
EVAL = {"step": WHOLE, "train": NUMBER, "val": NUMBER}
EPOCH = {"epoch": NUMBER, "train": NUMBER, "val": NUMBER}


def check_report(report, path="report.json"):
    """`report` itself when it fits the schema, else a ModelFolderError naming `path`
    and the first field that does not."""
    def bad(field, why):
        raise ModelFolderError(f"{path}: field {field} {why}: the report is damaged: "
                               f"remove it (a model loads without one) or save the model again.")

    if not isinstance(report, dict):
        bad("(the whole file)", "is not a JSON object")
    for field, kind in FIELDS.items():
        if field not in report:
            continue
        value = report[field]
        if isinstance(kind, dict):
            if not isinstance(value, dict):
                bad(field, f"is {_name(value)}, not an object")
            for key, sub in kind.items():
                if key in value and not _is(value[key], sub):
                    bad(f"{field}.{key}", f"is {_name(value[key])}")
        elif not _is(value, kind):
            bad(field, f"is {_name(value)}")
    if "final" in report:
        for field, keys in WITH_FINAL.items():
            if field not in report:
                bad(field, "is missing (a report with 'final' has it)")
            for key in keys:
                if key not in report[field]:
                    bad(f"{field}.{key}", "is missing")
    for field, shape in (("evals", EVAL), ("epochs", EPOCH)):
        for i, row in enumerate(report.get("losses", {}).get(field, [])):
            if not isinstance(row, dict) or any(not _is(row.get(k), t) for k, t in shape.items()):
                bad(f"losses.{field}[{i}]", f"is not an object with {', '.join(shape)}")
    if any(not isinstance(g, str) for g in report.get("lineage", [])):
        bad("lineage", "holds something other than GUIDs")
    curve = report.get("loss_curve")
    if curve is not None and ("/" in curve or "\\" in curve or curve.startswith(".")):
        bad("loss_curve", f"is {curve!r}, not a file name in the model's folder")
    return report


def _is(value, kind):
    return isinstance(value, kind) and not (isinstance(value, bool) and bool not in
                                            (kind if isinstance(kind, tuple) else (kind,)))


def _name(value):
    return f"{type(value).__name__} {str(value)[:40]!r}"


def corpus_name(corpus):
    """The training text's file name: a report's corpus "file" (an older one's "path");
    None for text given in Python."""
    return corpus.get("file") or (Path(corpus["path"]).name if corpus.get("path") else None)


def model_loss(report):
    """(loss, how it was measured) of a model's report: its held-out loss over every full
    window of the held-out text where that was measured (training/evaluate.py), else the
    validation loss of its last evaluation; (None, '') when it has neither."""
    heldout = report.get("heldout") or {}
    if isinstance(heldout.get("loss"), (int, float)):
        return heldout["loss"], (f"held-out loss over all {heldout.get('windows', '?')} "
                                 f"full windows of the held-out text")
    final = report.get("final") or {}
    if isinstance(final.get("val_loss"), (int, float)):
        return final["val_loss"], f"validation loss at step {final.get('step', '?')}"
    return None, ""
