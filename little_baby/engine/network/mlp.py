"""`mlp`: the GPT-2 feed-forward network, x -> GELU(x W_up + b_up) W_down + b_down.

Hidden width H = n_hidden * n_emb (4x by default).
Parameters: 2*C*H + H + C.
"""
from ..ops import gelu_backward, gelu_forward, linear_backward, linear_forward


def init(cfg, rt):
    C, H = cfg.n_emb, cfg.n_hidden * cfg.n_emb
    xp, dt = rt.xp, rt.backend.dtype
    return {
        "up.weight": rt.normal((C, H), 0.02),
        "up.bias": xp.zeros(H, dtype=dt),
        "down.weight": rt.normal((H, C), 0.02 / (2 * cfg.n_layers) ** 0.5),
        "down.bias": xp.zeros(C, dtype=dt),
    }


def n_params(cfg):
    C, H = cfg.n_emb, cfg.n_hidden * cfg.n_emb
    return 2 * C * H + H + C


def new_state(cfg, batch, rt):
    return None


def forward(p, x, cfg, rt, state=None):
    B, T, C = x.shape
    x2 = x.reshape(B * T, C)                                  # (N, C)
    u = linear_forward(x2, p["up.weight"], p["up.bias"])      # (N, H)
    h, gelu_cache = gelu_forward(u)                           # (N, H)
    y = linear_forward(h, p["down.weight"], p["down.bias"])   # (N, C)
    return y.reshape(B, T, C), (x2, h, gelu_cache)


def step(p, x, cfg, rt, state):
    """One position (generation): x (C,) -> (C,)."""
    h, _ = gelu_forward(linear_forward(x, p["up.weight"], p["up.bias"]))
    return linear_forward(h, p["down.weight"], p["down.bias"])


def backward(p, dy, cache):
    x2, h, gelu_cache = cache
    B, T, C = dy.shape
    dh, dw_down, db_down = linear_backward(dy.reshape(B * T, C), h, p["down.weight"])
    du = gelu_backward(dh, gelu_cache)
    dx, dw_up, db_up = linear_backward(du, x2, p["up.weight"])
    grads = {"up.weight": dw_up, "up.bias": db_up, "down.weight": dw_down, "down.bias": db_down}
    return dx.reshape(B, T, C), grads
