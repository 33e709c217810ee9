"""`gqa`: grouped-query attention — n_kv_heads key/value heads, each shared by a group
of n_heads / n_kv_heads query heads: a smaller KV cache.

As in Ainslie et al. 2023 ("GQA: Training Generalized Multi-Query Transformer Models
from Multi-Head Checkpoints"): query head i uses key/value head i // (n_heads /
n_kv_heads); n_kv_heads = 0 means n_heads (then it is mha), 1 is multi-query attention.
The KV cache keeps the n_kv_heads shared heads only; after it each is repeated for its
group, and its gradient sums over the group. One fused matrix projects x to the queries
(head_size wide) and the keys and values (n_kv_heads * head_dim wide each).
Parameters: C*W + W + S*C + C, with C = n_emb, S = head_size, K = n_kv_heads,
d = head_dim and W = S + 2*K*d.
"""
from typing import NamedTuple

from ..backend import array_module
from ..ops import linear_backward, linear_forward
from . import heads
from .kv_cache import append_kv, append_position, new_kv_state
from .sdpa import sdpa_backward, sdpa_forward, sdpa_step


class GqaCache(NamedTuple):
    x2: object          # (N, C) the input
    y2: object          # (N, S) the heads side by side
    n_heads: int        # h
    n_kv_heads: int     # K
    sdpa: tuple         # sdpa_forward's cache (keys and values repeated for their groups)


def qkv_width(cfg):
    """W = S + 2*K*d: the queries (S wide), then K keys and K values (d wide each)."""
    return cfg.head_size + 2 * cfg.kv_heads * cfg.head_dim


def init(cfg, rt):
    return heads.init(cfg, rt, width=qkv_width(cfg))


def n_params(cfg):
    return heads.n_params(cfg, width=qkv_width(cfg))


def new_state(cfg, batch, rt):
    return new_kv_state(cfg, batch, rt, cfg.kv_heads)


def forward(p, x, cfg, rt, state=None):
    B, T, C = x.shape
    h, K, d = cfg.n_heads, cfg.kv_heads, cfg.head_dim
    g = h // K                                                           # query heads per group
    x2 = x.reshape(B * T, C)                                             # (N, C)
    qkv = linear_forward(x2, p["qkv.weight"], p["qkv.bias"])             # (N, (h + 2K) d)
    q = qkv[:, :h * d].reshape(B, T, h, d).transpose(0, 2, 1, 3)         # (B, h, T, d)
    kv = qkv[:, h * d:].reshape(B, T, 2, K, d).transpose(2, 0, 3, 1, 4)  # (2, B, K, T, d)
    k, v = kv[0], kv[1]
    offset = 0
    if state is not None:  # the cache keeps the K shared heads only
        offset, k, v = append_kv(state, k, v)
    k, v = repeat_heads(k, g), repeat_heads(v, g)                        # (B, h, T_k, d)
    y, sdpa_cache = sdpa_forward(q, k, v, 1.0 / (d ** 0.5 * cfg.r_temp), rt, offset)
    y2 = y.transpose(0, 2, 1, 3).reshape(B * T, h * d)                   # (N, S)
    out = linear_forward(y2, p["proj.weight"], p["proj.bias"])           # (N, C)
    cache = None if state is not None else GqaCache(x2, y2, h, K, sdpa_cache)
    return out.reshape(B, T, C), cache


def step(p, x, cfg, rt, state):
    """One new position (generation): x (C,) -> (C,); each shared key/value head meets
    its group of queries without being repeated."""
    h, K, d = cfg.n_heads, cfg.kv_heads, cfg.head_dim
    qkv = linear_forward(x, p["qkv.weight"], p["qkv.bias"])             # ((h + 2K) d,)
    q = qkv[:h * d].reshape(K, h // K, d)                               # (K, g, d)
    kv = qkv[h * d:].reshape(2, K, d)
    k, v = kv[0], kv[1]                                                 # (K, d) each
    keys, values = append_position(state, k, v)                         # (K, t+1, d)
    y = sdpa_step(q, keys, values, 1.0 / (d ** 0.5 * cfg.r_temp), rt)   # (K, g, d)
    return linear_forward(y.reshape(-1), p["proj.weight"], p["proj.bias"])


def repeat_heads(t, g):
    """(B, K, T, d) -> (B, K*g, T, d): each key/value head once for each query head of its group."""
    return array_module(t).repeat(t, g, axis=1)


def backward(p, dy, cache):
    c = cache
    h, K = c.n_heads, c.n_kv_heads
    B, T, C = dy.shape
    dy2, dw_proj, db_proj = linear_backward(dy.reshape(B * T, C), c.y2, p["proj.weight"])
    S = dy2.shape[1]
    d = S // h
    dq, dk, dv = sdpa_backward(dy2.reshape(B, T, h, d).transpose(0, 2, 1, 3), c.sdpa)
    dqkv = array_module(dy).empty((B, T, S + 2 * K * d), dtype=dy.dtype)  # (N, (h + 2K) d) as 3-D
    dqkv[:, :, :S] = dq.transpose(0, 2, 1, 3).reshape(B, T, S)
    for i, dkv in enumerate((dk, dv)):  # a shared head's gradient sums over its group
        shared = dkv.reshape(B, K, h // K, T, d).sum(axis=2)             # (B, K, T, d)
        start = S + i * K * d
        dqkv[:, :, start:start + K * d] = shared.transpose(0, 2, 1, 3).reshape(B, T, K * d)
    dx, dw_qkv, db_qkv = linear_backward(dqkv.reshape(B * T, -1), c.x2, p["qkv.weight"])
    grads = {"qkv.weight": dw_qkv, "qkv.bias": db_qkv, "proj.weight": dw_proj, "proj.bias": db_proj}
    return dx.reshape(B, T, C), grads
