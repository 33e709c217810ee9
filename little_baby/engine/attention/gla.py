"""`gla` (also `lda`): gated linear attention — no queries and no QK^T: each channel
keeps a decaying running sum of k * v, O(T) in time and O(1) per generated token.

Gated linear attention (Yang et al. 2024, "Gated Linear Attention Transformers with
Hardware-Efficient Training") keeps a state S_t = diag(a_t) S_{t-1} + k_t^T v_t with a
data-dependent forget gate a_t and reads it with a query. As the original project's model
card asks ("no Q", O(B*T*D)), the state here is one number per channel and is read directly:
    s_t = a_t * s_{t-1} + k_t * v_t,   a_t = sigmoid(x_t W_a + b_a),   y_t = s_t W_O + b_O
with k, v, a of width head_size. b_a starts at 2 (a ~ 0.88: a memory of ~8 tokens).
The generation state is s of the last position.
Parameters: 3*C*S + 3*S + S*C + C, with C = n_emb, S = head_size.
"""
from typing import NamedTuple

from ..backend import array_module
from ..ops import linear_backward, linear_forward, sigmoid_backward, sigmoid_forward
from ..scans import gated_scan_backward, gated_scan_forward
from . import heads

GATE_BIAS = 2.0


class GlaCache(NamedTuple):
    x2: object  # (N, C) the input
    k: object   # (B, T, S)
    v: object   # (B, T, S)
    a: object   # (B, T, S) the forget gate
    s2: object  # (N, S) the states


def init(cfg, rt):
    p = heads.init(cfg, rt, name="kva")  # mha's sizes: k, v, a in place of q, k, v
    p["kva.bias"][2 * cfg.head_size:] = GATE_BIAS
    return p


def n_params(cfg):
    return heads.n_params(cfg)


def new_state(cfg, batch, rt):
    """The channel states of the last position (None before the first token)."""
    return {"s": None}


def forward(p, x, cfg, rt, state=None):
    B, T, C = x.shape
    x2 = x.reshape(B * T, C)                                             # (N, C)
    kva = linear_forward(x2, p["kva.weight"], p["kva.bias"]).reshape(B, T, 3, -1)
    k, v = kva[:, :, 0], kva[:, :, 1]                                    # (B, T, S) views
    a = sigmoid_forward(kva[:, :, 2])                                    # (B, T, S) forget gate
    u = k * v                                                            # (B, T, S)
    s = gated_scan_forward(a, u, None if state is None else state["s"])  # (B, T, S)
    if state is not None:
        state["s"] = s[:, -1]
    s2 = s.reshape(B * T, -1)                                            # (N, S)
    out = linear_forward(s2, p["proj.weight"], p["proj.bias"])           # (N, C)
    cache = None if state is not None else GlaCache(x2, k, v, a, s2)
    return out.reshape(B, T, C), cache


def backward(p, dy, cache):
    c = cache
    B, T, S = c.k.shape
    ds, dw_proj, db_proj = linear_backward(dy.reshape(B * T, -1), c.s2, p["proj.weight"])
    da, du = gated_scan_backward(ds.reshape(B, T, S), c.a, c.s2.reshape(B, T, S))
    dkva = array_module(du).empty((B, T, 3, S), dtype=du.dtype)          # (N, 3*S) as 4-D
    dkva[:, :, 0] = du * c.v
    dkva[:, :, 1] = du * c.k
    dkva[:, :, 2] = sigmoid_backward(da, c.a)
    dx, dw_kva, db_kva = linear_backward(dkva.reshape(B * T, 3 * S), c.x2, p["kva.weight"])
    grads = {"kva.weight": dw_kva, "kva.bias": db_kva, "proj.weight": dw_proj, "proj.bias": db_proj}
    return dx.reshape(B, T, -1), grads
