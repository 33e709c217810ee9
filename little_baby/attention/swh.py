"""`swh`: switch-head attention — every head is computed, a gate picks one head per
token (top-1) and only that head's output goes through the output projection.

Routing as in the Switch Transformer (Fedus et al. 2021, "Switch Transformers"), with
heads as the experts and, as the seed asks, a straight-through gradient (Bengio et al.
2013): the forward pass uses the one-hot mask m = onehot(argmax(x W_g + b_g)) unscaled,
y = [m_1 o_1, ..., m_h o_h] W_O + b_O; the backward pass treats m as if it were
p = softmax(x W_g + b_g), so the gate gets d z = p * (d m - sum(d m * p)). That is not the
true derivative (which is 0 for the gate: argmax is piecewise constant), it is the
estimator that lets the gate learn; every other gradient is exact given the routing.
Parameters: 3*C*S + 3*S + C*h + h + S*C + C, with C = n_emb, S = head_size, h = n_heads.
"""
from ..ops import linear_backward, linear_forward, softmax_backward, softmax_forward
from .mha import heads_backward, heads_forward
from .moh import init, n_params, new_state  # noqa: F401  (the same parameters as moh)


def route(z):
    """Gate logits z (N, h) -> the mask used forward (one-hot of the top head, (N, h)) and
    the probabilities whose Jacobian carries the gradient backward (softmax, (N, h))."""
    m = (z == z.max(axis=-1, keepdims=True)).astype(z.dtype)
    return m, softmax_forward(z)


def forward(p, x, cfg, rt, state=None):
    B, T, C = x.shape
    h, d = cfg.n_heads, cfg.head_dim
    x2 = x.reshape(B * T, C)                                             # (N, C)
    y, heads_cache = heads_forward(p, x2, B, T, cfg, rt, state)          # (B, h, T, d)
    o = y.transpose(0, 2, 1, 3)                                          # (B, T, h, d) view
    m, prob = route(linear_forward(x2, p["gate.weight"], p["gate.bias"]))   # (N, h) each
    chosen = (o * m.reshape(B, T, h, 1)).reshape(B * T, h * d)           # (N, S) one head on
    out = linear_forward(chosen, p["proj.weight"], p["proj.bias"])       # (N, C)
    cache = None if state is not None else (x2, heads_cache, o, m, prob, chosen)
    return out.reshape(B, T, C), cache


def backward(p, dy, cache):
    x2, heads_cache, o, m, prob, chosen = cache
    B, T, h, d = o.shape
    dchosen, dw_proj, db_proj = linear_backward(dy.reshape(B * T, -1), chosen, p["proj.weight"])
    dchosen = dchosen.reshape(B, T, h, d)                                # (B, T, h, d)
    dm = (dchosen * o).sum(axis=-1).reshape(B * T, h)                    # (N, h)
    do = dchosen * m.reshape(B, T, h, 1)                                 # (B, T, h, d)
    dz = softmax_backward(dm, prob)                                      # straight-through
    dx_gate, dw_gate, db_gate = linear_backward(dz, x2, p["gate.weight"])
    dx, dw_qkv, db_qkv = heads_backward(p, do.transpose(0, 2, 1, 3), heads_cache)
    dx += dx_gate
    grads = {"qkv.weight": dw_qkv, "qkv.bias": db_qkv, "gate.weight": dw_gate,
             "gate.bias": db_gate, "proj.weight": dw_proj, "proj.bias": db_proj}
    return dx.reshape(B, T, -1), grads
