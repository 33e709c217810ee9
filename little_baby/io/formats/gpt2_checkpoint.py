"""A GPT-2 checkpoint without torch: the folder transformers' `save_pretrained` writes (or
a Hub repo's files, e.g. openai-community/gpt2) read with numpy and safetensors alone.

    config.json          GPT2Config: each field mapped (gpt2.config_from_gpt2), or refused by name
    model.safetensors    the weights, either key form: `transformer.h.0.attn.c_attn.weight`
                         (GPT2LMHeadModel) or `h.0.attn.c_attn.weight` (the bare GPT2Model);
                         the causal-mask buffers (`.attn.bias`, `.attn.masked_bias`) ignored;
                         float16 or float32 (NumPy has no bfloat16), loaded as the
                         config's d_type
    tokenizer.json       a ByteLevel BPE (little_baby/bpe.py), or vocab.json + merges.txt

The output layer: GPT-2's is tied to wte (logits = h @ wte.T, no bias), and so is ours
(c_tie: stored once, its gradient the sum of both uses, so a finetune keeps them one).
A checkpoint with tie_word_embeddings false and an lm_head.weight of its own loads
untied: that weight transposed, a zero bias. Nothing is ever unpickled: a folder with
only pytorch_model.bin is refused.
"""
import os
import re
from pathlib import Path
from types import SimpleNamespace

import numpy

from ...bpe import GPT2_FILES, BPETokenizer
from ...errors import ConversionError, ModelFolderError, TokenizerError, WeightsError
from ..store.files import parse_json, read_limited
from ..store.model_folder import read_weights_header
from ..store.identity import found_at, identify, imported_gpt2
from .gpt2 import config_from_gpt2, fold_score_scale, key_pairs

WEIGHTS = "model.safetensors"
MAX_JSON_BYTES = 64 << 20
# GPT2Config's defaults for the fields config_from_gpt2 and the score scale read
DEFAULTS = {"n_inner": None, "activation_function": "gelu_new", "layer_norm_epsilon": 1e-5,
            "resid_pdrop": 0.1, "add_cross_attention": False, "scale_attn_weights": True,
            "scale_attn_by_inverse_layer_idx": False, "tie_word_embeddings": True}
NEEDED = ("vocab_size", "n_positions", "n_embd", "n_layer", "n_head")


def _json(path):
    if not path.is_file():
        raise ConversionError(f"{path} is missing: a GPT-2 folder holds config.json, "
                              f"model.safetensors and tokenizer.json (or vocab.json + merges.txt).")
    try:  # a regular file within the bound, UTF-8, bounded nesting and numbers (files.py)
        return parse_json(read_limited(path, MAX_JSON_BYTES, "GPT-2 JSON file"), path)
    except ModelFolderError as e:
        raise ConversionError(str(e)) from e


def _text(path):
    """A bounded UTF-8 text file of a GPT-2 folder (merges.txt)."""
    try:
        data = read_limited(path, MAX_JSON_BYTES, "GPT-2 tokenizer file")
    except ModelFolderError as e:
        raise ConversionError(str(e)) from e
    try:
        return data.decode("utf-8").replace("\r\n", "\n").replace("\r", "\n")  # as open() reads
    except UnicodeDecodeError as e:
        raise ConversionError(f"{path} is not UTF-8 text (byte {e.start}): it is not "
                              f"GPT-2's merges.txt, or it is damaged.") from e


def gpt2_settings(folder):
    """config.json of a GPT-2 folder, with GPT2Config's defaults for what it leaves out."""
    data = _json(Path(folder) / "config.json")
    if not isinstance(data, dict) or data.get("model_type") != "gpt2":
        kind = data.get("model_type") if isinstance(data, dict) else None
        raise ConversionError(f"{folder} holds a {kind!r} model, not GPT-2 (model_type 'gpt2').")
    missing = [k for k in NEEDED if type(data.get(k)) is not int or data[k] < 1]
    if missing:
        raise ConversionError(f"{folder}/config.json: {', '.join(missing)} must be whole "
                              f"numbers of at least 1.")
    return SimpleNamespace(**{**DEFAULTS, **data})


def gpt2_tokenizer(folder):
    """The BPETokenizer of a GPT-2 folder: tokenizer.json, else vocab.json + merges.txt."""
    folder = Path(folder)
    if (folder / "tokenizer.json").is_file():
        return BPETokenizer.from_dict(_json(folder / "tokenizer.json"))
    vocab, merges = (folder / name for name in GPT2_FILES)
    if vocab.is_file() and merges.is_file():
        return BPETokenizer.from_vocab_and_merges(_json(vocab), _text(merges), merges)
    raise ConversionError(f"{folder} has no tokenizer.json, nor vocab.json + merges.txt.")


_LAYER = re.compile(r"(?:transformer\.)?h\.(\d{1,9})\.")  # a block's weight: h.<i>.


def _weights_header(path):
    """{key: (dtype, shape)} of a GPT-2 weights file from its header alone, keys without
    GPT2LMHeadModel's `transformer.` (model_folder.read_weights_header: a regular file, a
    bounded header); None when there is no file (said where the weights are read)."""
    if not os.path.lexists(path):
        return None
    try:
        header = read_weights_header(path)
    except WeightsError as e:
        raise ConversionError(f"{path} is not a readable safetensors file ({e}).") from e
    return {k.removeprefix("transformer."): v for k, v in header.items()}


def _check_layers(path, header, n_layers):
    """Refuse a config.json that promises other blocks than the weights file holds, from
    its header: before anything is read or built (a config saying 10^6 layers would
    otherwise be laid out in full before a missing weight showed)."""
    held = {int(m.group(1)) for key in header if (m := _LAYER.match(key))}
    if held != set(range(n_layers)):
        raise ConversionError(f"{path} holds the weights of {len(held):,} blocks, but "
                              f"config.json promises n_layer = {n_layers:,}: they are not one "
                              f"model.")


def gpt2_params(folder, hf, cfg):
    """Our params (float32 host arrays) from a GPT-2 folder's model.safetensors, whose
    blocks gpt2_config_and_tokenizer has checked against `cfg`."""
    from safetensors import SafetensorError
    from safetensors.numpy import load_file
    path = Path(folder) / WEIGHTS
    if not path.is_file():
        raise ConversionError(f"{folder} has no {WEIGHTS} (only safetensors is read; a pickled "
                              f"pytorch_model.bin never is).")
    try:
        state = load_file(str(path))
    except (SafetensorError, OSError, ValueError, TypeError) as e:
        raise ConversionError(f"{path} is not a readable safetensors file ({e}).") from e
    state = {k[len("transformer."):] if k.startswith("transformer.") else k: v
             for k, v in state.items()}

    def get(key, shape):
        if key not in state:
            raise ConversionError(f"{path} lacks the weight {key!r}.")
        array = state[key]
        if tuple(array.shape) != shape:
            raise ConversionError(f"{path}: {key!r} has shape {tuple(array.shape)}, "
                                  f"config.json promises {shape}.")
        if array.dtype.kind != "f":
            raise ConversionError(f"{path}: {key!r} is {array.dtype}, not floats.")
        return array.astype(numpy.float32)

    from ...engine.transformer import param_shapes
    shapes = param_shapes(cfg, hf.vocab_size)
    params = {ours: get(theirs[len("transformer."):], shapes[ours])
              for ours, theirs in key_pairs(cfg.n_layers)}
    fold_score_scale(params, cfg, hf)
    C = cfg.n_emb
    if not cfg.c_tie:  # an output layer of its own (c_tie=False asked: wte's copy, apart)
        head = (get("lm_head.weight", (hf.vocab_size, C)) if "lm_head.weight" in state
                else params["wte.weight"])
        params["lm_head.weight"] = numpy.ascontiguousarray(head.T)  # (C, V)
        params["lm_head.bias"] = numpy.zeros(hf.vocab_size, numpy.float32)
    return params


def from_gpt2_folder(cls, folder, **config_overrides):
    """A `cls` (LittleBaby) with a GPT-2 folder's weights and byte-level BPE, no torch;
    its GUID is the checkpoint's own (identity.imported_gpt2), so a finetune names it as
    its parent. `config_overrides` (d_type='fp64', c_device='gpu' ...) as for
    LittleBaby.load."""
    hf, cfg, tokenizer = gpt2_config_and_tokenizer(folder, **config_overrides)
    baby = cls(cfg, tokenizer, params=gpt2_params(Path(folder), hf, cfg))
    identify(baby, imported_gpt2(Path(folder) / WEIGHTS))
    return found_at(baby, folder)


def gpt2_config_and_tokenizer(folder, **config_overrides):
    """(GPT2Config's fields, our BabyConfig, BPETokenizer) of a GPT-2 folder, every field
    checked, without reading a weight (what `little-baby info` shows): the blocks config.json
    promises are those its weights file's header names (read once)."""
    folder = Path(folder)
    hf = gpt2_settings(folder)
    header = _weights_header(folder / WEIGHTS)
    if header is not None:
        _check_layers(folder / WEIGHTS, header, hf.n_layer)
    try:
        tokenizer = gpt2_tokenizer(folder)
    except TokenizerError as e:  # e.g. a char or word GPT-2 this package exported
        raise ConversionError(f"{folder}: {e} Only a byte-level BPE is read without torch; "
                              f"a GPT-2 this package exported with a char or word vocabulary "
                              f"loads with LittleBaby.from_transformers({str(folder)!r}).") from e
    if tokenizer.vocab_size > hf.vocab_size:
        raise ConversionError(f"{folder}: the tokenizer has {tokenizer.vocab_size:,} tokens but "
                              f"the model only {hf.vocab_size:,} rows.")
    tied = bool(hf.tie_word_embeddings) or "lm_head.weight" not in (header or {})
    cfg = config_from_gpt2(hf).replace(c_tokenizer="bpe", c_tie=tied, **config_overrides)
    if tokenizer.vocab_size < hf.vocab_size:  # rows no token uses (padding): ours has none
        raise ConversionError(f"{folder}: the model has {hf.vocab_size:,} token rows but its "
                              f"tokenizer {tokenizer.vocab_size:,} tokens.")
    return hf, cfg, tokenizer
