"""The original project's published files -> a LittleBaby (and, once, a model folder).

Per model GUID the original published
    configs/config_<guid>.json        its settings (BabyConfig's keys and older aliases)
    tokenizers/tokenizer_<guid>.json  its vocabulary
    models/model_<guid>.json          its weights: one nested JSON list per name
We have no such files to test against, so this reads what they plausibly hold and says
exactly what it cannot place:
- the config: BabyConfig's keys and aliases; its vocab_size must match the tokenizer, and
  the inference settings infr_cache and max_tokens are set aside.
- the tokenizer: a list of symbols (ids are positions); {"itos": [...] or {"0": ...}};
  {"stoi": {symbol: id}} (with both, they must agree); {"chars" or "vocab": ...}; or our
  own {"type", "symbols"}. Its kind (char or word) comes from the config's c_tokenizer.
- the weights: an object whose list values are weights (anything else is metadata), with
  names such as `wte_weight`, `wpe_weight`, `block_0_ln1_gamma`,
  `block_0_mha_q_weight`, `block_0_mha_proj_weight`, `block_0_mlp_proj_up_weight`,
  `block_0_moe_expert_0_up_weight`, `ln_f_beta`, `lm_head_bias` (also spelled with
  weight/bias for gamma/beta, c_proj/out_proj for proj, up/up_proj for proj_up, lda for
  gla). Every matrix is stored (in, out), as used in x @ W, like ours. Separate q, k, v
  become the columns of our fused qkv (kv, kva alike), each expert's matrices its block
  of columns (up) or rows (down) of our side-by-side expert matrices. Every piece's shape
  is checked against the config; a weight that is missing, extra or misshapen is an
  error that names it.
- the device: the conversion runs, and the converted model starts, on the CPU (in fp32 if
  the original ran in fp16); from_pretrained(guid, c_device="gpu") moves it.
Everything is parsed as JSON data; nothing is unpickled.
"""
import json
import re
from pathlib import Path

import numpy

from ..config import BabyConfig
from ..engine.transformer import param_shapes
from ..errors import ConfigError, ModelFolderError, TokenizerError, WeightsError
from ..tokenizer import TOKENIZERS, tokenizer_from_dict
from .files import atomic_folder
from .store import ModelParts, write_model


def original_files(guid):
    """Repo-relative paths of a GUID's original files: config, tokenizer, model."""
    return (f"configs/config_{guid}.json", f"tokenizers/tokenizer_{guid}.json",
            f"models/model_{guid}.json")


def convert_original(config_path, tokenizer_path, model_path, guid, folder):
    """Convert the original's three files into a model folder (written whole or not at
    all: `folder` must not exist yet); returns its Path."""
    if Path(folder).exists():
        raise ModelFolderError(f"{folder} exists but is not a complete model: delete it, and the "
                               f"original's files are converted into it again.")
    parts = read_original(config_path, tokenizer_path, model_path, guid)
    with atomic_folder(folder) as tmp:
        write_model(tmp, parts)
    return Path(folder)


def read_original(config_path, tokenizer_path, model_path, guid=None):
    """The ModelParts of the original's config, tokenizer and model JSON files."""
    config, vocab_size = original_config(_read_json(config_path, ConfigError))
    # on the CPU (NumPy has no fp16 matmul)
    config = config.replace(c_device="cpu",
                            d_type="fp32" if config.d_type == "fp16" else config.d_type)
    tokenizer = original_tokenizer(_read_json(tokenizer_path, TokenizerError), config.c_tokenizer)
    if vocab_size is not None and vocab_size != tokenizer.vocab_size:
        raise TokenizerError(f"{tokenizer_path} has {tokenizer.vocab_size} symbols, but the "
                             f"config says vocab_size {vocab_size}.")
    weights = _read_json(model_path, WeightsError)
    if not isinstance(weights, dict):
        raise WeightsError(f"{model_path} must hold an object of named weights, e.g. "
                           f"{{\"wte_weight\": [[...]]}}.")
    params = original_params(weights, config, tokenizer.vocab_size)
    report = {"guid": guid, "parent_guid": None,
              "converted_from": "the original project's JSON files"}
    return ModelParts(config, tokenizer, params, report)


# ---- config and tokenizer --------------------------------------------------------------------
# Settings the original kept beside the model's that do not change the model.
INFERENCE_KEYS = ("infr_cache", "max_tokens")


def original_config(data):
    """(BabyConfig, vocab_size or None) from the original's config dict."""
    if not isinstance(data, dict):
        raise ConfigError("the original config must be a JSON object of settings.")
    settings = {k: v for k, v in data.items() if k not in (*INFERENCE_KEYS, "vocab_size")}
    return BabyConfig.from_dict(settings), data.get("vocab_size")


def original_tokenizer(data, kind="char"):
    """A tokenizer of `kind` from any of the accepted shapes (see the module's docstring)."""
    if isinstance(data, dict) and "type" in data:
        return tokenizer_from_dict(data)
    if isinstance(data, dict):
        itos, stoi = data.get("itos"), data.get("stoi")
        listed = data.get("chars", data.get("vocab"))
        if isinstance(listed, dict):
            stoi, listed = listed, None
        symbols = _from_itos(itos) if itos is not None else listed
        if stoi is not None:
            from_stoi = _from_stoi(stoi)
            if symbols is not None and symbols != from_stoi:
                raise TokenizerError("the tokenizer's itos and stoi disagree.")
            symbols = from_stoi
    else:
        symbols = data
    if not isinstance(symbols, list) or not all(isinstance(s, str) for s in symbols):
        raise TokenizerError('not a tokenizer: expected a list of symbols, {"itos": ...}, '
                             '{"stoi": ...}, {"chars": ...} or {"type": ..., "symbols": ...}.')
    if kind == "char" and any(len(s) != 1 for s in symbols):
        bad = next(s for s in symbols if len(s) != 1)
        raise TokenizerError(f"a char tokenizer's symbols are single characters, not {bad!r}.")
    return TOKENIZERS[kind](symbols)


def _from_itos(itos):
    if isinstance(itos, dict):
        try:
            itos = {int(i): s for i, s in itos.items()}
        except ValueError as e:
            raise TokenizerError(f"the tokenizer's itos keys must be ids ({e}).") from e
        if sorted(itos) != list(range(len(itos))):
            raise TokenizerError("the tokenizer's itos ids must be 0, 1, ... without gaps.")
        return [itos[i] for i in range(len(itos))]
    return itos


def _from_stoi(stoi):
    if not isinstance(stoi, dict) or sorted(stoi.values()) != list(range(len(stoi))):
        raise TokenizerError("the tokenizer's stoi must map each symbol to an id 0, 1, ... "
                             "without gaps.")
    return sorted(stoi, key=stoi.get)


# ---- weights ---------------------------------------------------------------------------------
# The original's other spellings -> the one spelling original_names() gives.
_SPELLINGS = [
    (r"_gamma$", "_weight"), (r"_beta$", "_bias"),
    (r"_(?:proj_up|up_proj)_", "_up_"), (r"_(?:proj_down|down_proj)_", "_down_"),
    (r"_(?:c_proj|out_proj|o_proj)_", "_proj_"), (r"_([qkv])_proj_", r"_\1_"),
    (r"^(block_\d+_)lda_", r"\1gla_"), (r"^(block_\d+_)lin_", r"\1gln_"),
]


def canonical(name):
    """One spelling for each of the original's names (block_0_ln1_gamma -> ..._weight)."""
    for pattern, replacement in _SPELLINGS:
        name = re.sub(pattern, replacement, name)
    return name


def original_names(key, cfg):
    """The original's name(s), in canonical spelling, for our weight `key`: one name, or
    the pieces it is joined from (q, k, v; or one per expert)."""
    *path, kind = key.split(".")
    if path[0] != "blocks":  # wte, wpe, ln_f, lm_head
        return [f"{path[0]}_{kind}"]
    i, layer, stem = path[1], path[2], "_".join(path[3:])
    if layer in ("ln1", "ln2"):
        return [f"block_{i}_{layer}_{kind}"]
    variant = cfg.c_attention if layer == "attn" else cfg.c_network
    base = f"block_{i}_{variant}_"
    if layer == "attn" and len(stem) > 1 and set(stem) <= set("qkva"):  # fused qkv, kv, kva
        return [f"{base}{part}_{kind}" for part in stem]
    if variant == "moe" and stem in ("up", "down"):
        return [f"{base}expert_{e}_{stem}_{kind}" for e in range(cfg.n_experts)]
    return [f"{base}{stem}_{kind}"]


def original_params(weights, cfg, vocab_size):
    """Our params dict from the original's {name: nested list}, checked against the config."""
    named = {}
    for name, value in weights.items():
        if isinstance(value, list):  # anything else is the file's metadata
            if canonical(name) in named:
                raise WeightsError(f"the original weights name {canonical(name)!r} twice "
                                   f"({named[canonical(name)][0]!r} and {name!r}).")
            named[canonical(name)] = (name, value)
    expected = param_shapes(cfg, vocab_size)
    wanted = {key: original_names(key, cfg) for key in expected}
    unplaced = sorted(named[n][0] for n in set(named) - {n for ns in wanted.values() for n in ns})
    params = {}
    for key, shape in expected.items():
        missing = [n for n in wanted[key] if n not in named]
        if missing:
            raise WeightsError(
                f"the original weights have no {missing[0]!r} (for {key}) that a "
                f"{cfg.c_attention}/{cfg.c_network} model with this config needs"
                + (f"; names it could not place: {unplaced[:5]}" if unplaced else "") + ".")
        parts = [_array(*named[n]) for n in wanted[key]]
        params[key] = _join(parts, shape, key, [named[n][0] for n in wanted[key]])
    if unplaced:
        raise WeightsError(f"the original weights have name(s) a {cfg.c_attention}/"
                           f"{cfg.c_network} model with this config does not use: {unplaced[:5]}.")
    return params


def _array(name, value):
    try:
        array = numpy.asarray(value, dtype=numpy.float64)
    except (ValueError, TypeError) as e:
        raise WeightsError(f"original weight {name!r} is not a rectangular list of numbers "
                           f"({e}).") from e
    if not numpy.isfinite(array).all():
        raise WeightsError(f"original weight {name!r} holds nan or infinite values.")
    return array


def _join(parts, shape, key, names):
    """One array of `shape` from the pieces: itself, stacked (vectors -> rows), or put
    side by side along the one axis whose sizes add up."""
    if len(parts) == 1 and parts[0].shape == shape:
        return parts[0]
    if all(p.shape == parts[0].shape for p in parts) and (len(parts), *parts[0].shape) == shape:
        return numpy.stack(parts)
    for axis in range(len(shape)):
        rest = shape[:axis] + shape[axis + 1:]
        if all(p.ndim == len(shape) and p.shape[:axis] + p.shape[axis + 1:] == rest
               for p in parts) and sum(p.shape[axis] for p in parts) == shape[axis]:
            return numpy.concatenate(parts, axis)
    shapes = ", ".join(f"{n} {p.shape}" for n, p in zip(names, parts))
    hint = (" — stored (out, in)? The original's matrices are read as (in, out), as used in "
            "x @ W" if len(parts) == 1 and parts[0].shape == shape[::-1] else "")
    raise WeightsError(f"original weight(s) {shapes} do not fit {key}, which this config "
                       f"needs as {shape}{hint}.")


def _read_json(path, error):
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise error(f"{path} is not valid JSON ({e}).") from e
