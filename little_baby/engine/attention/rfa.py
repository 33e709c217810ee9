"""`rfa`: recurrent focused attention — each query attends to the last s_window positions
(a causal sliding window) plus one memory slot holding the mean key and value of every
position that has left the window.

The window is sliding-window attention (Beltagy et al. 2020, "Longformer"); the memory
follows the recurrent-memory idea of Transformer-XL (Dai et al. 2019) and Infini-attention
(Munkhdalai et al. 2024, "Leave No Context Behind"), here as the simplest recurrence:
M_t = M_{t-1} + (k_{t-W}, v_{t-W}), memory = M_t / (t - W + 1). Query t (W = s_window)
scores keys t-W+1 .. t and the memory key in one softmax, so old context is focused into
one slot instead of being cut off. In parallel form the memory is an averaging matrix A
(A[t, j] = 1 / (t - W + 1) for j <= t - W) on the same scores: the memory's score is
(A * q k^T) summed over j, its value A v. Window and memory are masks on the T x T scores
(at n_ctx <= a few hundred a masked dense product is faster in NumPy than gathering
windows). The generation state is mha's KV cache.
Parameters: 3*C*S + 3*S + S*C + C, with C = n_emb, S = head_size.
"""
import functools
from typing import NamedTuple

from ..backend import array_module
from ..ops import (dropout_backward, dropout_forward, linear_backward, linear_forward,
                   softmax_backward, softmax_forward)
from . import heads
from .kv_cache import append_kv, new_kv_state


class RfaCache(NamedTuple):
    x2: object     # (N, C) the input
    qs: object     # (B, h, T, d) q * scale
    k: object      # (B, h, T, d)
    v: object      # (B, h, T, d)
    avg: object    # (T, T) the memory's averaging weights
    att: object    # (B, h, T, T + 1) softmax over the window's keys and the memory
    mask: object   # dropout mask of att, or None
    w: object      # (B, h, T, T) the weights on the values (memory spread back over them)
    y2: object     # (N, S) the heads side by side
    scale: float


def init(cfg, rt):
    return heads.init(cfg, rt)  # mha's parameters


def n_params(cfg):
    return heads.n_params(cfg)


def new_state(cfg, batch, rt):
    return new_kv_state(cfg, batch, rt, cfg.n_heads)


@functools.lru_cache(maxsize=32)
def window_and_memory(T, T_k, offset, W, xp, dtype):
    """For queries at positions pos = offset + i and keys j:
    bias (T, T_k), 0 inside the window pos - W < j <= pos and -inf elsewhere;
    avg (T, T_k), the memory's averaging weights 1 / (pos - W + 1) for j <= pos - W;
    no_memory (T,), True where pos < W (nothing has left the window yet).
    Cached (the same few shapes come back every step), so never modify them."""
    pos = xp.arange(offset, offset + T)[:, None]
    j = xp.arange(T_k)[None, :]
    bias = xp.where((j <= pos) & (j > pos - W), 0.0, -xp.inf).astype(dtype)
    avg = xp.where(j <= pos - W, 1.0 / xp.maximum(pos - W + 1, 1), 0.0).astype(dtype)
    return bias, avg, pos[:, 0] < W


def forward(p, x, cfg, rt, state=None):
    B, T, C = x.shape
    h, d = cfg.n_heads, cfg.head_dim
    xp = array_module(x)
    x2 = x.reshape(B * T, C)                                             # (N, C)
    q, k, v = heads.project_heads(p, x2, B, T, cfg)                      # (B, h, T, d) views
    offset = 0
    if state is not None:
        offset, k, v = append_kv(state, k, v)
    T_k = k.shape[2]
    bias, avg, no_memory = window_and_memory(T, T_k, offset, cfg.s_window, xp, x.dtype)
    scale = 1.0 / (d ** 0.5 * cfg.r_temp)
    qs = q * scale                                                       # (B, h, T, d)
    s_all = qs @ k.swapaxes(-1, -2)                                      # (B, h, T, T_k)
    s = xp.empty((B, h, T, T_k + 1), dtype=x.dtype)                      # window keys, memory
    s[..., T_k] = (s_all * avg).sum(axis=-1)                             # q . mean of old keys
    s[..., T_k][:, :, no_memory] = -xp.inf
    xp.add(s_all, bias, out=s[..., :T_k])
    att = softmax_forward(s, out=s)                                      # (B, h, T, T_k + 1)
    if rt.keep_attention:  # each position's share: its window weight + its part of the memory's
        rt.attention.append(att[..., :T_k] + att[..., T_k:] * avg)
    mask = rt.dropout_mask(att.shape)
    att_d = dropout_forward(att, mask)
    w = att_d[..., :T_k] + att_d[..., T_k:] * avg                        # (B, h, T, T_k) on values
    y = w @ v                                                            # (B, h, T, d)
    y2 = y.transpose(0, 2, 1, 3).reshape(B * T, h * d)                   # (N, S)
    out = linear_forward(y2, p["proj.weight"], p["proj.bias"])           # (N, C)
    cache = None if state is not None else RfaCache(x2, qs, k, v, avg, att, mask, w, y2, scale)
    return out.reshape(B, T, C), cache


def backward(p, dy, cache):
    c = cache
    xp = array_module(dy)
    B, h, T, d = c.qs.shape
    dy2, dw_proj, db_proj = linear_backward(dy.reshape(B * T, -1), c.y2, p["proj.weight"])
    dyh = dy2.reshape(B, T, h, d).transpose(0, 2, 1, 3)                  # (B, h, T, d)
    dv = c.w.swapaxes(-1, -2) @ dyh                                      # (B, h, T, d)
    dw = dyh @ c.v.swapaxes(-1, -2)                                      # (B, h, T, T)
    datt = xp.empty_like(c.att)                                          # (B, h, T, T + 1)
    datt[..., :T] = dw
    datt[..., T] = (dw * c.avg).sum(axis=-1)
    datt = dropout_backward(datt, c.mask)
    ds = softmax_backward(datt, c.att, out=datt)                         # (B, h, T, T + 1)
    ds_all = ds[..., :T] + ds[..., T:] * c.avg                           # d (q k^T), (B, h, T, T)
    dqs = ds_all @ c.k                                                   # (B, h, T, d)
    dk = ds_all.swapaxes(-1, -2) @ c.qs                                  # (B, h, T, d)
    dx, dw_qkv, db_qkv = heads.project_heads_backward(p, c.x2, dqs * c.scale, dk, dv)
    grads = {"qkv.weight": dw_qkv, "qkv.bias": db_qkv, "proj.weight": dw_proj, "proj.bias": db_proj}
    return dx.reshape(B, T, -1), grads
