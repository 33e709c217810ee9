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
from ..ops import softmax_forward
from .moh import backward, init, mixed_heads_forward, n_params, new_state  # noqa: F401  (as moh)


def route(z):
    """Gate logits z (N, h) -> the mask used forward (one-hot of the top head, (N, h)) and
    the probabilities whose Jacobian carries the gradient backward (softmax, (N, h))."""
    m = (z == z.max(axis=-1, keepdims=True)).astype(z.dtype)
    return m, softmax_forward(z)


def forward(p, x, cfg, rt, state=None):
    return mixed_heads_forward(p, x, cfg, rt, state, route)
