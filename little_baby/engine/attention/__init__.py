"""Attention variants, looked up by name (`c_attention`).

Each variant is a module with:
    init(cfg, rt) -> dict of its parameters (short keys such as "qkv.weight")
    forward(p, x, cfg, rt, state=None) -> y (B, T, C), cache
        x (B, T, C) -> y (B, T, C), causal: position t sees positions <= t only.
        With `state` (generation) the new positions attend to the cached ones too,
        `state` is updated in place and `cache` is None.
    backward(p, dy, cache) -> dx (B, T, C), grads (same keys as p)
    new_state(cfg, batch, rt) -> an empty generation state (a KV cache)
    n_params(cfg) -> int, the size formula from the module's docstring
    step(p, x, cfg, rt, state) -> y (C,)   optional: one new position x (C,) in generation,
        the same maths as forward with T = 1 on vectors; without it the model runs
        forward on a (1, 1, C) array
A new variant is one file here and one line in ATTENTIONS.

The other modules here are what variants share, not variants: sdpa.py (causal scaled
dot-product attention), heads.py (the heads and the projections around them),
gated_heads.py (heads weighted by a gate: moh, swh) and kv_cache.py (generation's cache).
"""
from . import aft, gla, gqa, mha, moh, rfa, swh

ATTENTIONS = {
    "mha": mha,
    "moh": moh,
    "gqa": gqa,
    "swh": swh,
    "gla": gla,
    "rfa": rfa,
    "aft": aft,
}
