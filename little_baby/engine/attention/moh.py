"""`moh`: mixture-of-heads attention — every head is computed, a softmax gate per token
weights the heads before the output projection.

After MoH (Jin et al. 2024, "MoH: Multi-Head Attention as Head Routing Mixture-of-Heads
Attention"), with the dense routing of the original project's model card: the gate
g = softmax(x W_g + b_g) over the n_heads heads (no top-k), y = [g_1 o_1, ..., g_h o_h]
W_O + b_O, where o_i is mha's head i. The maths is gated_heads.py's (swh shares it).
Parameters: 3*C*S + 3*S + C*h + h + S*C + C, with C = n_emb, S = head_size, h = n_heads.
"""
from ..ops import softmax_forward
from . import gated_heads


def init(cfg, rt):
    return gated_heads.init(cfg, rt)


def n_params(cfg):
    return gated_heads.n_params(cfg)


def new_state(cfg, batch, rt):
    return gated_heads.new_state(cfg, batch, rt)


def route(z):
    """Gate logits z (N, h) -> the weights that mix the heads (forward) and the
    probabilities whose Jacobian carries the gradient back: both softmax(z) here."""
    g = softmax_forward(z)
    return g, g


def forward(p, x, cfg, rt, state=None):
    return gated_heads.gated_heads_forward(p, x, cfg, rt, state, route)


def backward(p, dy, cache):
    return gated_heads.gated_heads_backward(p, dy, cache)
