"""`gla` (also `lda`): gated linear attention — no queries and no QK^T: each channel
keeps a decaying running sum of k * v, O(T) in time and O(1) per generated token.

Gated linear attention (Yang et al. 2024, "Gated Linear Attention Transformers with
Hardware-Efficient Training") keeps a state S_t = diag(a_t) S_{t-1} + k_t^T v_t with a
data-dependent forget gate a_t and reads it with a query. As the seed asks ("no Q",
O(B*T*D)), the state here is one number per channel and is read directly:
    s_t = a_t * s_{t-1} + k_t * v_t,   a_t = sigmoid(x_t W_a + b_a),   y_t = s_t W_O + b_O
with k, v, a of width head_size. b_a starts at 2 (a ~ 0.88: a memory of ~8 tokens).
The generation state is s of the last position.
Parameters: 3*C*S + 3*S + S*C + C, with C = n_emb, S = head_size.
"""
from ..backend import array_module
from ..ops import linear_backward, linear_forward
from .common import gated_scan_backward, gated_scan_forward, sigmoid
from .mha import n_params  # noqa: F401  (the same sizes as mha: k, v, a in place of q, k, v)

GATE_BIAS = 2.0


def init(cfg, rt):
    C, S = cfg.n_emb, cfg.head_size
    xp, dt = rt.xp, rt.backend.dtype
    bias = xp.zeros(3 * S, dtype=dt)
    bias[2 * S:] = GATE_BIAS
    return {
        "kva.weight": rt.normal((C, 3 * S), 0.02),
        "kva.bias": bias,
        "proj.weight": rt.normal((S, C), 0.02 / (2 * cfg.n_layers) ** 0.5),
        "proj.bias": xp.zeros(C, dtype=dt),
    }


def new_state(cfg, batch, rt):
    """The channel states of the last position (None before the first token)."""
    return {"s": None}


def forward(p, x, cfg, rt, state=None):
    B, T, C = x.shape
    x2 = x.reshape(B * T, C)                                             # (N, C)
    kva = linear_forward(x2, p["kva.weight"], p["kva.bias"]).reshape(B, T, 3, -1)
    k, v = kva[:, :, 0], kva[:, :, 1]                                    # (B, T, S) views
    a = sigmoid(kva[:, :, 2])                                            # (B, T, S) forget gate
    u = k * v                                                            # (B, T, S)
    s = gated_scan_forward(a, u, None if state is None else state["s"])  # (B, T, S)
    if state is not None:
        state["s"] = s[:, -1]
    s2 = s.reshape(B * T, -1)                                            # (N, S)
    out = linear_forward(s2, p["proj.weight"], p["proj.bias"])           # (N, C)
    cache = None if state is not None else (x2, k, v, a, s2)
    return out.reshape(B, T, C), cache


def backward(p, dy, cache):
    x2, k, v, a, s2 = cache
    B, T, S = k.shape
    ds, dw_proj, db_proj = linear_backward(dy.reshape(B * T, -1), s2, p["proj.weight"])
    da, du = gated_scan_backward(ds.reshape(B, T, S), a, s2.reshape(B, T, S))
    dkva = array_module(du).empty((B, T, 3, S), dtype=du.dtype)          # (N, 3*S) as 4-D
    dkva[:, :, 0] = du * v
    dkva[:, :, 1] = du * k
    dkva[:, :, 2] = da * a * (1.0 - a)                                   # sigmoid'
    dx, dw_kva, db_kva = linear_backward(dkva.reshape(B * T, 3 * S), x2, p["kva.weight"])
    grads = {"kva.weight": dw_kva, "kva.bias": db_kva, "proj.weight": dw_proj, "proj.bias": db_proj}
    return dx.reshape(B, T, -1), grads
