"""The original project's published files -> a model folder of ours.

The original project (The Little Baby, https://huggingface.co/koureasstavros/TheLittleBaby)
saves each model, by GUID, as three JSON files (its notebook's GPT.save, its
CharTokenizer.to_dict and its config file):
    configs/config_<guid>.json        its settings, under its names (dropout, lr, num_epochs)
    tokenizers/tokenizer_<guid>.json  {"vocab": [symbols in id order], "vocab_size": N}
    models/model_<guid>.json          {name: nested list of floats, null or a number}
In the weights file a list is a vector or a matrix stored (in, out), y = x @ W + b, as ours
are; null is a bias the module does not have (zeros here); a number is a setting.
With C = n_emb, S = head_size, h = n_heads, d = S / h, V the vocabulary size and
H = n_hidden * C, the names become ours (engine/transformer.py) like this:
    wte_weight (V, C), wpe_weight (n_ctx, C)       wte.weight, wpe.weight
    ln_f_gamma, ln_f_beta (C)                      ln_f.weight, ln_f.bias
    lm_head_weight (C, V), lm_head_bias (V)        lm_head.weight, lm_head.bias
    block_{i}_ln1_gamma, _ln1_beta, ln2 (C)        blocks.{i}.ln1.weight, .bias, ln2
  mha  block_{i}_mha_q_weight, _k_, _v_ (C, S)     attn.qkv.weight (C, 3S), side by side;
       (no biases: qkv.bias is 0)                  attn.qkv.bias
       block_{i}_mha_c_weight (S, C), _c_bias (C)  attn.proj.weight, .bias
  moh  q, k, v as mha                              attn.qkv
       block_{i}_moh_g_weight (C, h), _g_bias      attn.gate.weight, .bias
       block_{i}_moh_m_weight (d, C), _m_bias (C)  attn.proj.weight (S, C): m stacked h times
  mlp  block_{i}_mlp_proj_up_weight (C, 4C), _bias net.up.weight, .bias
       block_{i}_mlp_proj_dn_weight (4C, C), _bias net.down.weight, .bias
  moe  block_{i}_moe_g_weight (C, E), _g_bias      net.gate.weight, .bias
       block_{i}_moe_expansion, _n_experts         the settings n_hidden and n_experts
       block_{i}_moe_expert_{e}_up_weight (C, H),  expert e's columns of net.up.weight and
       _up_bias, _dn_weight (H, C), _dn_bias       .bias, its rows of net.down.weight,
                                                   row e of net.down.bias (engine/network/moe.py)
moh's stack is exact, not an approximation: the original mixes the heads' outputs into one
d-vector, sum_j g_j o_j, and projects it with m (d, C); ours projects [g_1 o_1, ..., g_h o_h]
with an (S, C) matrix, which with h copies of m on top of each other is sum_j g_j o_j m.
The rest of the maths is the same as ours: GELU's tanh approximation, LayerNorm with the
biased variance and eps 1e-5, scores divided by sqrt(d) (and by r_temp, 1 unless its config
says otherwise) under a causal mask, pre- or post-norm blocks, ln_f, then lm_head.

The original's other variants are named the same way, block_{i}_{variant}_{part}_{weight|bias},
but their parts are not described here, so a model with one of them is an error that says so
rather than a guess. Every entry is checked: a name that cannot be placed or is missing, a
list that is not a rectangular array of numbers, a wrong shape, NaN or infinity, each is a
WeightsError that names the entry and the variant and layer that expected it.
The conversion runs, and the converted model starts, on the CPU (fp32 where the original
ran in fp16: NumPy has no fp16 matmul); from_pretrained(guid, c_device="gpu") moves it. The
weights are stored as the float64 the JSON holds. Everything is parsed as JSON data; nothing
is evaluated or unpickled.
"""
import hashlib
import json
import re
from pathlib import Path
from typing import NamedTuple

import numpy

from ...config import ALIASES, BabyConfig
from ...engine.transformer import check_shapes, param_shapes
from ...errors import ConfigError, ModelFolderError, TokenizerError, WeightsError
from ...tokenizer import TOKENIZERS
from ..store.files import atomic_folder
from ..store.identity import converted
from ..store.model_folder import ModelParts, write_model

# The original's variants whose parts this module knows.
ATTENTIONS, NETWORKS = ("mha", "moh"), ("mlp", "moe")
# Settings the original's config keeps beside the model's that do not change it.
INFERENCE_KEYS = ("infr_cache", "max_tokens")
# Settings its weights file holds as numbers, per variant: its name -> our config key.
LAYER_SETTINGS = {"moe": {"expansion": "n_hidden", "n_experts": "n_experts"}}
TOP_LEVEL = ("wte_weight", "wpe_weight", "ln_f_gamma", "ln_f_beta", "lm_head_weight",
             "lm_head_bias")


def original_files(guid):
    """Repo-relative paths of a GUID's original files: config, tokenizer, model."""
    return (f"configs/config_{guid}.json", f"tokenizers/tokenizer_{guid}.json",
            f"models/model_{guid}.json")


def convert_original(paths, guid, folder, where=None):
    """Convert the original's three files (local `paths` of original_files(guid), in that
    order) into the model folder `folder`, which must not exist yet: it is written whole
    or not at all, and nothing is written when a file is wrong. `where` ({"repo": ...} or
    {"folder": ...}) goes into its report. Returns its Path."""
    folder = Path(folder)
    if folder.exists():
        raise ModelFolderError(f"{folder} already exists (and is not a complete model): delete "
                               f"it, or convert into another folder; nothing was written.")
    parts = read_original(*paths, guid=guid, where=where)
    with atomic_folder(folder) as tmp:
        write_model(tmp, parts)
    return folder


def read_original(config_path, tokenizer_path, model_path, guid=None, where=None):
    """The ModelParts of the original's config, tokenizer and model JSON files; the report
    says where they came from (`where`, into identity.converted's origin) and each file's
    repo-relative name and sha256."""
    paths = (config_path, tokenizer_path, model_path)
    raw = [_read_bytes(p) for p in paths]
    config, given, vocab_size = original_config(_parse(raw[0], config_path, ConfigError),
                                                config_path)
    tokenizer = original_tokenizer(_parse(raw[1], tokenizer_path, TokenizerError),
                                   config.c_tokenizer, tokenizer_path)
    if vocab_size is not None and vocab_size != tokenizer.vocab_size:
        raise TokenizerError(f"{tokenizer_path} has {tokenizer.vocab_size} symbols, but "
                             f"{config_path} says vocab_size {vocab_size}.")
    entries = original_entries(_parse(raw[2], model_path, WeightsError, unique=True), model_path)
    config = with_layer_settings(config, given, entries, model_path)
    params = original_params(entries, config, tokenizer.vocab_size, model_path)
    names = original_files(guid) if guid else [Path(p).name for p in paths]
    report = {**converted(guid, where or {}), "status": "complete",
              "n_params": sum(int(v.size) for v in params.values()),
              "original": {"files": {n: hashlib.sha256(b).hexdigest()
                                     for n, b in zip(names, raw)}}}
    return ModelParts(config, tokenizer, params, report)


# ---- config and tokenizer --------------------------------------------------------------------
def original_config(data, path="the original config"):
    """(BabyConfig on the CPU, the keys it gave (ours), vocab_size or None) from the
    original's config dict. Its names: ours, or the older aliases config.ALIASES knows."""
    if not isinstance(data, dict):
        raise ConfigError(f"{path} must hold a JSON object of settings, e.g. {{\"n_layers\": 4}}.")
    settings = {k: v for k, v in data.items() if k not in (*INFERENCE_KEYS, "vocab_size")}
    if isinstance(settings.get("c_device_gpu_tensor"), bool):  # it wrote true/false
        settings["c_device_gpu_tensor"] = int(settings["c_device_gpu_tensor"])
    try:
        config = BabyConfig.from_dict(settings)
        config = config.replace(c_device="cpu",
                                d_type="fp32" if config.d_type == "fp16" else config.d_type)
    except (ConfigError, TypeError) as e:
        raise ConfigError(f"{path}: {e}") from e
    vocab_size = data.get("vocab_size")
    if vocab_size is not None and (isinstance(vocab_size, bool) or not isinstance(vocab_size, int)):
        raise ConfigError(f"{path}: vocab_size must be a whole number, not {vocab_size!r}.")
    return config, {ALIASES.get(k, k) for k in settings}, vocab_size


def original_tokenizer(data, kind="char", path="the original tokenizer"):
    """A tokenizer of `kind` (the config's c_tokenizer) from the original's
    {"vocab": [symbols in id order], "vocab_size": N}."""
    vocab = data.get("vocab") if isinstance(data, dict) else None
    if not isinstance(vocab, list) or not all(isinstance(s, str) for s in vocab):
        raise TokenizerError(f'{path} is not the original\'s tokenizer: expected '
                             f'{{"vocab": [symbols in id order], "vocab_size": N}}.')
    size = data.get("vocab_size")
    if size is not None and size != len(vocab):
        raise TokenizerError(f"{path} lists {len(vocab)} symbols but says vocab_size {size!r}.")
    if kind == "char" and any(len(s) != 1 for s in vocab):
        bad = next(s for s in vocab if len(s) != 1)
        raise TokenizerError(f"{path}: a char tokenizer's symbols are single characters, "
                             f"not {bad!r}.")
    try:
        return TOKENIZERS[kind](vocab)
    except TokenizerError as e:
        raise TokenizerError(f"{path}: {e}") from e


# ---- the weights file's entries ----------------------------------------------------------------
def original_entries(data, path="the original weights"):
    """{name: float64 array, None or number} of the weights file, each value checked:
    a rectangular list of finite numbers, null, or a finite number."""
    if not isinstance(data, dict):
        raise WeightsError(f"{path} must hold one JSON object of named weights, e.g. "
                           f"{{\"wte_weight\": [[...]]}}.")
    entries = {}
    for name, value in data.items():
        if value is None:
            entries[name] = None
        elif isinstance(value, list):
            entries[name] = _array(name, value, path)
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            if not numpy.isfinite(value):
                raise WeightsError(f"{path}: {name!r} is {value}, not a finite number.")
            entries[name] = value
        else:
            raise WeightsError(f"{path}: {name!r} holds {type(value).__name__} {value!r:.40}; "
                               f"an entry is a list of numbers, null or a number.")
    return entries


def _array(name, value, path):
    try:
        array = numpy.array(value)
    except ValueError as e:  # ragged
        raise WeightsError(f"{path}: {name!r} is not a rectangular list of numbers "
                           f"(its rows differ in length or depth).") from e
    if array.dtype.kind not in "iuf" or array.size == 0:
        raise WeightsError(f"{path}: {name!r} is not a rectangular list of numbers "
                           f"(it holds {'nothing' if array.size == 0 else 'other values'}).")
    array = array.astype(numpy.float64)
    if not numpy.isfinite(array).all():
        bad = tuple(int(i) for i in numpy.argwhere(~numpy.isfinite(array))[0])
        raise WeightsError(f"{path}: {name!r} holds NaN or infinite values (first at index {bad}).")
    return array


# ---- what the entries must be, by config -------------------------------------------------------
class Entry(NamedTuple):
    """One entry the original writes: its shape (() for a setting), what it is, which
    module (variant and layer) it belongs to, and whether it must be there."""

    shape: tuple
    kind: str      # "weight": a list; "bias": a list or null; "setting": a number
    where: str
    required: bool = True


def original_layout(cfg, vocab_size):
    """{name: Entry} of every entry a model with config `cfg` has in the original's files."""
    C, S, h, d, V = cfg.n_emb, cfg.head_size, cfg.n_heads, cfg.head_dim, vocab_size
    H, E = cfg.n_hidden * C, cfg.n_experts
    layout = {"wte_weight": Entry((V, C), "weight", "the token embedding"),
              "wpe_weight": Entry((cfg.n_ctx, C), "weight", "the position embedding"),
              "ln_f_gamma": Entry((C,), "weight", "the final LayerNorm"),
              "ln_f_beta": Entry((C,), "bias", "the final LayerNorm"),
              "lm_head_weight": Entry((C, V), "weight", "the output head"),
              "lm_head_bias": Entry((V,), "bias", "the output head")}
    for i in range(cfg.n_layers):
        b, ln = f"block_{i}_", f"block {i}'s LayerNorms"
        for name in ("ln1", "ln2"):
            layout[f"{b}{name}_gamma"] = Entry((C,), "weight", ln)
            layout[f"{b}{name}_beta"] = Entry((C,), "bias", ln)
        att, where = f"{b}{cfg.c_attention}_", f"block {i}'s {cfg.c_attention} attention"
        for part in "qkv":  # the original has no q, k, v biases; one given is placed too
            layout[f"{att}{part}_weight"] = Entry((C, S), "weight", where)
            layout[f"{att}{part}_bias"] = Entry((S,), "bias", where, required=False)
        if cfg.c_attention == "mha":
            layout[f"{att}c_weight"] = Entry((S, C), "weight", where)
            layout[f"{att}c_bias"] = Entry((C,), "bias", where)
        else:  # moh
            layout[f"{att}g_weight"] = Entry((C, h), "weight", where)
            layout[f"{att}g_bias"] = Entry((h,), "bias", where)
            layout[f"{att}m_weight"] = Entry((d, C), "weight", where)
            layout[f"{att}m_bias"] = Entry((C,), "bias", where)
        net, where = f"{b}{cfg.c_network}_", f"block {i}'s {cfg.c_network} network"
        if cfg.c_network == "mlp":
            for part, shape in (("proj_up", (C, H)), ("proj_dn", (H, C))):
                layout[f"{net}{part}_weight"] = Entry(shape, "weight", where)
                layout[f"{net}{part}_bias"] = Entry(shape[1:], "bias", where)
        else:  # moe
            layout[f"{net}g_weight"] = Entry((C, E), "weight", where)
            layout[f"{net}g_bias"] = Entry((E,), "bias", where)
            for setting in LAYER_SETTINGS["moe"]:
                layout[f"{net}{setting}"] = Entry((), "setting", where, required=False)
            for e in range(E):
                for part, shape in (("up", (C, H)), ("dn", (H, C))):
                    layout[f"{net}expert_{e}_{part}_weight"] = Entry(shape, "weight", where)
                    layout[f"{net}expert_{e}_{part}_bias"] = Entry(shape[1:], "bias", where)
    return layout


def with_layer_settings(cfg, given, entries, path="the original weights"):
    """`cfg` with the settings the weights file holds as numbers (moe's expansion and
    n_experts, LAYER_SETTINGS): the same in every layer, and as the config says if it does."""
    _check_variants(cfg, path)
    found = {}  # our key -> (value, name)
    for name, value in entries.items():
        m = re.fullmatch(r"block_(\d+)_([a-z]+)_(.+)", name)
        settings = LAYER_SETTINGS.get(m and m[2], {}) if m else {}
        if not m or m[2] not in (cfg.c_attention, cfg.c_network) or m[3] not in settings:
            continue
        key = settings[m[3]]
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if not isinstance(value, int) or value < 1:
            raise WeightsError(f"{path}: {name!r} is the setting {key} of block {m[1]}'s "
                               f"{m[2]} network: a whole number of at least 1, not {value!r}.")
        if key in found and found[key][0] != value:
            raise WeightsError(f"{path}: {found[key][1]!r} is {found[key][0]} but {name!r} is "
                               f"{value}: every layer has the same {key} here.")
        if key in given and getattr(cfg, key) != value:
            raise WeightsError(f"{path}: {name!r} is {value}, but the config says {key} "
                               f"{getattr(cfg, key)}.")
        found[key] = (value, name)
    return cfg.replace(**{k: v for k, (v, _) in found.items()}) if found else cfg


def _check_variants(cfg, path):
    if cfg.c_attention not in ATTENTIONS or cfg.c_network not in NETWORKS:
        raise WeightsError(
            f"{path}: a {cfg.c_attention}/{cfg.c_network} model cannot be converted: the parts "
            f"the original writes are known here for its {' and '.join(ATTENTIONS)} attention "
            f"and its {' and '.join(NETWORKS)} networks only.")


# ---- entries -> our params -------------------------------------------------------------------
def original_params(entries, cfg, vocab_size, path="the original weights"):
    """Our params dict (safetensors key -> float64 array) from the weights file's entries."""
    _check_variants(cfg, path)
    layout = original_layout(cfg, vocab_size)
    _check_names(entries, layout, cfg, path)
    for name, entry in layout.items():
        if name in entries:
            _check_entry(name, entries[name], entry, path)

    def get(name):  # an absent or null bias is zeros
        value = entries.get(name)
        return numpy.zeros(layout[name].shape) if value is None else value

    join = numpy.concatenate
    params = {"wte.weight": get("wte_weight"), "wpe.weight": get("wpe_weight")}

    def put(key, weight, bias):  # our key.weight, key.bias <- their weight, bias
        params[f"{key}.weight"], params[f"{key}.bias"] = get(weight), get(bias)

    for i in range(cfg.n_layers):
        b, o = f"blocks.{i}.", f"block_{i}_"
        put(b + "ln1", o + "ln1_gamma", o + "ln1_beta")
        put(b + "ln2", o + "ln2_gamma", o + "ln2_beta")
        att = f"{o}{cfg.c_attention}_"
        params[b + "attn.qkv.weight"] = join([get(f"{att}{p}_weight") for p in "qkv"], 1)
        params[b + "attn.qkv.bias"] = join([get(f"{att}{p}_bias") for p in "qkv"])
        if cfg.c_attention == "mha":
            put(b + "attn.proj", att + "c_weight", att + "c_bias")
        else:  # moh: its one mixed d-vector -> our h gated heads side by side
            put(b + "attn.gate", att + "g_weight", att + "g_bias")
            put(b + "attn.proj", att + "m_weight", att + "m_bias")
            params[b + "attn.proj.weight"] = numpy.tile(get(att + "m_weight"), (cfg.n_heads, 1))
        net = f"{o}{cfg.c_network}_"
        if cfg.c_network == "mlp":
            put(b + "net.up", net + "proj_up_weight", net + "proj_up_bias")
            put(b + "net.down", net + "proj_dn_weight", net + "proj_dn_bias")
        else:  # moe: the experts side by side (up), on top of each other (down)
            put(b + "net.gate", net + "g_weight", net + "g_bias")
            experts = [f"{net}expert_{e}_" for e in range(cfg.n_experts)]
            params[b + "net.up.weight"] = join([get(x + "up_weight") for x in experts], 1)
            params[b + "net.up.bias"] = join([get(x + "up_bias") for x in experts])
            params[b + "net.down.weight"] = join([get(x + "dn_weight") for x in experts])
            params[b + "net.down.bias"] = numpy.stack([get(x + "dn_bias") for x in experts])
    put("ln_f", "ln_f_gamma", "ln_f_beta")
    put("lm_head", "lm_head_weight", "lm_head_bias")
    expected = param_shapes(cfg, vocab_size)
    check_shapes(params, expected)  # the mapping above is complete
    return {k: params[k] for k in expected}


def _check_names(entries, layout, cfg, path):
    """Every entry placed and every required one there, else a WeightsError naming them."""
    unplaced = [n for n in entries if n not in layout]
    missing = [n for n, e in layout.items() if e.required and n not in entries]
    if unplaced:
        more = f" (and {len(unplaced) - 1} more: {unplaced[1:4]})" if len(unplaced) > 1 else ""
        lacks = (f"; it also lacks {missing[0]!r}, which {layout[missing[0]].where} needs"
                 if missing else "")
        raise WeightsError(f"{path}: cannot place {unplaced[0]!r}{more}: "
                           f"{_why_unplaced(unplaced[0], layout, cfg)}{lacks}.")
    if missing:
        name = missing[0]
        entry = layout[name]
        more = f" (and {len(missing) - 1} more: {missing[1:4]})" if len(missing) > 1 else ""
        raise WeightsError(f"{path} has no {name!r}{more}, which {entry.where} of this "
                           f"{cfg.c_sequence}/{cfg.c_attention}/{cfg.c_network} config needs "
                           f"({_describe(entry)}).")


def _why_unplaced(name, layout, cfg):
    """Why `name` has no place in a model of this config, and what was expected."""
    m = re.fullmatch(r"block_(\d+)_(ln[12]|[a-z]+)_(.+)", name)
    if not m:
        return f"the names outside the blocks are {', '.join(TOP_LEVEL)}"
    i, variant = int(m[1]), m[2]
    if i >= cfg.n_layers:
        return f"the config has n_layers {cfg.n_layers} (blocks 0 to {cfg.n_layers - 1})"
    prefix = f"block_{i}_{variant}_"
    if variant in ("ln1", "ln2"):
        return f"block {i}'s LayerNorms have {prefix}gamma and {prefix}beta"
    if variant in (cfg.c_attention, cfg.c_network):
        kind = "attention" if variant == cfg.c_attention else "network"
        parts = sorted({re.sub(r"^expert_\d+_", "expert_{e}_", n[len(prefix):])
                        for n in layout if n.startswith(prefix)})
        return f"block {i}'s {variant} {kind} has the parts {', '.join(parts)}"
    return (f"the config says c_attention {cfg.c_attention!r} and c_network {cfg.c_network!r}, "
            f"so block {i}'s entries are named block_{i}_{cfg.c_attention}_... and "
            f"block_{i}_{cfg.c_network}_...")


def _check_entry(name, value, entry, path):
    """`value` is what `entry` says: the right kind and shape."""
    if entry.kind == "setting":
        if isinstance(value, numpy.ndarray) or value is None:
            raise WeightsError(f"{path}: {name!r} is a setting of {entry.where}: a number, "
                               f"not {'null' if value is None else 'a list'}.")
        return
    if value is None and entry.kind == "bias":
        return
    if not isinstance(value, numpy.ndarray):
        what = "null" if value is None else f"the number {value!r}"
        raise WeightsError(f"{path}: {name!r} is {what}, but "
                           f"{entry.where} needs {_describe(entry)} there.")
    if value.shape != entry.shape:
        hint = (" (stored (out, in)? The original's matrices are (in, out), as used in x @ W)"
                if value.shape == entry.shape[::-1] and len(entry.shape) == 2 else
                " (a vector where a matrix belongs)" if value.ndim < len(entry.shape) else "")
        raise WeightsError(f"{path}: {name!r} has shape {value.shape}, but {entry.where} needs "
                           f"{_describe(entry)}{hint}.")


def _describe(entry):
    if entry.kind == "setting":
        return "a number"
    what = "a matrix" if len(entry.shape) == 2 else "a vector"
    return f"{what} of shape {entry.shape}" + (" or null" if entry.kind == "bias" else "")


# ---- files -----------------------------------------------------------------------------------
def _read_bytes(path):
    try:
        return Path(path).read_bytes()
    except OSError as e:
        raise ModelFolderError(f"cannot read {path}: {e.strerror or e}.") from e


def _parse(raw, path, error, unique=False):
    """JSON data (nothing evaluated); `unique`: a name given twice is an error."""
    def pairs(items):
        seen = {}
        for k, v in items:
            if k in seen:
                raise error(f"{path} gives {k!r} twice.")
            seen[k] = v
        return seen
    try:
        return json.loads(raw.decode("utf-8"), object_pairs_hook=pairs if unique else None)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise error(f"{path} is not valid JSON ({e}).") from e
