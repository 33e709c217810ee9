"""`nft`: network-free transformer block — the feed-forward network replaced by a causal
mixing of positions with cumulative sums: no expansion and no QK^T.

AFT-simple, causal (Zhai et al. 2021, "An Attention Free Transformer") with its query
gate, as the network variant of the original project's model card has it ("q_proj for
sigmoid gating + exp/clip + cumsum"):
    y_t = (sigmoid(q_t) * sum_{j<=t} exp(k_j) * v_j / sum_{j<=t} exp(k_j)) W_O + b_O
with q, k, v of width n_emb and k clipped to [-20, 20] before exp. Unlike the other
networks it mixes positions, causally; its generation state is the two running sums.
Parameters: 3*C*C + 3*C + C*C + C, with C = n_emb.
"""
from typing import NamedTuple

from ..backend import array_module
from ..ops import linear_backward, linear_forward, sigmoid_backward, sigmoid_forward
from ..scans import causal_average_backward, causal_average_forward, new_average_state


class NftCache(NamedTuple):
    x2: object         # (N, C) the input
    sq: object         # (B, T, C) the query gate sigmoid(q)
    avg: object        # (B, T, C) the causal averages
    y2: object         # (N, C) sq * avg
    average: tuple     # causal_average_forward's cache


def init(cfg, rt):
    C = cfg.n_emb
    xp, dt = rt.xp, rt.backend.dtype
    return {
        "qkv.weight": rt.normal((C, 3 * C), 0.02),
        "qkv.bias": xp.zeros(3 * C, dtype=dt),
        "proj.weight": rt.normal((C, C), 0.02 / (2 * cfg.n_layers) ** 0.5),
        "proj.bias": xp.zeros(C, dtype=dt),
    }


def n_params(cfg):
    C = cfg.n_emb
    return 3 * C * C + 3 * C + C * C + C


def new_state(cfg, batch, rt):
    return new_average_state(batch, cfg.n_emb, rt)


def forward(p, x, cfg, rt, state=None):
    B, T, C = x.shape
    x2 = x.reshape(B * T, C)                                             # (N, C)
    qkv = linear_forward(x2, p["qkv.weight"], p["qkv.bias"]).reshape(B, T, 3, C)
    sq = sigmoid_forward(qkv[:, :, 0])                                   # (B, T, C) query gate
    avg, avg_cache = causal_average_forward(qkv[:, :, 1], qkv[:, :, 2], state)   # (B, T, C)
    y2 = (sq * avg).reshape(B * T, C)                                    # (N, C)
    out = linear_forward(y2, p["proj.weight"], p["proj.bias"])           # (N, C)
    cache = None if state is not None else NftCache(x2, sq, avg, y2, avg_cache)
    return out.reshape(B, T, C), cache


def backward(p, dy, cache):
    c = cache
    B, T, C = dy.shape
    dy2, dw_proj, db_proj = linear_backward(dy.reshape(B * T, C), c.y2, p["proj.weight"])
    dy2 = dy2.reshape(B, T, C)
    dk, dv = causal_average_backward(dy2 * c.sq, c.average)              # (B, T, C) each
    dqkv = array_module(dy).empty((B, T, 3, C), dtype=dy.dtype)          # (N, 3*C) as 4-D
    dqkv[:, :, 0] = sigmoid_backward(dy2 * c.avg, c.sq)
    dqkv[:, :, 1] = dk
    dqkv[:, :, 2] = dv
    dx, dw_qkv, db_qkv = linear_backward(dqkv.reshape(B * T, 3 * C), c.x2, p["qkv.weight"])
    grads = {"qkv.weight": dw_qkv, "qkv.bias": db_qkv, "proj.weight": dw_proj, "proj.bias": db_proj}
    return dx.reshape(B, T, C), grads
