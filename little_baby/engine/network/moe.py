"""`moe`: mixture of experts — n_experts GELU MLPs, mixed per token by a softmax gate.

Dense (soft) routing, as the original project's model card describes ("dense routing to
all E experts"): the gate of the sparsely-gated mixture of experts (Shazeer et al. 2017,
"Outrageously Large Neural Networks") without the top-k cut, so every expert runs and
every gradient is exact:
    y = sum_e g_e(x) * (GELU(x U_e + c_e) D_e + d_e),   g = softmax(x W_g + b_g)
Each expert is an `mlp` of hidden width H = n_hidden * n_emb. The experts' up
projections sit side by side in one (C, E*H) matrix and their down projections on top
of each other in one (E*H, C) matrix, so each is a single 2-D matmul: the gate scales
each expert's hidden units before the shared down projection.
Parameters: C*E + E + E*(2*C*H + H + C), with C = n_emb, E = n_experts.
"""
from typing import NamedTuple

from ..ops import (gelu_backward, gelu_forward, linear_backward, linear_forward,
                   softmax_backward, softmax_forward)


class MoeCache(NamedTuple):
    x2: object     # (N, C) the input
    g: object      # (N, E) the gate's weights
    hid: object    # (N, E*H) every expert's hidden units
    hg: object     # (N, E*H) the hidden units scaled by their expert's weight
    gelu: tuple    # gelu_forward's cache


def init(cfg, rt):
    C, H, E = cfg.n_emb, cfg.n_hidden * cfg.n_emb, cfg.n_experts
    xp, dt = rt.xp, rt.backend.dtype
    return {
        "gate.weight": rt.normal((C, E), 0.02),
        "gate.bias": xp.zeros(E, dtype=dt),
        "up.weight": rt.normal((C, E * H), 0.02),
        "up.bias": xp.zeros(E * H, dtype=dt),
        "down.weight": rt.normal((E * H, C), 0.02 / (2 * cfg.n_layers) ** 0.5),
        "down.bias": xp.zeros((E, C), dtype=dt),
    }


def n_params(cfg):
    C, H, E = cfg.n_emb, cfg.n_hidden * cfg.n_emb, cfg.n_experts
    return C * E + E + E * (2 * C * H + H + C)


def new_state(cfg, batch, rt):
    return None


def forward(p, x, cfg, rt, state=None):
    B, T, C = x.shape
    E = cfg.n_experts
    x2 = x.reshape(B * T, C)                                             # (N, C)
    g = softmax_forward(linear_forward(x2, p["gate.weight"], p["gate.bias"]))   # (N, E)
    u = linear_forward(x2, p["up.weight"], p["up.bias"])                 # (N, E*H)
    hid, gelu_cache = gelu_forward(u)                                    # (N, E*H)
    hg = (hid.reshape(B * T, E, -1) * g[:, :, None]).reshape(B * T, -1)  # (N, E*H) gated
    y = linear_forward(hg, p["down.weight"])                             # (N, C)
    y += g @ p["down.bias"]                                              # sum_e g_e d_e
    return y.reshape(B, T, C), MoeCache(x2, g, hid, hg, gelu_cache)


def backward(p, dy, cache):
    c = cache
    B, T, C = dy.shape
    N, E = c.g.shape
    dy2 = dy.reshape(N, C)
    dhg, dw_down, _ = linear_backward(dy2, c.hg, p["down.weight"], with_bias=False)   # (N, E*H)
    dhg = dhg.reshape(N, E, -1)                                          # (N, E, H)
    dg = (dhg * c.hid.reshape(N, E, -1)).sum(axis=-1)                    # (N, E)
    dg += dy2 @ p["down.bias"].T
    dhid = (dhg * c.g[:, :, None]).reshape(N, -1)                        # (N, E*H)
    du = gelu_backward(dhid, c.gelu)
    dx, dw_up, db_up = linear_backward(du, c.x2, p["up.weight"])
    dx_gate, dw_gate, db_gate = linear_backward(softmax_backward(dg, c.g), c.x2, p["gate.weight"])
    dx += dx_gate
    grads = {"gate.weight": dw_gate, "gate.bias": db_gate, "up.weight": dw_up, "up.bias": db_up,
             "down.weight": dw_down, "down.bias": c.g.T @ dy2}
    return dx.reshape(B, T, C), grads
