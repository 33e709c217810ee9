"""`mha`: causal multi-head self-attention (Vaswani et al. 2017, as in GPT-2).

x is projected to queries, keys and values of width head_size (one fused matrix, as
GPT-2's c_attn), split into n_heads heads of head_size / n_heads channels, each head
attends causally, the heads are concatenated and projected back to n_emb (heads.py).
Scores are divided by sqrt(head_dim) and by r_temp. The generation state is a KV cache.
Parameters: 3*C*S + 3*S + S*C + C, with C = n_emb and S = head_size.
"""
from ..ops import linear_backward, linear_forward
from . import heads
from .kv_cache import append_position, new_kv_state
from .sdpa import sdpa_step


def init(cfg, rt):
    return heads.init(cfg, rt)


def n_params(cfg):
    return heads.n_params(cfg)


def new_state(cfg, batch, rt):
    return new_kv_state(cfg, batch, rt, cfg.n_heads)


def forward(p, x, cfg, rt, state=None):
    B, T, C = x.shape
    x2 = x.reshape(B * T, C)                                        # (N, C)
    y, heads_cache = heads.heads_forward(p, x2, B, T, cfg, rt, state)   # (B, h, T, d)
    y2 = y.transpose(0, 2, 1, 3).reshape(B * T, -1)                 # (N, S) heads side by side
    out = linear_forward(y2, p["proj.weight"], p["proj.bias"])      # (N, C)
    cache = None if state is not None else (y2, cfg.n_heads, heads_cache)
    return out.reshape(B, T, C), cache


def step(p, x, cfg, rt, state):
    """One new position (generation): x (C,) -> (C,); forward() for T = 1, on vectors."""
    h, d = cfg.n_heads, cfg.head_dim
    qkv = linear_forward(x, p["qkv.weight"], p["qkv.bias"]).reshape(3, h, d)
    q, k, v = qkv[0], qkv[1], qkv[2]                                # (h, d) each
    keys, values = append_position(state, k, v)                     # (h, t+1, d)
    y = sdpa_step(q[:, None], keys, values, 1.0 / (d ** 0.5 * cfg.r_temp), rt)  # (h, 1, d)
    return linear_forward(y.reshape(-1), p["proj.weight"], p["proj.bias"])


def backward(p, dy, cache):
    y2, h, heads_cache = cache
    B, T, C = dy.shape
    dy2, dw_proj, db_proj = linear_backward(dy.reshape(B * T, C), y2, p["proj.weight"])
    dyh = dy2.reshape(B, T, h, -1).transpose(0, 2, 1, 3)            # (B, h, T, d)
    dx, dw_qkv, db_qkv = heads.heads_backward(p, dyh, heads_cache)
    grads = {"qkv.weight": dw_qkv, "qkv.bias": db_qkv, "proj.weight": dw_proj, "proj.bias": db_proj}
    return dx.reshape(B, T, C), grads
