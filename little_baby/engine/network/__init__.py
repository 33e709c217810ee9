"""Feed-forward (network) variants, looked up by name (`c_network`).

Each variant is a module with:
    init(cfg, rt) -> dict of its parameters (short keys such as "up.weight")
    forward(p, x, cfg, rt, state=None) -> y (B, T, C), cache
        position-wise, or causal when it mixes positions; `state` as for attention
    backward(p, dy, cache) -> dx (B, T, C), grads (same keys as p)
    new_state(cfg, batch, rt) -> an empty generation state (None when stateless)
    n_params(cfg) -> int, the size formula from the module's docstring
    step(p, x, cfg, rt, state) -> y (C,)   optional: forward for one position x (C,)
A new variant is one file here and one line in NETWORKS.
"""
from . import ggl, gln, lor, mlp, moe, nft, swi

NETWORKS = {
    "mlp": mlp,
    "moe": moe,
    "lor": lor,
    "swi": swi,
    "gln": gln,
    "ggl": ggl,
    "nft": nft,
}
