"""`swh`: switch-head attention — every head is computed, a gate picks one head per
token (top-1) and only that head's output goes through the output projection.

Routing as in the Switch Transformer (Fedus et al. 2021, "Switch Transformers"), with
heads as the experts and, as the original project's model card asks, a straight-through
gradient (Bengio et al. 2013): the forward pass uses the one-hot mask
m = onehot(argmax(x W_g + b_g)) unscaled, y = [m_1 o_1, ..., m_h o_h] W_O + b_O; the
backward pass treats m as if it were p = softmax(x W_g + b_g), so the gate gets
d z = p * (d m - sum(d m * p)). That is not the true derivative (which is 0 for the gate:
argmax is piecewise constant), it is the estimator that lets the gate learn; every other
gradient is exact given the routing. The maths is gated_heads.py's (moh shares it).
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
    """Gate logits z (N, h) -> the mask used forward (one-hot of the top head, (N, h)) and
    the probabilities whose Jacobian carries the gradient backward (softmax, (N, h))."""
    m = (z == z.max(axis=-1, keepdims=True)).astype(z.dtype)
    return m, softmax_forward(z)


def forward(p, x, cfg, rt, state=None):
    return gated_heads.gated_heads_forward(p, x, cfg, rt, state, route)


def backward(p, dy, cache):
    return gated_heads.gated_heads_backward(p, dy, cache)
