"""The KV cache: the keys and values of every position seen so far, kept during
generation so that a new position computes only its own key and value.

A state is {"k": (B, heads, n_ctx, d), "v": (B, heads, n_ctx, d), "t": positions filled}.
mha, moh, swh and rfa keep n_heads heads, gqa its n_kv_heads shared ones.
"""


def new_kv_state(cfg, batch, rt, heads):
    """An empty KV cache for `batch` sequences of up to n_ctx positions."""
    shape = (batch, heads, cfg.n_ctx, cfg.head_dim)
    return {"k": rt.xp.empty(shape, rt.backend.dtype), "v": rt.xp.empty(shape, rt.backend.dtype),
            "t": 0}


def append_kv(state, k, v):
    """Write new keys/values (B, heads, T, d) into the cache -> offset (the position of the
    first new one), all keys, all values (B, heads, offset + T, d), views of the cache."""
    offset, end = state["t"], state["t"] + k.shape[2]
    state["k"][:, :, offset:end] = k
    state["v"][:, :, offset:end] = v
    state["t"] = end
    return offset, state["k"][:, :, :end], state["v"][:, :, :end]


def append_position(state, k, v):
    """append_kv for one new position of a batch of one, on vectors (generation's step):
    k, v (heads, d) -> all keys, all values (heads, t + 1, d), views of the cache."""
    t = state["t"]
    keys, values = state["k"][0, :, :t + 1], state["v"][0, :, :t + 1]  # (heads, t+1, d) views
    keys[:, t], values[:, t] = k, v
    state["t"] = t + 1
    return keys, values
