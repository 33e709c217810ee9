"""`moh`: mixture-of-heads attention — every head is computed, a softmax gate per token
weights the heads before the output projection.

After MoH (Jin et al. 2024, "MoH: Multi-Head Attention as Head Routing Mixture-of-Heads
Attention"), with the seed's dense routing: the gate g = softmax(x W_g + b_g) over the
n_heads heads (no top-k), y = [g_1 o_1, ..., g_h o_h] W_O + b_O, where o_i is mha's head i.
Parameters: 3*C*S + 3*S + C*h + h + S*C + C, with C = n_emb, S = head_size, h = n_heads.
"""
from ..ops import linear_backward, linear_forward, softmax_backward, softmax_forward
from .mha import heads_backward, heads_forward, new_kv_state


def init(cfg, rt):
    C, S, h = cfg.n_emb, cfg.head_size, cfg.n_heads
    xp, dt = rt.xp, rt.backend.dtype
    return {
        "qkv.weight": rt.normal((C, 3 * S), 0.02),
        "qkv.bias": xp.zeros(3 * S, dtype=dt),
        "gate.weight": rt.normal((C, h), 0.02),
        "gate.bias": xp.zeros(h, dtype=dt),
        "proj.weight": rt.normal((S, C), 0.02 / (2 * cfg.n_layers) ** 0.5),
        "proj.bias": xp.zeros(C, dtype=dt),
    }


def n_params(cfg):
    C, S, h = cfg.n_emb, cfg.head_size, cfg.n_heads
    return 3 * C * S + 3 * S + C * h + h + S * C + C


def new_state(cfg, batch, rt):
    return new_kv_state(cfg, batch, rt, cfg.n_heads)


def route(z):
    """Gate logits z (N, h) -> the weights that mix the heads (forward) and the
    probabilities whose Jacobian carries the gradient back: both softmax(z) here."""
    g = softmax_forward(z)
    return g, g


def forward(p, x, cfg, rt, state=None):
    return mixed_heads_forward(p, x, cfg, rt, state, route)


def mixed_heads_forward(p, x, cfg, rt, state, route):
    """The heads of mha, each scaled per token by the gate's weights m = route(x W_g + b_g),
    side by side, projected back to n_emb (moh mixes softly, swh picks one head)."""
    B, T, C = x.shape
    h, d = cfg.n_heads, cfg.head_dim
    x2 = x.reshape(B * T, C)                                             # (N, C)
    y, heads_cache = heads_forward(p, x2, B, T, cfg, rt, state)          # (B, h, T, d)
    o = y.transpose(0, 2, 1, 3)                                          # (B, T, h, d) view
    m, prob = route(linear_forward(x2, p["gate.weight"], p["gate.bias"]))   # (N, h) each
    mixed = (o * m.reshape(B, T, h, 1)).reshape(B * T, h * d)            # (N, S)
    out = linear_forward(mixed, p["proj.weight"], p["proj.bias"])        # (N, C)
    cache = None if state is not None else (x2, heads_cache, o, m, prob, mixed)
    return out.reshape(B, T, C), cache


def backward(p, dy, cache):
    """Also swh's: the gate's gradient goes through softmax's Jacobian at `prob`."""
    x2, heads_cache, o, m, prob, mixed = cache
    B, T, h, d = o.shape
    dmixed, dw_proj, db_proj = linear_backward(dy.reshape(B * T, -1), mixed, p["proj.weight"])
    dmixed = dmixed.reshape(B, T, h, d)                                  # (B, T, h, d)
    dm = (dmixed * o).sum(axis=-1).reshape(B * T, h)                     # (N, h)
    do = dmixed * m.reshape(B, T, h, 1)                                  # (B, T, h, d)
    dz = softmax_backward(dm, prob)                                      # (N, h)
    dx_gate, dw_gate, db_gate = linear_backward(dz, x2, p["gate.weight"])
    dx, dw_qkv, db_qkv = heads_backward(p, do.transpose(0, 2, 1, 3), heads_cache)
    dx += dx_gate
    grads = {"qkv.weight": dw_qkv, "qkv.bias": db_qkv, "gate.weight": dw_gate,
             "gate.bias": db_gate, "proj.weight": dw_proj, "proj.bias": db_proj}
    return dx.reshape(B, T, -1), grads
