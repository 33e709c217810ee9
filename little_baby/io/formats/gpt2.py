"""Our models as transformers' GPT-2 (`GPT2LMHeadModel`) and back, exactly.

GPT-2 (Radford et al. 2019, "Language Models are Unsupervised Multitask Learners"; the
transformers library's models/gpt2/modeling_gpt2.py) is our pre-norm `mha` + `mlp` model
with head_size == n_emb, weight for weight (its Conv1D stores (in, out), as ours does):

    ours                                 GPT2LMHeadModel
    wte.weight (V, C)                    transformer.wte.weight (V, C)
    wpe.weight (n_ctx, C)                transformer.wpe.weight (n_positions, C)
    blocks.{i}.ln1.weight/bias (C,)      transformer.h.{i}.ln_1.weight/bias
    blocks.{i}.attn.qkv.weight (C, 3C)   transformer.h.{i}.attn.c_attn.weight (C, 3C)
    blocks.{i}.attn.proj.weight (C, C)   transformer.h.{i}.attn.c_proj.weight
    blocks.{i}.ln2.weight/bias           transformer.h.{i}.ln_2.weight/bias
    blocks.{i}.net.up.weight (C, H)      transformer.h.{i}.mlp.c_fc.weight   (n_inner = H)
    blocks.{i}.net.down.weight (H, C)    transformer.h.{i}.mlp.c_proj.weight
    ln_f.weight/bias (C,)                transformer.ln_f.weight/bias
    lm_head.weight (C, V)                lm_head.weight (V, C): the transpose
    lm_head.bias (V,)                    none: folded into ln_f.bias (below)

(and every bias beside its weight). The maths is the same: GELU's tanh approximation
("gelu_new"), LayerNorm with layer_norm_epsilon (our r_ln_eps), learned positions, queries, keys and values split
as (3, heads, head_dim), scores scaled by 1/sqrt(head_dim). Two differences fold into the
weights:
  - r_temp divides our scores: the query columns of qkv (weight and bias) are divided by
    it. Coming back, GPT-2's scale_attn_weights=False and scale_attn_by_inverse_layer_idx
    fold into the query columns the same way.
  - GPT-2's lm_head has no bias. logits = y W + b with y = ln_f(x); where b = c W for a
    c (C,), logits = (y + c) W, so ln_f's bias takes c. c is the least-squares solution
    (numpy.linalg.lstsq); it is exact when W's V columns are independent, which holds for
    a character vocabulary no larger than n_emb. Otherwise (a vocabulary larger than
    n_emb, as word vocabularies are) the export is refused with the measured error:
    nothing inexact is written. Coming back, our lm_head.bias is zero. A model with
    tied embeddings (c_tie: GPT-2's own head, wte^T with no bias) needs no fold: it
    exports with tie_word_embeddings true and wte alone, and a tied GPT-2 comes back tied.

The vocabulary travels as a fast tokenizer (the `tokenizers` library) wrapped as
transformers' PreTrainedTokenizerFast: no normalizer, so every character stays itself.
  - char: a BPE model whose vocabulary is our characters and which has no merges, and no
    pre-tokenizer: each character is looked up alone (one that is not in the vocabulary
    is dropped, as our encode(..., unknown='drop') does).
  - word: a WordLevel model behind a Split pre-tokenizer with our pattern
    \\w+|\\s+|[^\\w\\s], its classes spelled out as the code point ranges Python's `re`
    gives them (the Oniguruma engine `tokenizers` uses puts combining marks and some
    digits in other classes); a word not in the vocabulary is an error, as ours is.
  - decoding concatenates the tokens (decoders.Fuse), with clean_up_tokenization_spaces
    off, so decode(encode(text)) == text, spaces, newlines and Greek included.

Exporting needs nothing beyond numpy and safetensors: save_transformers writes the
folder's five files itself (config.json and generation_config.json as transformers
writes them for this GPT2Config, model.safetensors with transformers' key names,
tokenizer.json in the `tokenizers` library's format, tokenizer_config.json). Running
the export, to_transformers and from_transformers need transformers and tokenizers (the
`transformers` extra: pip install "little-baby[transformers]") and torch, which is not in
the extra because pip's default torch on Linux is the CUDA build (gigabytes): the CPU
build is `pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu`.
They are imported here, inside the functions, only when they are needed.
"""
import functools
import importlib
import json
import os
import re
import sys
from pathlib import Path

import numpy
from safetensors.numpy import save as safetensors_bytes

from ...config import BabyConfig
from ...errors import ConversionError
from ...tokenizer import TOKENIZERS, CharTokenizer, WordTokenizer
from ..store.files import atomic_files
from ..store.identity import identify, imported_gpt2
from ..store.model_folder import CONFIG, WEIGHTS, is_model_folder

HEAD_BIAS_TOLERANCE = 1e-6  # largest |c W - b| (in logits) accepted for the folded bias
TANH_GELUS = ("gelu_new", "gelu_pytorch_tanh")  # transformers' names for GELU's tanh form
EXTRA = 'pip install "little-baby[transformers]" (in a checkout: pip install -e ".[transformers]")'
TORCH = ("torch's CPU build: pip install torch==2.13.0 --index-url "
         "https://download.pytorch.org/whl/cpu (exporting needs no torch: little-baby export MODEL --format transformers --out DIR)")
INSTALL = {"transformers": EXTRA, "tokenizers": EXTRA, "torch": TORCH}  # what installs each
TOKENIZER_CLASS = "PreTrainedTokenizerFast"  # the name transformers 4 and 5 both load
FILES = ("config.json", "generation_config.json", "model.safetensors", "tokenizer.json",
         "tokenizer_config.json")  # what save_transformers writes

# (our key, GPT-2's key) of the weights that are copied as they are; {i} is the block
TOP_KEYS = (("wte.weight", "transformer.wte.weight"), ("wpe.weight", "transformer.wpe.weight"),
            ("ln_f.weight", "transformer.ln_f.weight"), ("ln_f.bias", "transformer.ln_f.bias"))
BLOCK_KEYS = (("ln1.weight", "ln_1.weight"), ("ln1.bias", "ln_1.bias"),
              ("attn.qkv.weight", "attn.c_attn.weight"), ("attn.qkv.bias", "attn.c_attn.bias"),
              ("attn.proj.weight", "attn.c_proj.weight"), ("attn.proj.bias", "attn.c_proj.bias"),
              ("ln2.weight", "ln_2.weight"), ("ln2.bias", "ln_2.bias"),
              ("net.up.weight", "mlp.c_fc.weight"), ("net.up.bias", "mlp.c_fc.bias"),
              ("net.down.weight", "mlp.c_proj.weight"), ("net.down.bias", "mlp.c_proj.bias"))


def key_pairs(n_layers):
    """(our key, GPT-2's key) of every weight but the head's, in our order."""
    pairs = list(TOP_KEYS[:2])
    for i in range(n_layers):
        pairs += [(f"blocks.{i}.{ours}", f"transformer.h.{i}.{theirs}")
                  for ours, theirs in BLOCK_KEYS]
    return pairs + list(TOP_KEYS[2:])


def _libraries(*names, why="running a model in transformers"):
    """The modules `names` (default: torch, transformers, tokenizers) as a tuple in that
    order, or a ConversionError that names what is missing and what installs it."""
    names = names or ("torch", "transformers", "tokenizers")
    missing = [n for n in names if not _importable(n)]
    if missing:
        how = "; ".join(f"{_and(ns)}: {how}" for how, ns in _group(missing).items())
        raise ConversionError(f"{why} needs {_and(names)}, and {_and(missing)} "
                              f"{'is' if len(missing) == 1 else 'are'} not installed. {how}.")
    return tuple(importlib.import_module(n) for n in names)


def _group(names):
    """{install command: the names it installs}."""
    groups = {}
    for n in names:
        groups.setdefault(INSTALL[n], []).append(n)
    return groups


def _and(names):
    names = list(names)
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _importable(name):
    try:
        importlib.import_module(name)
    except ImportError:
        return False
    return True


# ---- ours -> GPT-2 --------------------------------------------------------------------------
def check_exportable(cfg):
    """Raise a ConversionError naming every setting of `cfg` GPT-2 cannot express."""
    problems = []
    if cfg.c_sequence != "pre":
        problems.append(f"c_sequence={cfg.c_sequence!r}: GPT-2's blocks are pre-norm (LayerNorm "
                        f"before each sub-layer, x + f(ln(x))); post-norm blocks (ln(x + f(x))) "
                        f"cannot be expressed in them")
    if cfg.c_attention != "mha":
        problems.append(f"c_attention={cfg.c_attention!r}: GPT-2's attention is plain causal "
                        f"multi-head attention ('mha'), with no {cfg.c_attention} equivalent")
    if cfg.c_network != "mlp":
        problems.append(f"c_network={cfg.c_network!r}: GPT-2's feed-forward network is the GELU "
                        f"MLP ('mlp'), with no {cfg.c_network} equivalent")
    if cfg.head_size != cfg.n_emb:
        problems.append(f"head_size={cfg.head_size} with n_emb={cfg.n_emb}: GPT-2's queries, keys "
                        f"and values are n_embd wide each (c_attn is n_embd x 3*n_embd), so "
                        f"head_size must equal n_emb")
    if problems:
        raise ConversionError("this model cannot be exported to transformers' GPT-2 exactly: "
                              + "; ".join(problems) + ". Only pre-norm mha + mlp models with "
                              "head_size == n_emb export.")


def fold_head_bias(weight, bias):
    """c (C,) with c W = b as nearly as least squares gets it, and max |c W - b|:
    W = lm_head.weight (C, V), b = lm_head.bias (V,), in float64."""
    c, *_ = numpy.linalg.lstsq(weight.T, bias, rcond=None)
    return c, float(numpy.abs(c @ weight - bias).max())


def gpt2_weights(cfg, params):
    """GPT2LMHeadModel's state dict (key -> float64 array (in, out) as Conv1D stores it)
    for our config and host params, r_temp and lm_head.bias folded in."""
    p = {k: numpy.asarray(v, dtype=numpy.float64) for k, v in params.items()}
    weights = {theirs: p[ours].copy() for ours, theirs in key_pairs(cfg.n_layers)}
    C = cfg.n_emb
    for i in range(cfg.n_layers):  # scores / r_temp == queries / r_temp
        weights[f"transformer.h.{i}.attn.c_attn.weight"][:, :C] /= cfg.r_temp
        weights[f"transformer.h.{i}.attn.c_attn.bias"][:C] /= cfg.r_temp
    if cfg.c_tie:  # GPT-2's own head: wte transposed, no bias (nothing to fold)
        weights["lm_head.weight"] = p["wte.weight"].copy()          # (V, C)
        return weights
    c, error = fold_head_bias(p["lm_head.weight"], p["lm_head.bias"])
    if error > HEAD_BIAS_TOLERANCE:
        V = p["lm_head.bias"].shape[0]
        why = (f"a vocabulary of {V} tokens is larger than n_emb = {C}, so lm_head's "
               f"{V} columns cannot all be independent" if V > C else
               f"lm_head.weight's {V} columns are not independent")
        raise ConversionError(
            f"GPT-2's lm_head has no bias, and this model's lm_head.bias is not c @ "
            f"lm_head.weight for any c: the closest c leaves a logit error of {error:.3g} "
            f"(tolerance {HEAD_BIAS_TOLERANCE:g}; {why}). The model would not give its own "
            f"next-token distribution, so it is not exported. Character vocabularies no "
            f"larger than n_emb export exactly.")
    weights["transformer.ln_f.bias"] += c
    weights["lm_head.weight"] = p["lm_head.weight"].T.copy()       # (V, C)
    return weights


def gpt2_config_dict(cfg, vocab_size, start_id):
    """config.json of the GPT-2 that computes our maths (the settings GPT2Config takes,
    as transformers writes them), without transformers."""
    return {
        "architectures": ["GPT2LMHeadModel"], "model_type": "gpt2", "vocab_size": vocab_size,
        "n_positions": cfg.n_ctx, "n_embd": cfg.n_emb, "n_layer": cfg.n_layers,
        "n_head": cfg.n_heads, "n_inner": cfg.n_hidden * cfg.n_emb,
        "activation_function": "gelu_new", "layer_norm_epsilon": cfg.r_ln_eps,
        # training there; eval() (inference) turns dropout off
        "resid_pdrop": cfg.r_dropout, "embd_pdrop": cfg.r_dropout, "attn_pdrop": cfg.r_dropout,
        "scale_attn_weights": True, "scale_attn_by_inverse_layer_idx": False,
        "reorder_and_upcast_attn": False, "add_cross_attention": False,
        "tie_word_embeddings": cfg.c_tie, "bos_token_id": start_id, "eos_token_id": None,
        "pad_token_id": None, "use_cache": True, "dtype": "float32"}


def gpt2_config(cfg, vocab_size, start_id):
    """transformers' GPT2Config of gpt2_config_dict."""
    transformers, = _libraries("transformers")
    settings = gpt2_config_dict(cfg, vocab_size, start_id)
    del settings["model_type"]  # GPT2Config's own
    return transformers.GPT2Config(**settings)


def _start_id(baby):
    if baby.tokenizer.kind == "bpe":  # byte-level: newline is the token of b"\n"
        return baby._start_id()
    return baby.tokenizer.ids.get("\n", 0)  # where our generate starts an empty prompt


def _host_params(baby):
    return {k: baby.backend.to_numpy(v) for k, v in baby.params.items()}


def to_transformers(baby):
    """(GPT2LMHeadModel in eval mode, PreTrainedTokenizerFast) computing `baby`'s logits
    (float32) and tokens; a ConversionError says what GPT-2 cannot express."""
    cfg = baby.config
    check_exportable(cfg)
    weights = gpt2_weights(cfg, _host_params(baby))
    torch, transformers, _ = _libraries()
    model = transformers.GPT2LMHeadModel(gpt2_config(cfg, baby.tokenizer.vocab_size,
                                                     _start_id(baby)))
    model.load_state_dict({k: torch.from_numpy(v.astype(numpy.float32))
                           for k, v in weights.items()}, strict=True)
    model.generation_config.max_length = cfg.n_ctx  # GPT-2 has no positions past n_ctx
    return model.eval(), fast_tokenizer(baby.tokenizer, cfg.n_ctx)


def is_transformers_folder(folder):
    """Whether `folder` holds a transformers model (a config.json naming a model_type)."""
    try:
        config = json.loads((Path(folder) / CONFIG).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(config, dict) and "model_type" in config


def transformers_files(baby):
    """{file name: bytes} of the folder transformers loads as `baby`: numpy, safetensors
    and JSON only (no torch, transformers or tokenizers)."""
    cfg = baby.config
    check_exportable(cfg)
    weights = gpt2_weights(cfg, _host_params(baby))
    start_id, n_ctx = _start_id(baby), cfg.n_ctx
    files = {
        "config.json": gpt2_config_dict(cfg, baby.tokenizer.vocab_size, start_id),
        # GPT-2 has no positions past n_ctx
        "generation_config.json": {"bos_token_id": start_id, "max_length": n_ctx},
        "tokenizer.json": tokenizer_json(baby.tokenizer),
        "tokenizer_config.json": {"tokenizer_class": TOKENIZER_CLASS,
                                  "clean_up_tokenization_spaces": False,
                                  "model_max_length": n_ctx},
    }
    files = {name: (json.dumps(value, indent=2, ensure_ascii=False) + "\n").encode("utf-8")
             for name, value in files.items()}
    if cfg.c_tie:  # tied: transformers writes (and reads) wte alone, as save_pretrained does
        del weights["lm_head.weight"]
    files["model.safetensors"] = safetensors_bytes(
        {k: numpy.ascontiguousarray(v, dtype=numpy.float32) for k, v in weights.items()},
        metadata={"format": "pt"})  # transformers reads safetensors marked as torch's
    return {name: files[name] for name in FILES}


def save_transformers(baby, folder):
    """Export `baby` into `folder` (created if need be) as transformers' files:
    config.json, generation_config.json, model.safetensors, tokenizer.json and
    tokenizer_config.json, all replaced together or none (no torch needed). Returns the
    folder's Path."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise ConversionError(f"{folder} is a file: give a folder to export into.")
    if is_model_folder(folder) and not is_transformers_folder(folder):
        raise ConversionError(f"{folder} holds one of our model folders (its config.json and "
                              f"tokenizer.json would be overwritten): export into another folder.")
    files = transformers_files(baby)
    folder.parent.mkdir(parents=True, exist_ok=True)
    with atomic_files([folder / name for name in files]) as targets:
        for data, target in zip(files.values(), targets):
            Path(target).write_bytes(data)
    return folder


# ---- the tokenizer --------------------------------------------------------------------------
@functools.lru_cache(maxsize=1)
def word_pattern():
    """WordTokenizer's pattern \\w+|\\s+|[^\\w\\s] with \\w and \\s spelled out as the code
    point ranges Python's `re` gives them, for Oniguruma (`tokenizers`' regex engine)."""
    every = "".join(chr(c) for c in range(sys.maxunicode + 1) if not 0xD800 <= c <= 0xDFFF)
    word = _ranges(re.findall(r"\w", every))
    space = _ranges(re.findall(r"\s", every))
    return f"[{word}]+|[{space}]+|[^{word}{space}]"


def _ranges(chars):
    """'\\x{30}-\\x{39}\\x{41}-...' for sorted characters, runs of code points joined."""
    out, codes = [], [ord(c) for c in chars]
    start = prev = codes[0]
    for code in codes[1:] + [None]:
        if code is not None and code == prev + 1:
            prev = code
            continue
        out.append(f"\\x{{{start:X}}}" if start == prev else f"\\x{{{start:X}}}-\\x{{{prev:X}}}")
        if code is not None:
            start = prev = code
    return "".join(out)


def tokenizer_json(tokenizer):
    """tokenizer.json (as a dict) of our char or word tokenizer, in the `tokenizers`
    library's format (see the module docstring), written without that library; a
    byte-level BPE's is its own (GPT-2's form, bpe.py)."""
    if tokenizer.kind == "bpe":
        return tokenizer.to_dict()
    vocab = dict(tokenizer.ids)
    if tokenizer.kind == "char":
        model = {"type": "BPE", "dropout": None, "unk_token": None,
                 "continuing_subword_prefix": None, "end_of_word_suffix": None,
                 "fuse_unk": False, "byte_fallback": False, "ignore_merges": False,
                 "vocab": vocab, "merges": []}
        pre_tokenizer = None
    else:  # no word splits as \w+|\s+|[^\w\s] into "<unk>", so an unknown word is an error
        model = {"type": "WordLevel", "vocab": vocab, "unk_token": "<unk>"}
        pre_tokenizer = {"type": "Split", "pattern": {"Regex": word_pattern()},
                         "behavior": "Isolated", "invert": False}
    return {"version": "1.0", "truncation": None, "padding": None, "added_tokens": [],
            "normalizer": None, "pre_tokenizer": pre_tokenizer, "post_processor": None,
            "decoder": {"type": "Fuse"}, "model": model}


def backend_tokenizer(tokenizer):
    """A `tokenizers.Tokenizer` for our char or word tokenizer: tokenizer_json's."""
    tokenizers, = _libraries("tokenizers", why="a tokenizers.Tokenizer")
    return tokenizers.Tokenizer.from_str(json.dumps(tokenizer_json(tokenizer)))


def fast_tokenizer(tokenizer, n_ctx):
    """transformers' PreTrainedTokenizerFast whose encode and decode are ours."""
    transformers, _ = _libraries("transformers", "tokenizers",
                                 why="a transformers tokenizer")
    return transformers.PreTrainedTokenizerFast(
        tokenizer_object=backend_tokenizer(tokenizer), clean_up_tokenization_spaces=False,
        model_max_length=n_ctx)


def _encode(tokenizer, text):
    """Token ids of `text` by a transformers or `tokenizers` tokenizer, no special tokens."""
    ids = tokenizer.encode(text, add_special_tokens=False)
    return list(getattr(ids, "ids", ids))


def vocabulary(tokenizer, vocab_size):
    """Our CharTokenizer (or WordTokenizer) with the token ids of `tokenizer` (a
    transformers or `tokenizers` tokenizer, or ours), for a model of `vocab_size` rows;
    a ConversionError where ours cannot encode as it does."""
    if isinstance(tokenizer, (CharTokenizer, WordTokenizer)):
        symbols = tokenizer.symbols
    else:
        symbols = _symbols(tokenizer.get_vocab())
    if len(symbols) != vocab_size:
        raise ConversionError(f"the model has {vocab_size} token rows but the tokenizer "
                              f"{len(symbols)} tokens: pass the tokenizer the model was trained with.")
    if isinstance(tokenizer, (CharTokenizer, WordTokenizer)):
        return TOKENIZERS[tokenizer.kind](symbols)
    if all(len(s) == 1 for s in symbols):
        ours = CharTokenizer(symbols)
        _check_same(tokenizer, ours, ["".join(symbols)])
        return ours
    if _is_our_word_tokenizer(tokenizer, symbols):
        ours = WordTokenizer(symbols)
        _check_same(tokenizer, ours, symbols)
        return ours
    long = [s for s in symbols if len(s) != 1][:5]
    raise ConversionError(
        f"the tokenizer's vocabulary holds tokens that are not single characters "
        f"({', '.join(repr(s) for s in long)}, ...), as a BPE or byte-level vocabulary (GPT-2's "
        f"own) does: our tokenizers are character-level, or word-level as exported from here "
        f"(tokenizer.py), so this vocabulary cannot be represented. Import a GPT-2 with a "
        f"character vocabulary.")


def _symbols(vocab):
    """The tokens of a {token: id} vocabulary in id order (ids must be 0 .. N-1)."""
    ordered = sorted(vocab.items(), key=lambda item: item[1])
    if [i for _, i in ordered] != list(range(len(ordered))):
        raise ConversionError("the tokenizer's token ids are not 0 .. N-1 without gaps: ours "
                              "number the tokens of a vocabulary that way.")
    return [token for token, _ in ordered]


def _is_our_word_tokenizer(tokenizer, symbols):
    """Whether `tokenizer` splits and looks up words as our exported word tokenizer does."""
    backend = getattr(tokenizer, "backend_tokenizer", tokenizer)
    if not hasattr(backend, "to_str"):
        return False
    theirs = json.loads(backend.to_str())
    ours = json.loads(backend_tokenizer(WordTokenizer(symbols)).to_str())
    return (theirs.get("model", {}).get("type") == "WordLevel"
            and all(theirs.get(k) == ours.get(k) for k in ("normalizer", "pre_tokenizer")))


def _check_same(tokenizer, ours, texts):
    """Raise a ConversionError unless `tokenizer` encodes `texts` as `ours` does (how it
    decodes is its own affair: ours decodes by the symbols)."""
    for text in texts:
        theirs, mine = _encode(tokenizer, text), [int(i) for i in ours.encode(text)]
        if theirs != mine:
            raise ConversionError(
                f"the tokenizer does not encode its own vocabulary as a {ours.kind}-level "
                f"tokenizer does: {text[:40]!r} gives ids {theirs[:10]} where ours gives "
                f"{mine[:10]} (a normalizer or pre-tokenizer that changes the text?), so its "
                f"token ids cannot be ours.")


# ---- GPT-2 -> ours --------------------------------------------------------------------------
def load_gpt2(model_or_folder, tokenizer):
    """(GPT2LMHeadModel, tokenizer) from a model (with its tokenizer) or a folder that
    transformers' save_pretrained wrote (its tokenizer read there unless given)."""
    _, transformers, _ = _libraries(why="reading a GPT-2")
    if isinstance(model_or_folder, (str, os.PathLike)):
        folder = Path(model_or_folder)
        if not is_transformers_folder(folder):
            raise ConversionError(f"{folder} is not a transformers model folder (no config.json "
                                  f"naming a model_type): give the folder save_pretrained wrote.")
        model_type = json.loads((folder / CONFIG).read_text(encoding="utf-8"))["model_type"]
        if model_type != "gpt2":
            raise ConversionError(f"{folder} holds a {model_type!r} model; only GPT-2 "
                                  f"(model_type 'gpt2') converts.")
        try:  # safetensors only: nothing is unpickled
            model = transformers.GPT2LMHeadModel.from_pretrained(folder, use_safetensors=True)
        except (OSError, ValueError) as e:
            raise ConversionError(f"cannot read the GPT-2 weights in {folder} ({e}); only "
                                  f"model.safetensors is read, never a pickled .bin.") from e
        if tokenizer is None:
            tokenizer = folder
    else:
        model = model_or_folder
        if not isinstance(model, transformers.GPT2LMHeadModel):
            raise ConversionError(f"a {type(model).__name__} is not a GPT2LMHeadModel: only "
                                  f"GPT-2 language models convert.")
        if tokenizer is None:
            raise ConversionError("pass the model's tokenizer too (tokenizer=...): its vocabulary "
                                  "says which character each token id is.")
    if isinstance(tokenizer, (str, os.PathLike)):
        try:
            tokenizer = transformers.AutoTokenizer.from_pretrained(tokenizer)
        except (OSError, ValueError) as e:
            raise ConversionError(f"cannot read a tokenizer in {tokenizer} ({e}): pass "
                                  f"tokenizer=... .") from e
    return model, tokenizer


def config_from_gpt2(hf):
    """Our BabyConfig for a GPT2Config; a ConversionError names what ours cannot express."""
    problems = []
    if getattr(hf, "add_cross_attention", False):
        problems.append("add_cross_attention=True (ours attends to its own text only)")
    if hf.activation_function not in TANH_GELUS:
        problems.append(f"activation_function={hf.activation_function!r} (ours is GELU's tanh "
                        f"approximation: {' or '.join(TANH_GELUS)})")
    eps = hf.layer_norm_epsilon
    if isinstance(eps, bool) or not isinstance(eps, (int, float)) or not 1e-12 <= eps < 1:
        problems.append(f"layer_norm_epsilon={eps!r:.60} (ours takes a number from 1e-12 to 1)")
    inner = hf.n_inner if hf.n_inner is not None else 4 * hf.n_embd
    if inner % hf.n_embd:
        problems.append(f"n_inner={inner}, not a multiple of n_embd={hf.n_embd} (ours is "
                        f"n_hidden * n_emb)")
    if problems:
        raise ConversionError("this GPT-2 cannot be expressed as our model: "
                              + "; ".join(problems) + ".")
    dropout = hf.resid_pdrop if 0 <= hf.resid_pdrop < 1 else 0.0
    return BabyConfig(c_sequence="pre", c_attention="mha", c_network="mlp",
                      n_ctx=hf.n_positions, n_emb=hf.n_embd, head_size=hf.n_embd,
                      n_heads=hf.n_head, n_layers=hf.n_layer, n_hidden=inner // hf.n_embd,
                      r_temp=1.0, r_ln_eps=float(eps), r_dropout=float(dropout),
                      c_tie=bool(getattr(hf, "tie_word_embeddings", True)))


def fold_score_scale(params, cfg, hf):
    """GPT-2's attention score scale (1/sqrt(d) if scale_attn_weights, over layer i + 1 if
    scale_attn_by_inverse_layer_idx) as ours, 1/sqrt(d), times a factor folded into each
    layer's query weights and bias, in place. `hf`: GPT-2's config (its attributes)."""
    C, d = cfg.n_emb, cfg.head_dim
    for i in range(cfg.n_layers):
        scale = (d ** -0.5 if hf.scale_attn_weights else 1.0) / (
            i + 1 if hf.scale_attn_by_inverse_layer_idx else 1)
        factor = numpy.float32(scale * d ** 0.5)
        if factor != 1:
            params[f"blocks.{i}.attn.qkv.weight"][:, :C] *= factor
            params[f"blocks.{i}.attn.qkv.bias"][:C] *= factor


def params_from_gpt2(model, cfg):
    """Our params (float32 host arrays) from a GPT2LMHeadModel whose config gave `cfg`."""
    hf = model.config
    state = {k: v.detach().to("cpu").float().numpy() for k, v in model.state_dict().items()}
    params = {ours: state[theirs].astype(numpy.float32) for ours, theirs in key_pairs(cfg.n_layers)}
    fold_score_scale(params, cfg, hf)
    if cfg.c_tie:  # the output layer is wte's transpose, held once
        return params
    head = model.get_output_embeddings()
    params["lm_head.weight"] = head.weight.detach().to("cpu").float().numpy().T.copy()  # (C, V)
    bias = getattr(head, "bias", None)
    params["lm_head.bias"] = (numpy.zeros(hf.vocab_size, numpy.float32) if bias is None
                              else bias.detach().to("cpu").float().numpy())
    return params


def from_transformers(cls, model_or_folder, tokenizer=None):
    """A `cls` (LittleBaby) with the weights, positions and vocabulary of a GPT-2
    (GPT2LMHeadModel or the folder save_pretrained wrote) and its tokenizer. Its identity
    is a GPT-2 import's (identity.imported_gpt2: a folder's checkpoint GUID, else a fresh
    one), so a fit finetunes it and names it as the parent."""
    model, tokenizer = load_gpt2(model_or_folder, tokenizer)
    cfg = config_from_gpt2(model.config)
    vocab = vocabulary(tokenizer, model.config.vocab_size)
    cfg = cfg.replace(c_tokenizer=vocab.kind)
    baby = cls(cfg, vocab, params=params_from_gpt2(model, cfg))
    in_folder = isinstance(model_or_folder, (str, os.PathLike))
    return identify(baby, imported_gpt2(Path(model_or_folder) / WEIGHTS if in_folder else None))
