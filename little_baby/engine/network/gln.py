"""`gln` (also `lin`): gated linear network, y = (x W + b) * sigmoid(x V + c), no expansion.

The gated linear unit (Dauphin et al. 2017, "Language Modeling with Gated Convolutional
Networks") as a position-wise C -> C layer: one linear projection, one sigmoid gate
projection (always on), their element-wise product. W and V sit side by side in one
matrix.
Parameters: 2*C*C + 2*C, with C = n_emb.
"""
from ..backend import array_module
from ..ops import linear_backward, linear_forward, sigmoid_backward, sigmoid_forward


def init(cfg, rt):
    C = cfg.n_emb
    return {
        "proj.weight": rt.normal((C, 2 * C), 0.02 / (2 * cfg.n_layers) ** 0.5),
        "proj.bias": rt.xp.zeros(2 * C, dtype=rt.backend.dtype),
    }


def n_params(cfg):
    C = cfg.n_emb
    return 2 * C * C + 2 * C


def new_state(cfg, batch, rt):
    return None


def forward(p, x, cfg, rt, state=None):
    B, T, C = x.shape
    x2 = x.reshape(B * T, C)                                             # (N, C)
    lg = linear_forward(x2, p["proj.weight"], p["proj.bias"])            # (N, 2*C)
    lin, sg = lg[:, :C], sigmoid_forward(lg[:, C:])                      # (N, C) each
    return (lin * sg).reshape(B, T, C), (x2, lin, sg)


def backward(p, dy, cache):
    x2, lin, sg = cache
    B, T, C = dy.shape
    dy2 = dy.reshape(B * T, C)
    dlg = array_module(dy).empty((B * T, 2 * C), dtype=dy.dtype)
    dlg[:, :C] = dy2 * sg
    dlg[:, C:] = sigmoid_backward(dy2 * lin, sg)
    dx, dw, db = linear_backward(dlg, x2, p["proj.weight"])
    return dx.reshape(B, T, C), {"proj.weight": dw, "proj.bias": db}
