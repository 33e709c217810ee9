"""`rfa`: recurrent focused attention — each query attends to the last s_window positions
(a causal sliding window) plus one memory slot holding the mean key and value of every
position that has left the window.

The window is sliding-window attention (Beltagy et al. 2020, "Longformer"); the memory
follows the recurrent-memory idea of Transformer-XL (Dai et al. 2019) and Infini-attention
(Munkhdalai et al. 2024, "Leave No Context Behind"), here as the simplest recurrence:
M_t = M_{t-1} + (k_{t-W}, v_{t-W}), memory = M_t / (t - W + 1), computed in parallel by
cumulative sums. Query t (W = s_window) scores keys t-W+1 .. t and the memory key in one
softmax, so old context is focused into one slot instead of being cut off. The window is
applied as a mask on the T x T scores (at n_ctx <= a few hundred a masked dense product is
faster in NumPy than gathering windows). The generation state is mha's KV cache.
Parameters: 3*C*S + 3*S + S*C + C, with C = n_emb, S = head_size.
"""
from ..backend import array_module
from ..ops import (dropout_backward, dropout_forward, linear_backward, linear_forward,
                   softmax_backward, softmax_forward)
from .common import append_kv, new_kv_state


def init(cfg, rt):
    C, S = cfg.n_emb, cfg.head_size
    xp, dt = rt.xp, rt.backend.dtype
    return {
        "qkv.weight": rt.normal((C, 3 * S), 0.02),
        "qkv.bias": xp.zeros(3 * S, dtype=dt),
        "proj.weight": rt.normal((S, C), 0.02 / (2 * cfg.n_layers) ** 0.5),
        "proj.bias": xp.zeros(C, dtype=dt),
    }


def n_params(cfg):
    C, S = cfg.n_emb, cfg.head_size
    return 3 * C * S + 3 * S + S * C + C


def new_state(cfg, batch, rt):
    return new_kv_state(cfg, batch, rt, cfg.n_heads)


def window_bias(T, T_k, offset, W, xp, dtype):
    """(T, T_k) additive mask: 0 where pos - W < j <= pos (pos = offset + i), -inf elsewhere."""
    pos = xp.arange(offset, offset + T)[:, None]
    j = xp.arange(T_k)[None, :]
    return xp.where((j <= pos) & (j > pos - W), 0.0, -xp.inf).astype(dtype)


def memory_rows(T, offset, W):
    """Queries r0.. have a memory; theirs ends at positions lo .. hi-1 (r0 = T: none)."""
    r0 = min(T, max(0, W - offset))
    return r0, offset + r0 - W, offset + T - W


def forward(p, x, cfg, rt, state=None):
    B, T, C = x.shape
    h, d, W = cfg.n_heads, cfg.head_dim, cfg.s_window
    xp = array_module(x)
    x2 = x.reshape(B * T, C)                                             # (N, C)
    qkv = linear_forward(x2, p["qkv.weight"], p["qkv.bias"])             # (N, 3*S)
    qkv = qkv.reshape(B, T, 3, h, d).transpose(2, 0, 3, 1, 4)           # (3, B, h, T, d) view
    q, k, v = qkv[0], qkv[1], qkv[2]
    offset = 0
    if state is not None:
        offset, k, v = append_kv(state, k, v)
    T_k = k.shape[2]
    scale = 1.0 / (d ** 0.5 * cfg.r_temp)
    qs = q * scale                                                       # (B, h, T, d)
    km, vm = xp.zeros_like(qs), xp.zeros_like(qs)                        # memory per query
    r0, lo, hi = memory_rows(T, offset, W)
    if r0 < T:
        n = xp.arange(lo + 1, hi + 1, dtype=qs.dtype)[:, None]           # positions in memory
        km[:, :, r0:] = xp.cumsum(k[:, :, :hi], axis=2)[:, :, lo:] / n
        vm[:, :, r0:] = xp.cumsum(v[:, :, :hi], axis=2)[:, :, lo:] / n
    s = xp.empty((B, h, T, T_k + 1), dtype=qs.dtype)                     # window keys, memory
    s[..., :T_k] = qs @ k.swapaxes(-1, -2)
    s[..., :T_k] += window_bias(T, T_k, offset, W, xp, s.dtype)
    s[..., T_k] = (qs * km).sum(axis=-1)
    s[:, :, :r0, T_k] = -xp.inf
    att = softmax_forward(s, out=s)                                      # (B, h, T, T_k + 1)
    if rt.keep_attention:
        rt.attention.append(att[..., :T_k].copy())
    mask = rt.dropout_mask(att.shape)
    att_d = dropout_forward(att, mask)
    y = att_d[..., :T_k] @ v                                             # (B, h, T, d)
    y += att_d[..., T_k:] * vm
    y2 = y.transpose(0, 2, 1, 3).reshape(B * T, h * d)                   # (N, S)
    out = linear_forward(y2, p["proj.weight"], p["proj.bias"])           # (N, C)
    cache = None if state is not None else (x2, qs, k, v, km, vm, att, att_d, mask, y2, scale, W)
    return out.reshape(B, T, C), cache


def backward(p, dy, cache):
    x2, qs, k, v, km, vm, att, att_d, mask, y2, scale, W = cache
    xp = array_module(dy)
    B, h, T, d = qs.shape
    dy2, dw_proj, db_proj = linear_backward(dy.reshape(B * T, -1), y2, p["proj.weight"])
    dyh = dy2.reshape(B, T, h, d).transpose(0, 2, 1, 3)                  # (B, h, T, d)
    datt = xp.empty_like(att)                                            # (B, h, T, T + 1)
    datt[..., :T] = dyh @ v.swapaxes(-1, -2)
    datt[..., T] = (dyh * vm).sum(axis=-1)
    ds = softmax_backward(dropout_backward(datt, mask), att)
    dwin, dmem = ds[..., :T], ds[..., T:]                                # (B, h, T, T), (.., 1)
    dqs = dwin @ k                                                       # (B, h, T, d)
    dqs += dmem * km
    dk = dwin.swapaxes(-1, -2) @ qs                                      # (B, h, T, d)
    dv = att_d[..., :T].swapaxes(-1, -2) @ dyh                           # (B, h, T, d)
    r0, lo, hi = memory_rows(T, 0, W)
    if r0 < T:  # the memory of query r0 + i averages positions 0 .. lo + i
        n = xp.arange(lo + 1, hi + 1, dtype=qs.dtype)[:, None]
        for dkv, dm in ((dk, dmem * qs), (dv, att_d[..., T:] * dyh)):
            dsum = dm[:, :, r0:] / n                                     # d cumsum rows lo..hi-1
            dkv[:, :, :hi] += xp.cumsum(dsum[:, :, ::-1], axis=2)[:, :, ::-1]
    dqkv = xp.empty((B, T, 3, h, d), dtype=dy.dtype)                     # (N, 3*S) as 5-D
    dqkv[:, :, 0] = (dqs * scale).transpose(0, 2, 1, 3)
    dqkv[:, :, 1] = dk.transpose(0, 2, 1, 3)
    dqkv[:, :, 2] = dv.transpose(0, 2, 1, 3)
    dx, dw_qkv, db_qkv = linear_backward(dqkv.reshape(B * T, 3 * h * d), x2, p["qkv.weight"])
    grads = {"qkv.weight": dw_qkv, "qkv.bias": db_qkv, "proj.weight": dw_proj, "proj.bias": db_proj}
    return dx.reshape(B, T, -1), grads
