"""`ggl`: grouped gated linear network — a gated linear unit for each group of
n_emb / n_groups channels, then a channel shuffle that interleaves the groups' outputs.

A grouped GLU (Dauphin et al. 2017) with the channel shuffle of ShuffleNet (Zhang et al.
2018, "ShuffleNet"). Group i maps its g = n_emb / n_groups channels x_i to
(x_i W_i + b_i) * sigmoid(x_i V_i + c_i), W_i and V_i g x g; output channel j*G + i is
unit j of group i, so every group of the next layer's input holds channels from all
groups. No expansion: G times fewer weights than `gln`. The weight is stored 2-D,
(C, 2g): rows i*g .. i*g+g-1 are group i's [W_i | V_i]; n_groups must divide n_emb.
Parameters: 2*C*C/G + 2*C, with C = n_emb, G = n_groups.
"""
from ..backend import array_module
from ..ops import sigmoid_backward, sigmoid_forward


def init(cfg, rt):
    C, G = cfg.n_emb, cfg.n_groups
    return {
        "proj.weight": rt.normal((C, 2 * C // G), 0.02 / (2 * cfg.n_layers) ** 0.5),
        "proj.bias": rt.xp.zeros(2 * C, dtype=rt.backend.dtype),
    }


def n_params(cfg):
    C, G = cfg.n_emb, cfg.n_groups
    return 2 * C * C // G + 2 * C


def new_state(cfg, batch, rt):
    return None


def forward(p, x, cfg, rt, state=None):
    B, T, C = x.shape
    G = cfg.n_groups
    g = C // G
    xg = x.reshape(B * T, G, g).transpose(1, 0, 2)                       # (G, N, g)
    lg = xg @ p["proj.weight"].reshape(G, g, 2 * g)                      # (G, N, 2g) per group
    lg += p["proj.bias"].reshape(G, 1, 2 * g)
    lin, sg = lg[:, :, :g], sigmoid_forward(lg[:, :, g:])                # (G, N, g) each
    y = (lin * sg).transpose(1, 2, 0)                                    # (N, g, G): shuffled
    return y.reshape(B, T, C), (xg, lin, sg)


def backward(p, dy, cache):
    xg, lin, sg = cache
    B, T, C = dy.shape
    G, N, g = xg.shape
    dyg = dy.reshape(N, g, G).transpose(2, 0, 1)                         # (G, N, g): unshuffled
    dlg = array_module(dy).empty((G, N, 2 * g), dtype=dy.dtype)
    dlg[:, :, :g] = dyg * sg
    dlg[:, :, g:] = sigmoid_backward(dyg * lin, sg)
    dw = xg.transpose(0, 2, 1) @ dlg                                     # (G, g, 2g)
    dxg = dlg @ p["proj.weight"].reshape(G, g, 2 * g).transpose(0, 2, 1)  # (G, N, g)
    dx = dxg.transpose(1, 0, 2).reshape(B, T, C)
    return dx, {"proj.weight": dw.reshape(C, 2 * g), "proj.bias": dlg.sum(axis=1).reshape(2 * C)}
