"""A model on disk: one folder with config.json, tokenizer.json, model.safetensors and
report.json (the original project's config/tokenizer/model/report, in one place).

The four files are saved as one commit (files.atomic_files): a kill at any instant
leaves the old model or the new one. Weights are safetensors only (nothing is unpickled).

A folder may come from anyone (the Hub, a colleague, a half-finished copy), so reading
checks before it allocates: each file must be a regular file within a size bound, JSON
is parsed with depth and number limits, every config field's type and range is checked,
and the parameter count and tensor shapes the config promises are compared with the
safetensors header (its first 8 + n bytes) before one weight is read.
"""
import dataclasses
import json
import math
import os
import stat
import time
import warnings
from pathlib import Path
from types import SimpleNamespace
from typing import NamedTuple

import numpy
from safetensors import SafetensorError
from safetensors.numpy import load_file, save

from ...config import BabyConfig
from ...engine.backend import gpu_usable
from ...engine.transformer import check_shapes, count_params, param_shapes
from ...errors import ConfigError, ModelFolderError, TokenizerError, WeightsError
from ...tokenizer import tokenizer_from_dict
from .files import (atomic_files, committed_path, parse_json, read_limited,
                    write_text_atomic)
from .identity import recorded
from .places import refuse_shipped
from .report import check_report

CONFIG, TOKENIZER, WEIGHTS, REPORT, COMPLETION = (
    "config.json", "tokenizer.json", "model.safetensors", "report.json", "completion.json")
LOSS_CURVE, CARD = "loss_curve.png", "README.md"

# What a file of a model folder may weigh: far above any of ours, far below harm.
MAX_CONFIG_BYTES = 1 << 20
MAX_TOKENIZER_BYTES = 16 << 20
MAX_REPORT_BYTES = 16 << 20
MAX_HEADER_BYTES = 100 << 20  # the safetensors format's own limit on its header
MAX_WEIGHTS_BYTES = 64 << 30
WEIGHT_DTYPES = {"F16": 2, "F32": 4, "F64": 8}  # what the engine computes in
ATTEMPTS = 10  # reads of a folder that commits keep changing, before giving up


class ModelParts(NamedTuple):
    """What a model folder holds, without the model: settings, vocabulary, weights
    (safetensors key -> host array) and the training report."""

    config: BabyConfig
    tokenizer: object
    params: dict
    report: dict


def is_model_folder(folder):
    """Whether `folder` holds a model's config and tokenizer (its weights may be missing)."""
    return not _missing(folder, (CONFIG, TOKENIZER))


def is_gpt2_folder(folder):
    """Whether `folder` holds a GPT-2 checkpoint as transformers writes it (read by
    formats/gpt2_checkpoint.py): a config.json (bounded) naming model_type 'gpt2'.
    Nothing else is read."""
    path = Path(folder) / CONFIG
    try:
        data = read_json(path, MAX_CONFIG_BYTES, CONFIG)
    except ModelFolderError:  # ours to say what is wrong with it, when it is read as ours
        return False
    return isinstance(data, dict) and data.get("model_type") == "gpt2"


def _missing(folder, names):
    """Which of `names` the folder lacks, as it is or as its unfinished commit makes it
    (looked at both ways, so a commit's rename between the two looks changes nothing)."""
    def there(name):
        if (Path(folder) / name).is_file():
            return True
        try:
            return committed_path(folder, name).is_file() or (Path(folder) / name).is_file()
        except (ModelFolderError, OSError):  # a journal not ours: shown as spoiled later
            return False
    return [n for n in names if not there(n)]


def save_model(baby, folder, weights_dtype=None):
    """Write a model's (a LittleBaby's) files into `folder`; returns its Path. float16
    weights held on the CPU (d_type fp16 there, a choice made when loading, slower) are
    written as they are, under a config that says fp32: it loads at full speed."""
    arrays = {k: baby.backend.to_numpy(v) for k, v in baby.params.items()}
    config = baby.config
    if config.d_type == "fp16" and config.c_device == "cpu":
        config = config.replace(d_type="fp32")
    return write_model(folder, ModelParts(config, baby.tokenizer, arrays, model_report(baby)),
                       weights_dtype)


def model_report(baby):
    """The report.json of a model (a LittleBaby): its report, with its identity as it
    holds it now (identity.recorded) and its parameter count."""
    return {**recorded(baby), "n_params": baby.n_params}


def write_model(folder, parts, weights_dtype=None):
    """Write config.json, tokenizer.json, model.safetensors and report.json into `folder`
    (created if needed); returns its Path. `weights_dtype` ("float16" ...): store the
    weights in that type (they load in the config's d_type); None keeps theirs.

    The four files are one commit (files.atomic_files): an error or a kill while saving
    over another model leaves that model whole, or the new one whole, never a mix. A
    shipped model's folder is refused (places.refuse_shipped)."""
    folder = Path(folder)
    refuse_shipped(folder, "saved into")
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
    """The ModelParts of a folder written by write_model, checked before anything big is
    allocated (check_model_folder). `config_overrides` (e.g. c_device='gpu') change
    settings that do not alter the weights' shapes."""
    folder = Path(folder)
    for attempt in range(ATTEMPTS):  # a commit landed while we read: read again, never a mix
        try:
            before = _identity(folder)
            config, tokenizer, header = check_model_folder(folder, **config_overrides)
            params = read_weights(committed_path(folder, WEIGHTS), header)
            check_shapes(params, param_shapes(config, tokenizer.vocab_size))
            parts = ModelParts(config, tokenizer, params, read_report(folder))
            if _identity(folder) == before:
                return parts
        except (ModelFolderError, WeightsError) as e:  # a file renamed as we opened it
            if attempt == ATTEMPTS - 1 or not isinstance(e.__cause__, FileNotFoundError):
                raise
        time.sleep(0.01 * attempt)
    raise ModelFolderError(f"{folder} changed {ATTEMPTS} times while it was read (a run is "
                           f"saving into it every moment?): try again.")


def _identity(folder):
    """Which file each of the folder's names is now (inode and change time): a commit
    replaces them with new files, so a change between two looks means one landed."""
    found = []
    for name in (CONFIG, TOKENIZER, WEIGHTS, REPORT):
        try:
            st = committed_path(folder, name).stat()
            found.append((name, st.st_ino, st.st_ctime_ns))
        except (OSError, ModelFolderError):
            found.append((name, None, None))
    return found


def check_model_folder(folder, **config_overrides):
    """(config, tokenizer, weights header) of a model folder, each file checked and the
    three compared, without reading a weight: a ModelFolderError, ConfigError,
    TokenizerError or WeightsError names the file and what is wrong."""
    folder = Path(folder)
    missing = _missing(folder, (CONFIG, TOKENIZER, WEIGHTS))
    if missing:
        raise ModelFolderError(f"{str(folder)!r} is not a complete model folder: missing {missing}.")
    header = read_weights_header(committed_path(folder, WEIGHTS))
    config, tokenizer = read_config_and_tokenizer(folder, header=header, **config_overrides)
    _check_promise(folder, config, tokenizer.vocab_size, header)
    return config, tokenizer, header


def _check_promise(folder, config, vocab_size, header):
    """The parameter count (a formula: nothing allocated) and then each tensor's shape the
    config promises must be the weights file's."""
    promised = count_params(config, vocab_size)
    held = sum(math.prod(shape) for _, shape in header.values())
    if promised != held:
        C = config.n_emb
        for key, shape in (("wte.weight", (vocab_size, C)), ("wpe.weight", (config.n_ctx, C)),
                           ("lm_head.weight", (C, vocab_size))):
            if key in header and header[key][1] != shape:
                raise WeightsError(f"{folder}: weight {key!r} has shape {header[key][1]}, but "
                                   f"the config needs {shape}: the files do not belong together.")
        raise WeightsError(
            f"{folder}: config.json and tokenizer.json promise {promised:,} parameters "
            f"(n_layers={config.n_layers}, n_emb={C}, {vocab_size} symbols), but "
            f"{WEIGHTS} holds {held:,}: the files do not belong together.")
    # equal counts bound the work below by the file's own size
    check_shapes({k: SimpleNamespace(shape=s) for k, (_, s) in header.items()},
                 param_shapes(config, vocab_size))


def read_config_and_tokenizer(folder, header=None, **config_overrides):
    """config.json and tokenizer.json of a model folder, read with bounds and checked. The
    tokenizer file says what the token ids mean, so its kind (char or word) is the
    config's c_tokenizer. With the weights' `header`, a tokenizer whose size differs from
    the embedding's rows is refused before it is built. A folder of transformers' (its
    config names a model_type) is refused with what loads it."""
    folder = Path(folder)
    path = committed_path(folder, CONFIG)
    data = read_json(path, MAX_CONFIG_BYTES, "config.json")
    if not isinstance(data, dict):
        raise ModelFolderError(f"{path} is not a JSON object of settings.")
    if "model_type" in data:
        raise ModelFolderError(
            f"{folder} holds a transformers model ({str(data['model_type'])[:40]!r}), not one of "
            f"ours: LittleBaby.from_gpt2({str(folder)!r}) reads a GPT-2 checkpoint (no torch "
            f"needed), LittleBaby.from_transformers({str(folder)!r}) one this package exported.")
    if data.get("c_device") == "gpu" and "c_device" not in config_overrides and not gpu_usable():
        warnings.warn(f"{folder} was saved to run on a GPU, and none is usable here (no CuPy "
                      f"or no CUDA device): it loads on the CPU. Pass c_device='gpu' to "
                      f"insist.", stacklevel=2)
        config_overrides = {**config_overrides, "c_device": "cpu"}
        if data.get("d_type") == "fp16" and "d_type" not in config_overrides:
            config_overrides["d_type"] = "fp32"  # the GPU's fast type is the CPU's slow one
    try:
        config = BabyConfig.from_dict(data, **config_overrides)
    except ConfigError as e:
        raise ConfigError(f"{path}: {e}") from e
    tok_path = committed_path(folder, TOKENIZER)
    tok_data = read_json(tok_path, MAX_TOKENIZER_BYTES, "tokenizer.json")
    rows = header.get("wte.weight", (None, (None,)))[1][0] if header else None
    symbols = tok_data.get("symbols") if isinstance(tok_data, dict) else None
    if rows is not None and isinstance(symbols, list) and len(symbols) != rows:
        raise WeightsError(f"{tok_path} lists {len(symbols):,} symbols but the weights' "
                           f"embedding has {rows:,} rows: the files do not belong together.")
    try:
        tokenizer = tokenizer_from_dict(tok_data)
    except TokenizerError as e:
        raise TokenizerError(f"{tok_path}: {e}") from e
    if config.c_tokenizer != tokenizer.kind:
        config = dataclasses.replace(config, c_tokenizer=tokenizer.kind)
    return config, tokenizer


def read_report(folder):
    """The report.json of a model folder as a dict; {} when it is missing (a report is
    informative, never needed to use the model). A report that is there but spoiled (not
    a regular file, too big, not JSON, fields of the wrong type) is a ModelFolderError:
    report.py's check_report says which field."""
    path = committed_path(folder, REPORT)
    if not path.exists():
        return {}
    return check_report(read_json(path, MAX_REPORT_BYTES, "report.json"), path)


def write_completion(folder, completion):
    """Write completion.json (prompt, text, settings, time of one generation) to `folder`."""
    write_json(Path(folder) / COMPLETION, completion)


def read_weights_header(path):
    """{key: (dtype, shape)} of safetensors file `path`, from its header alone, checked:
    a bounded header of known dtypes, whole-number shapes, and tensors that tile the
    data exactly (the format: 8 bytes little-endian n, n bytes of JSON, the data)."""
    try:
        with os.fdopen(os.open(path, os.O_RDONLY | os.O_NONBLOCK), "rb") as f:  # a FIFO: no wait
            size = _regular_size(path, f)
            n = int.from_bytes(f.read(8), "little")
            if size < 8 or n > min(MAX_HEADER_BYTES, size - 8):
                raise WeightsError(f"{path} is not a safetensors file (its header would be "
                                   f"{n:,} bytes of a {size:,}-byte file); it may be truncated "
                                   f"or corrupt: download or save it again.")
            header = parse_json(f.read(n), path)
    except OSError as e:
        raise WeightsError(f"cannot read {path}: {e.strerror or e}.") from e
    except ModelFolderError as e:
        raise WeightsError(f"{e} (the safetensors header)") from e
    if not isinstance(header, dict):
        raise WeightsError(f"{path}: the safetensors header is not a JSON object.")
    header.pop("__metadata__", None)
    tensors, ends = {}, []
    for key, entry in header.items():
        dtype = entry.get("dtype") if isinstance(entry, dict) else None
        shape = entry.get("shape") if isinstance(entry, dict) else None
        offsets = entry.get("data_offsets") if isinstance(entry, dict) else None
        if dtype not in WEIGHT_DTYPES:
            raise WeightsError(f"{path}: weight {key!r} is of type {dtype!r}; the engine reads "
                               f"{', '.join(WEIGHT_DTYPES)} (float16/32/64) only: convert the "
                               f"weights (e.g. bfloat16 to float32) and save them again.")
        if not (isinstance(shape, list) and all(isinstance(d, int) and d >= 0 for d in shape)
                and isinstance(offsets, list) and len(offsets) == 2
                and all(isinstance(o, int) for o in offsets)
                and offsets[1] - offsets[0] == math.prod(shape) * WEIGHT_DTYPES[dtype]):
            raise WeightsError(f"{path}: weight {key!r} has a malformed entry in the header; "
                               f"the file is corrupt: download or save it again.")
        tensors[key] = (dtype, tuple(shape))
        ends.append((*offsets, key))
    ends.sort()
    data = size - 8 - n
    tiled = all(a[1] == b[0] for a, b in zip(ends, ends[1:])) and (not ends or ends[0][0] == 0)
    if not tiled or (ends[-1][1] if ends else 0) != data:
        cut = next((key for _, end, key in ends if end > data), None)
        what = (f"it ends inside weight {cut!r}" if cut else "its weights do not tile its data")
        raise WeightsError(f"{path} is not a readable safetensors file ({what}); it may be "
                           f"truncated or corrupt: download or save it again.")
    return tensors


def _regular_size(path, f):
    st = os.fstat(f.fileno())
    if not stat.S_ISREG(st.st_mode):
        raise WeightsError(f"{path} is not a regular file: weights must be an ordinary file.")
    if st.st_size > MAX_WEIGHTS_BYTES:
        raise WeightsError(f"{path} is {st.st_size:,} bytes, more than this library loads "
                           f"({MAX_WEIGHTS_BYTES:,}).")
    return st.st_size


def read_weights(path, header=None):
    """The arrays of a safetensors file (checked by read_weights_header first, unless its
    `header` is given); a corrupt file, or a weight holding nan or inf (what a diverged
    run would have saved), is a WeightsError naming it."""
    if header is None:
        header = read_weights_header(path)
    try:
        arrays = load_file(str(path))
    except (SafetensorError, OSError, ValueError, TypeError) as e:
        raise WeightsError(f"{path} is not a readable safetensors file ({e}); it may be "
                           f"truncated or corrupt: download or save it again.") from e
    for key, array in arrays.items():
        if array.dtype.kind == "f" and not numpy.isfinite(array).all():
            bad = int(array.size - numpy.isfinite(array).sum())
            raise WeightsError(f"{path}: weight {key!r} holds {bad} non-finite value(s) (nan or "
                               f"inf) of {array.size}: these weights are broken (a diverged "
                               f"run?) and would only produce noise. Train the model again, or "
                               f"load another.")
    return arrays


def json_text(data):
    return json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n"


def write_json(path, data):
    write_text_atomic(path, json_text(data))


def read_json(path, max_bytes=MAX_REPORT_BYTES, what="JSON file"):
    """The JSON value of regular file `path` of at most `max_bytes` (files.parse_json's
    limits); a ModelFolderError naming the file otherwise."""
    return parse_json(read_limited(path, max_bytes, what), path)
