"""Heads weighted per token by a gate: the maths that moh and swh share.

Every head is computed (heads.py); a gate z = x W_g + b_g (N, h) is turned by the
variant's `route` into m (the weights that scale each head's output forward) and p (the
probabilities softmax(z) whose Jacobian carries the gradient back to z):
    y = [m_1 o_1, ..., m_h o_h] W_O + b_O,   dz = p * (dm - sum(dm * p))
moh routes softly (m = p, exact gradients); swh picks one head (m one-hot, a
straight-through gradient). The generation state is mha's KV cache.
Parameters: 3*C*S + 3*S + C*h + h + S*C + C, with C = n_emb, S = head_size, h = n_heads.
"""
from typing import NamedTuple

from ..ops import linear_backward, linear_forward, softmax_backward
from .heads import heads_backward, heads_forward, input_projection, output_projection
from .kv_cache import new_kv_state


class GatedHeadsCache(NamedTuple):
    x2: object      # (N, C) the input
    heads: tuple    # heads_forward's cache
    o: object       # (B, T, h, d) each head's output
    m: object       # (N, h) the weights that scaled the heads
    prob: object    # (N, h) softmax of the gate: its Jacobian carries the gradient
    mixed: object   # (N, S) the scaled heads side by side


def init(cfg, rt):
    C, h = cfg.n_emb, cfg.n_heads
    return {**input_projection(cfg, rt),
            "gate.weight": rt.normal((C, h), 0.02),
            "gate.bias": rt.xp.zeros(h, dtype=rt.backend.dtype),
            **output_projection(cfg, rt)}


def n_params(cfg):
    C, S, h = cfg.n_emb, cfg.head_size, cfg.n_heads
    return 3 * C * S + 3 * S + C * h + h + S * C + C


def new_state(cfg, batch, rt):
    return new_kv_state(cfg, batch, rt, cfg.n_heads)


def gated_heads_forward(p, x, cfg, rt, state, route):
    """x (B, T, C) -> y (B, T, C), cache (None with `state`); route(z) -> m, prob."""
    B, T, C = x.shape
    h, d = cfg.n_heads, cfg.head_dim
    x2 = x.reshape(B * T, C)                                             # (N, C)
    y, heads_cache = heads_forward(p, x2, B, T, cfg, rt, state)          # (B, h, T, d)
    o = y.transpose(0, 2, 1, 3)                                          # (B, T, h, d) view
    m, prob = route(linear_forward(x2, p["gate.weight"], p["gate.bias"]))   # (N, h) each
    mixed = (o * m.reshape(B, T, h, 1)).reshape(B * T, h * d)            # (N, S)
    out = linear_forward(mixed, p["proj.weight"], p["proj.bias"])        # (N, C)
    cache = None if state is not None else GatedHeadsCache(x2, heads_cache, o, m, prob, mixed)
    return out.reshape(B, T, C), cache


def gated_heads_backward(p, dy, cache):
    """dy (B, T, C) -> dx (B, T, C), grads; the gate's gradient through softmax at `prob`."""
    c = cache
    B, T, h, d = c.o.shape
    dmixed, dw_proj, db_proj = linear_backward(dy.reshape(B * T, -1), c.mixed, p["proj.weight"])
    dmixed = dmixed.reshape(B, T, h, d)                                  # (B, T, h, d)
    dm = (dmixed * c.o).sum(axis=-1).reshape(B * T, h)                   # (N, h)
    do = dmixed * c.m.reshape(B, T, h, 1)                                # (B, T, h, d)
    dz = softmax_backward(dm, c.prob)                                    # (N, h)
    dx_gate, dw_gate, db_gate = linear_backward(dz, c.x2, p["gate.weight"])
    dx, dw_qkv, db_qkv = heads_backward(p, do.transpose(0, 2, 1, 3), c.heads)
    dx += dx_gate
    grads = {"qkv.weight": dw_qkv, "qkv.bias": db_qkv, "gate.weight": dw_gate,
             "gate.bias": db_gate, "proj.weight": dw_proj, "proj.bias": db_proj}
    return dx.reshape(B, T, -1), grads
