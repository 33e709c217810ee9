"""The model (mha attention + mlp network, pre- or post-norm) as a dozen plain functions:
the maths of the engine with nothing for speed, and the oracle its tests compare with.

In the style of picoGPT (Jay Mody, "GPT in 60 Lines of NumPy"): one sequence, one
screen, shapes on every line; no chunks, threads, caches or backward passes. It shares no
code with ops.py. `params` is a Transformer's dict (the safetensors keys), its arrays
NumPy's or CuPy's (each function takes the module of its input, backend.array_module).
Evaluation only: no dropout. T tokens, C = n_emb, S = head_size, h heads of d = S / h,
H = n_hidden * C, V vocabulary.
"""
import math

from ..errors import ConfigError
from .backend import array_module


def gelu(x):
    """GELU, tanh approximation (Hendrycks & Gimpel 2016, as GPT-2)."""
    xp = array_module(x)
    return 0.5 * x * (1 + xp.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))


def softmax(x):
    """Over the last axis; -inf entries get probability 0."""
    xp = array_module(x)
    e = xp.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def layer_norm(x, g, b, eps):
    """(T, C) -> (T, C): each row to mean 0 and (biased) variance 1, then scaled and shifted."""
    mean = x.mean(axis=-1, keepdims=True)                     # (T, 1)
    variance = x.var(axis=-1, keepdims=True)                  # (T, 1)
    return g * (x - mean) / array_module(x).sqrt(variance + eps) + b


def linear(x, w, b):
    """(T, D_in) @ (D_in, D_out) + (D_out,) -> (T, D_out)"""
    return x @ w + b


def causal_self_attention(q, k, v, r_temp):
    """q, k, v (h, T, d) -> (h, T, d): softmax(q k^T / (sqrt(d) r_temp) + causal mask) v."""
    xp = array_module(q)
    h, T, d = q.shape
    mask = xp.where(xp.tri(T, dtype=bool), 0.0, -xp.inf)     # (T, T): 0 on and below the diagonal
    scores = q @ k.swapaxes(-1, -2) / (math.sqrt(d) * r_temp)  # (h, T, T)
    return softmax(scores + mask) @ v                         # (h, T, d)


def mha(x, p, n_heads, r_temp):
    """(T, C) -> (T, C): multi-head causal self-attention."""
    T, C = x.shape
    qkv = linear(x, p["qkv.weight"], p["qkv.bias"])           # (T, 3*S)
    q, k, v = array_module(x).split(qkv, 3, axis=-1)          # (T, S) each
    heads = [t.reshape(T, n_heads, -1).swapaxes(0, 1) for t in (q, k, v)]   # (h, T, d) each
    y = causal_self_attention(*heads, r_temp)                 # (h, T, d)
    y = y.swapaxes(0, 1).reshape(T, -1)                       # (T, S): the heads side by side
    return linear(y, p["proj.weight"], p["proj.bias"])        # (T, C)


def mlp(x, p):
    """(T, C) -> (T, C): GELU(x W_up + b_up) W_down + b_down."""
    h = gelu(linear(x, p["up.weight"], p["up.bias"]))         # (T, H)
    return linear(h, p["down.weight"], p["down.bias"])        # (T, C)


def block(x, p, cfg):
    """(T, C) -> (T, C): attention then the network, each a residual sub-layer,
    pre-norm x + f(ln(x)) (GPT-2) or post-norm ln(x + f(x)) (Vaswani et al. 2017)."""
    attn, net, h = under(p, "attn."), under(p, "net."), cfg.n_heads
    eps = cfg.r_ln_eps
    ln1 = (p["ln1.weight"], p["ln1.bias"], eps)
    ln2 = (p["ln2.weight"], p["ln2.bias"], eps)
    if cfg.c_sequence == "pre":
        x = x + mha(layer_norm(x, *ln1), attn, h, cfg.r_temp)   # (T, C)
        return x + mlp(layer_norm(x, *ln2), net)                # (T, C)
    x = layer_norm(x + mha(x, attn, h, cfg.r_temp), *ln1)       # (T, C)
    return layer_norm(x + mlp(x, net), *ln2)                    # (T, C)


def gpt(ids, params, cfg):
    """token ids (T,) -> logits (T, V)."""
    if (cfg.c_attention, cfg.c_network) != ("mha", "mlp"):
        raise ConfigError(f"the reference model is mha + mlp, not {cfg.c_attention} + "
                          f"{cfg.c_network}: use c_attention='mha', c_network='mlp'.")
    T = len(ids)
    x = params["wte.weight"][ids] + params["wpe.weight"][:T]  # (T, C)
    for i in range(cfg.n_layers):
        x = block(x, under(params, f"blocks.{i}."), cfg)      # (T, C)
    x = layer_norm(x, params["ln_f.weight"], params["ln_f.bias"], cfg.r_ln_eps)   # (T, C)
    return head(x, params, cfg)                               # (T, V)


def head(x, params, cfg):
    """(T, C) -> logits (T, V): lm_head, or with tied embeddings (c_tie, GPT-2's) the
    token embedding transposed and no bias, x @ wte^T."""
    if cfg.c_tie:
        return x @ params["wte.weight"].T                     # (T, C) @ (C, V)
    return linear(x, params["lm_head.weight"], params["lm_head.bias"])


def under(params, prefix):
    """The entries of `params` under `prefix`, with the prefix taken off their keys."""
    return {k[len(prefix):]: v for k, v in params.items() if k.startswith(prefix)}
