"""A model on disk: one folder with config.json, tokenizer.json, model.safetensors and
report.json (the original project's config/tokenizer/model/report, in one place).

Every file is written atomically; weights are safetensors only (nothing is unpickled).
"""
import dataclasses
import json
import os
from pathlib import Path
from typing import NamedTuple

import numpy
from safetensors import SafetensorError
from safetensors.numpy import load_file, save

from ..config import BabyConfig
from ..errors import ModelFolderError, WeightsError
from ..tokenizer import load_tokenizer
from .files import atomic_files, write_text_atomic

CONFIG, TOKENIZER, WEIGHTS, REPORT, COMPLETION = (
    "config.json", "tokenizer.json", "model.safetensors", "report.json", "completion.json")
LOSS_CURVE, CARD = "loss_curve.png", "README.md"


class ModelParts(NamedTuple):
    """What a model folder holds, without the model: settings, vocabulary, weights
    (safetensors key -> host array) and the training report."""

    config: BabyConfig
    tokenizer: object
    params: dict
    report: dict


def is_model_folder(folder):
    """Whether `folder` holds a model's config and tokenizer (its weights may be missing)."""
    folder = Path(folder)
    return (folder / CONFIG).is_file() and (folder / TOKENIZER).is_file()


def save_model(baby, folder, weights_dtype=None):
    """Write a model's (a LittleBaby's) files into `folder`; returns its Path."""
    arrays = {k: baby.backend.to_numpy(v) for k, v in baby.params.items()}
    report = {**baby.report, "guid": baby.guid, "parent_guid": baby.parent_guid,
              "n_params": baby.n_params}
    return write_model(folder, ModelParts(baby.config, baby.tokenizer, arrays, report),
                       weights_dtype)


def write_model(folder, parts, weights_dtype=None):
    """Write config.json, tokenizer.json, model.safetensors and report.json into `folder`
    (created if needed); returns its Path. `weights_dtype` ("float16" ...): store the
    weights in that type (they load in the config's d_type); None keeps theirs.

    The four files are written together (files.atomic_files): an error while saving
    over another model leaves that model whole, not half old and half new."""
    folder = Path(folder)
    arrays = {k: numpy.ascontiguousarray(v, dtype=weights_dtype) for k, v in parts.params.items()}
    report = parts.report
    meta = {"format": "little_baby", "guid": report.get("guid") or "",
            "parent_guid": report.get("parent_guid") or ""}
    with atomic_files([folder / n for n in (WEIGHTS, CONFIG, TOKENIZER, REPORT)]) as tmp:
        tmp[0].write_bytes(save(arrays, metadata=meta))
        tmp[1].write_text(parts.config.to_json() + "\n", encoding="utf-8")
        tmp[2].write_text(parts.tokenizer.to_json() + "\n", encoding="utf-8")
        tmp[3].write_text(json_text(report), encoding="utf-8")
    return folder


def read_model(folder, **config_overrides):
    """The ModelParts of a folder written by write_model. `config_overrides` (e.g.
    c_device='gpu') change settings that do not alter the weights' shapes."""
    folder = Path(folder)
    missing = [n for n in (CONFIG, TOKENIZER, WEIGHTS) if not (folder / n).is_file()]
    if missing:
        raise ModelFolderError(f"{str(folder)!r} is not a complete model folder: missing {missing}.")
    config, tokenizer = read_config_and_tokenizer(folder, **config_overrides)
    return ModelParts(config, tokenizer, read_weights(folder / WEIGHTS), read_report(folder))


def read_config_and_tokenizer(folder, **config_overrides):
    """config.json and tokenizer.json of a model folder. The tokenizer file says what the
    token ids mean, so its kind (char or word) is the config's c_tokenizer. A folder of
    transformers' (its config names a model_type) is refused with what loads it."""
    data = read_json(Path(folder) / CONFIG)
    if isinstance(data, dict) and "model_type" in data:
        raise ModelFolderError(
            f"{folder} holds a transformers model ({data['model_type']!r}), not one of ours: "
            f"LittleBaby.from_transformers({str(folder)!r}) brings a GPT-2 model over.")
    config = BabyConfig.from_json(Path(folder) / CONFIG, **config_overrides)
    tokenizer = load_tokenizer(Path(folder) / TOKENIZER)
    if config.c_tokenizer != tokenizer.kind:
        config = dataclasses.replace(config, c_tokenizer=tokenizer.kind)
    return config, tokenizer


def read_report(folder):
    """The report.json of a model folder as a dict; {} when it is missing or unreadable
    (a report is informative, never needed to use the model)."""
    try:
        report = read_json(Path(folder) / REPORT)
    except (OSError, ModelFolderError):
        return {}
    return report if isinstance(report, dict) else {}


def write_completion(folder, completion):
    """Write completion.json (prompt, text, settings, time of one generation) to `folder`."""
    write_json(Path(folder) / COMPLETION, completion)


def read_weights(path):
    """The arrays of a safetensors file; a corrupt or truncated file, or a weight holding
    nan or inf (what a diverged run would have saved), is a WeightsError naming it."""
    try:
        arrays = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as e:
        cut = _cut_tensor(path)
        what = f"it ends inside weight {cut!r}" if cut else e
        raise WeightsError(f"{path} is not a readable safetensors file ({what}); it may be "
                           f"truncated or corrupt: download or save it again.") from e
    for key, array in arrays.items():
        if array.dtype.kind == "f" and not numpy.isfinite(array).all():
            bad = int(array.size - numpy.isfinite(array).sum())
            raise WeightsError(f"{path}: weight {key!r} holds {bad} non-finite value(s) (nan or "
                               f"inf) of {array.size}: these weights are broken (a diverged "
                               f"run?) and would only produce noise. Train the model again, or "
                               f"load another.")
    return arrays


def _cut_tensor(path):
    """The first tensor whose bytes a truncated safetensors file lacks, or None."""
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            n = int.from_bytes(f.read(8), "little")
            header = json.loads(f.read(n)) if 8 + n <= size else {}
    except (OSError, ValueError):
        return None
    if not isinstance(header, dict):
        return None
    offsets = {k: v.get("data_offsets") for k, v in header.items() if isinstance(v, dict)}
    ends = [(o[-1], k) for k, o in offsets.items() if isinstance(o, list) and o]
    cut = [key for end, key in sorted(ends) if end > size - 8 - n]
    return cut[0] if cut else None


def json_text(data):
    return json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n"


def write_json(path, data):
    write_text_atomic(path, json_text(data))


def read_json(path):
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise ModelFolderError(f"{path} is not valid JSON ({e}).") from e
