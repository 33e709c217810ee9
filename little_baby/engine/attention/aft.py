"""`aft`: attention-free transformer — no queries and no QK^T: each channel of the
output is an average of the past values weighted by exp(key), O(T) with cumulative sums.

AFT-simple, causal (Zhai et al. 2021, "An Attention Free Transformer"), without the
query gate sigmoid(Q), as the original project's model card describes it ("K/V
projections only; no Q used"):
    y_t = (sum_{j<=t} exp(k_j) * v_j / sum_{j<=t} exp(k_j)) W_O + b_O
with k and v of width head_size and k clipped to [-20, 20] before exp. (The network
variant `nft` is the same mixing with the query gate.) The generation state is the two
running sums, so each new token costs O(1).
Parameters: 2*C*S + 2*S + S*C + C, with C = n_emb, S = head_size.
"""
from ..backend import array_module
from ..ops import linear_backward, linear_forward
from ..scans import causal_average_backward, causal_average_forward, new_average_state
from . import heads


def init(cfg, rt):
    return heads.init(cfg, rt, name="kv", width=2 * cfg.head_size)


def n_params(cfg):
    return heads.n_params(cfg, width=2 * cfg.head_size)


def new_state(cfg, batch, rt):
    return new_average_state(batch, cfg.head_size, rt)


def forward(p, x, cfg, rt, state=None):
    B, T, C = x.shape
    x2 = x.reshape(B * T, C)                                             # (N, C)
    kv = linear_forward(x2, p["kv.weight"], p["kv.bias"]).reshape(B, T, 2, -1)
    y, avg_cache = causal_average_forward(kv[:, :, 0], kv[:, :, 1], state)   # (B, T, S)
    y2 = y.reshape(B * T, -1)                                            # (N, S)
    out = linear_forward(y2, p["proj.weight"], p["proj.bias"])           # (N, C)
    cache = None if state is not None else (x2, y2, avg_cache)
    return out.reshape(B, T, C), cache


def backward(p, dy, cache):
    x2, y2, avg_cache = cache
    B, T, C = dy.shape
    dy2, dw_proj, db_proj = linear_backward(dy.reshape(B * T, C), y2, p["proj.weight"])
    dk, dv = causal_average_backward(dy2.reshape(B, T, -1), avg_cache)   # (B, T, S) each
    dkv = array_module(dk).empty((B, T, 2, dk.shape[-1]), dtype=dk.dtype)  # (N, 2*S) as 4-D
    dkv[:, :, 0] = dk
    dkv[:, :, 1] = dv
    dx, dw_kv, db_kv = linear_backward(dkv.reshape(B * T, -1), x2, p["kv.weight"])
    grads = {"kv.weight": dw_kv, "kv.bias": db_kv, "proj.weight": dw_proj, "proj.bias": db_proj}
    return dx.reshape(B, T, C), grads
