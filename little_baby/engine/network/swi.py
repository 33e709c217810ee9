"""`swi`: SwiGLU feed-forward network, y = (swish(x W_g) * (x W_u)) W_d, swish(z) = z * sigmoid(z).

As in "GLU Variants Improve Transformer" (Shazeer 2020), without biases. The hidden
width is H = n_hidden * n_emb, as for `mlp` (the paper shrinks it by 2/3 to match mlp's
parameters; here n_hidden says the width). W_g and W_u sit side by side in one matrix.
Parameters: 3*C*H, with C = n_emb.
"""
from typing import NamedTuple

from ..backend import array_module
from ..ops import linear_backward, linear_forward, sigmoid_forward


class SwiCache(NamedTuple):
    x2: object   # (N, C) the input
    z: object    # (N, H) the gate's pre-activation
    u: object    # (N, H) the linear unit
    sz: object   # (N, H) sigmoid(z)
    hid: object  # (N, H) swish(z) * u


def init(cfg, rt):
    C, H = cfg.n_emb, cfg.n_hidden * cfg.n_emb
    return {
        "up.weight": rt.normal((C, 2 * H), 0.02),
        "down.weight": rt.normal((H, C), 0.02 / (2 * cfg.n_layers) ** 0.5),
    }


def n_params(cfg):
    C, H = cfg.n_emb, cfg.n_hidden * cfg.n_emb
    return 3 * C * H


def new_state(cfg, batch, rt):
    return None


def forward(p, x, cfg, rt, state=None):
    B, T, C = x.shape
    x2 = x.reshape(B * T, C)                                             # (N, C)
    gu = linear_forward(x2, p["up.weight"])                              # (N, 2*H)
    H = gu.shape[1] // 2
    z, u = gu[:, :H], gu[:, H:]                                          # (N, H) views
    sz = sigmoid_forward(z)
    hid = z * sz
    hid *= u                                                             # (N, H)
    y = linear_forward(hid, p["down.weight"])                            # (N, C)
    return y.reshape(B, T, C), SwiCache(x2, z, u, sz, hid)


def backward(p, dy, cache):
    c = cache
    B, T, C = dy.shape
    dhid, dw_down, _ = linear_backward(dy.reshape(B * T, C), c.hid, p["down.weight"], with_bias=False)
    N, H = dhid.shape
    dgu = array_module(dy).empty((N, 2 * H), dtype=dy.dtype)
    dgu[:, H:] = dhid * c.z * c.sz                                       # d u = dhid * swish(z)
    dgu[:, :H] = dhid * c.u * c.sz * (1.0 + c.z * (1.0 - c.sz))          # swish'(z) = s (1 + z (1 - s))
    dx, dw_up, _ = linear_backward(dgu, c.x2, p["up.weight"], with_bias=False)
    return dx.reshape(B, T, C), {"up.weight": dw_up, "down.weight": dw_down}
