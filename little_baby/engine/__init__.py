"""The engine: the whole transformer in NumPy (CuPy on a GPU), forward and backward by
hand. It reads no files and knows no Hub: arrays in, arrays out.

Reading order for a learner:
    reference.py    the model (mha + mlp, pre and post) as a dozen plain functions: the maths
    ops.py          every operation as a forward/backward pair
    attention/      attention variants (sdpa.py: causal scaled dot-product attention;
                    heads.py, gated_heads.py, kv_cache.py: what the variants share)
    network/        feed-forward variants
    scans.py        the causal average (AFT) and the gated scan (GLA) some variants use
    block.py        one block: two residual sub-layers, pre- or post-norm
    transformer.py  parameters, forward, backward, one-position step
    parallel.py     a training step's batch on all cores
    optim.py        AdamW, the learning-rate schedule, clipping
    sampling.py     temperature, top-k, top-p and the KV-cached generation loop
    backend.py, runtime.py   NumPy or CuPy; what one pass needs besides the weights
"""
