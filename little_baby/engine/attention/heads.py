"""The attention heads and the projections around them, shared by the attention variants.

Heads (mha, moh, swh; rfa projects and splits the same way): x is projected to queries,
keys and values of width head_size S each by one fused matrix (GPT-2's c_attn), split into
n_heads heads of head_dim d = S / n_heads channels, and each head attends causally (sdpa.py).
mha puts the heads side by side; moh and swh weight them per token first (gated_heads.py).

Projections (every attention variant): an input projection x (N, C) -> (N, W), W = 3*S
unless a variant says otherwise, and the output projection (N, S) -> (N, C), initialised
as GPT-2 does (N(0, 0.02), the output scaled down by sqrt(2 * n_layers): it feeds the
residual stream).

Shapes: B batch, T time, C = n_emb, h heads, d head width, N = B*T rows.
"""
from ..backend import array_module
from ..ops import linear_backward, linear_forward
from .kv_cache import append_kv
from .sdpa import sdpa_backward, sdpa_forward


# ---- the projections' parameters ------------------------------------------------------------
def input_projection(cfg, rt, name="qkv", width=None):
    """{name}.weight (C, W) and {name}.bias (W,), W = width or 3 * head_size."""
    W = width or 3 * cfg.head_size
    return {f"{name}.weight": rt.normal((cfg.n_emb, W), 0.02),
            f"{name}.bias": rt.xp.zeros(W, dtype=rt.backend.dtype)}


def output_projection(cfg, rt):
    """proj.weight (S, C) and proj.bias (C,)."""
    C, S = cfg.n_emb, cfg.head_size
    return {"proj.weight": rt.normal((S, C), 0.02 / (2 * cfg.n_layers) ** 0.5),
            "proj.bias": rt.xp.zeros(C, dtype=rt.backend.dtype)}


def init(cfg, rt, name="qkv", width=None):
    """Both projections: the input one (W wide) and the output one."""
    return {**input_projection(cfg, rt, name, width), **output_projection(cfg, rt)}


def n_params(cfg, width=None):
    """The size of init's parameters: C*W + W + S*C + C."""
    C, S = cfg.n_emb, cfg.head_size
    W = width or 3 * S
    return C * W + W + S * C + C


# ---- the heads ------------------------------------------------------------------------------
def project_heads(p, x2, B, T, cfg):
    """x2 (N, C) -> q, k, v (B, h, T, d) each (views of one (N, 3*S) projection)."""
    h, d = cfg.n_heads, cfg.head_dim
    qkv = linear_forward(x2, p["qkv.weight"], p["qkv.bias"])        # (N, 3*S)
    qkv = qkv.reshape(B, T, 3, h, d).transpose(2, 0, 3, 1, 4)       # (3, B, h, T, d) view
    return qkv[0], qkv[1], qkv[2]


def project_heads_backward(p, x2, dq, dk, dv):
    """dq, dk, dv (B, h, T, d) -> dx2 (N, C), d qkv.weight (C, 3*S), d qkv.bias (3*S,)"""
    B, h, T, d = dq.shape
    dqkv = array_module(dq).empty((B, T, 3, h, d), dtype=dq.dtype)  # (N, 3*S) as 5-D
    dqkv[:, :, 0] = dq.transpose(0, 2, 1, 3)
    dqkv[:, :, 1] = dk.transpose(0, 2, 1, 3)
    dqkv[:, :, 2] = dv.transpose(0, 2, 1, 3)
    return linear_backward(dqkv.reshape(B * T, 3 * h * d), x2, p["qkv.weight"])


def heads_forward(p, x2, B, T, cfg, rt, state=None):
    """x2 (N, C) -> each head's causal attention output (B, h, T, d), cache.
    With `state` (a KV cache) the new keys and values join the cached ones."""
    q, k, v = project_heads(p, x2, B, T, cfg)                       # (B, h, T, d) each
    offset = 0
    if state is not None:
        offset, k, v = append_kv(state, k, v)                       # (B, h, offset + T, d)
    y, sdpa_cache = sdpa_forward(q, k, v, 1.0 / (cfg.head_dim ** 0.5 * cfg.r_temp), rt, offset)
    return y, (x2, sdpa_cache)


def heads_backward(p, dy, cache):
    """dy (B, h, T, d) -> dx2 (N, C), d qkv.weight, d qkv.bias"""
    x2, sdpa_cache = cache
    dq, dk, dv = sdpa_backward(dy, sdpa_cache)                      # (B, h, T, d) each
    return project_heads_backward(p, x2, dq, dk, dv)
