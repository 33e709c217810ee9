"""`mha`: causal multi-head self-attention (Vaswani et al. 2017, as in GPT-2).

x is projected to queries, keys and values of width head_size (one fused matrix, as
GPT-2's c_attn), split into n_heads heads of head_size / n_heads channels, each head
attends causally, the heads are concatenated and projected back to n_emb.
Scores are divided by sqrt(head_dim) and by r_temp.
Parameters: 3*C*S + 3*S + S*C + C, with C = n_emb and S = head_size.
"""
from ..backend import array_module
from ..ops import linear_backward, linear_forward
from .sdpa import sdpa_backward, sdpa_forward, sdpa_step


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


# ---- the KV cache (generation) ----------------------------------------------------------
def new_kv_state(cfg, batch, rt, heads):
    """An empty KV cache: keys and values (B, heads, n_ctx, d) and the filled length t."""
    shape = (batch, heads, cfg.n_ctx, cfg.head_dim)
    return {"k": rt.xp.empty(shape, rt.backend.dtype), "v": rt.xp.empty(shape, rt.backend.dtype),
            "t": 0}


def append_kv(state, k, v):
    """Write new keys/values (B, h, T, d) into the cache -> offset, all keys, all values."""
    offset, end = state["t"], state["t"] + k.shape[2]
    state["k"][:, :, offset:end] = k
    state["v"][:, :, offset:end] = v
    state["t"] = end
    return offset, state["k"][:, :, :end], state["v"][:, :, :end]


# ---- the heads: projections to q, k, v and causal attention per head ----------------------
def heads_forward(p, x2, B, T, cfg, rt, state=None):
    """x2 (N, C) -> each head's causal attention output (B, h, T, d), cache
    (moh and swh mix these heads their own way)."""
    h, d = cfg.n_heads, cfg.head_dim
    qkv = linear_forward(x2, p["qkv.weight"], p["qkv.bias"])        # (N, 3*S)
    qkv = qkv.reshape(B, T, 3, h, d).transpose(2, 0, 3, 1, 4)       # (3, B, h, T, d) view
    q, k, v = qkv[0], qkv[1], qkv[2]
    offset = 0
    if state is not None:  # generation: the new keys/values join the cached ones
        offset, k, v = append_kv(state, k, v)
    y, sdpa_cache = sdpa_forward(q, k, v, 1.0 / (d ** 0.5 * cfg.r_temp), rt, offset)
    return y, (x2, sdpa_cache)


def heads_backward(p, dy, cache):
    """dy (B, h, T, d) -> dx2 (N, C), d qkv.weight, d qkv.bias"""
    x2, sdpa_cache = cache
    B, h, T, d = dy.shape
    dq, dk, dv = sdpa_backward(dy, sdpa_cache)                      # (B, h, T, d) each
    dqkv = array_module(dy).empty((B, T, 3, h, d), dtype=dy.dtype)  # (N, 3*S) as 5-D
    dqkv[:, :, 0] = dq.transpose(0, 2, 1, 3)
    dqkv[:, :, 1] = dk.transpose(0, 2, 1, 3)
    dqkv[:, :, 2] = dv.transpose(0, 2, 1, 3)
    return linear_backward(dqkv.reshape(B * T, 3 * h * d), x2, p["qkv.weight"])


# ---- mha: the heads side by side, projected back to n_emb ------------------------------------
def forward(p, x, cfg, rt, state=None):
    B, T, C = x.shape
    x2 = x.reshape(B * T, C)                                        # (N, C)
    y, heads_cache = heads_forward(p, x2, B, T, cfg, rt, state)     # (B, h, T, d)
    y2 = y.transpose(0, 2, 1, 3).reshape(B * T, -1)                 # (N, S) heads side by side
    out = linear_forward(y2, p["proj.weight"], p["proj.bias"])      # (N, C)
    cache = None if state is not None else (y2, cfg.n_heads, heads_cache)
    return out.reshape(B, T, C), cache


def step(p, x, cfg, rt, state):
    """One new position (generation): x (C,) -> (C,); forward() for T = 1, on vectors."""
    h, d = cfg.n_heads, cfg.head_dim
    q, k, v = linear_forward(x, p["qkv.weight"], p["qkv.bias"]).reshape(3, h, d)
    y = sdpa_step(q[:, None], k, v, 1.0 / (d ** 0.5 * cfg.r_temp), rt, state)  # (h, 1, d)
    return linear_forward(y.reshape(-1), p["proj.weight"], p["proj.bias"])


def backward(p, dy, cache):
    y2, h, heads_cache = cache
    B, T, C = dy.shape
    dy2, dw_proj, db_proj = linear_backward(dy.reshape(B * T, C), y2, p["proj.weight"])
    dyh = dy2.reshape(B, T, h, -1).transpose(0, 2, 1, 3)            # (B, h, T, d)
    dx, dw_qkv, db_qkv = heads_backward(p, dyh, heads_cache)
    grads = {"qkv.weight": dw_qkv, "qkv.bias": db_qkv, "proj.weight": dw_proj, "proj.bias": db_proj}
    return dx.reshape(B, T, C), grads
