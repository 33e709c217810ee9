"""Data parallelism inside one training step: the batch is cut into one shard per CPU
core, the shards run forward and backward side by side in threads (NumPy releases the
GIL in its loops and BLAS calls; Backend.map holds BLAS to one thread each), and their
gradients are combined block by block into the optimizer's flat buffer. On a GPU the
batch runs whole.
"""
from .backend import host_xp, to_host
from .optim import CPU_BLOCK
from .runtime import Runtime
from .transformer import Transformer


def shards(B, n):
    """n slices cutting the batch axis 0..B as evenly as possible."""
    edges = [B * i // n for i in range(n + 1)]
    return [slice(a, b) for a, b in zip(edges[:-1], edges[1:])]


def _kept(keep, i, params):
    """Shard i's arrays for the vocabulary-sized gradients (Transformer.VOCAB_SIZED) from
    `keep`, made on first use or when the parameters changed shape; None without keep."""
    if keep is None:
        return None
    kept = keep.setdefault(i, {})
    for key in Transformer.VOCAB_SIZED:
        like, have = params.get(key), kept.get(key)
        if like is None:
            kept.pop(key, None)
        elif have is None or have.shape != like.shape or have.dtype != like.dtype:
            kept[key] = host_xp.empty_like(like)
    return kept


def _into(out, grads):
    """`grads` copied into `out` when given (and `out` returned), else `grads` itself."""
    if out is None:
        return grads
    for key, value in grads.items():
        out[key][...] = value
    return out


def sharded_loss_and_grads(transformer, backend, x, y, rng, p_drop, out=None, keep=None):
    """Loss (float) and gradients (dict with the parameters' keys) of the whole batch
    x, y (B, T), computed shard by shard on all cores.

    The shards' mean losses and gradients are combined weighted by their rows, which is
    exactly the whole batch's mean: into `out` (a dict of C-contiguous arrays with the
    parameters' keys and shapes, such as AdamW.grads) when given, else into new arrays.
    Each shard draws its dropout masks from a generator seeded by `rng` (the model's
    dropout stream). `keep`: a dict the caller keeps from step to step (a trainer's), in
    which each shard keeps the arrays its vocabulary-sized gradients are written into,
    reused instead of allocated anew (Transformer.backward); without it every gradient is
    a new array.
    """
    B = x.shape[0]
    if backend.device != "cpu":  # the whole batch at once, dropout drawn from `rng` itself
        loss, grads = transformer.loss_and_grads(x, y, Runtime(backend, rng=rng, p_drop=p_drop))
        return float(to_host(loss)), _into(out, grads)  # the step's one transfer to the host
    n = min(B, backend.n_cores)
    parts = shards(B, n)
    seeds = [int(s) for s in rng.integers(0, 2 ** 31, size=n)]

    def shard_loss_and_grads(i):
        rt = Runtime(backend, rng=backend.rng(seeds[i]), p_drop=p_drop)
        into = _kept(keep, i, transformer.params)
        return transformer.loss_and_grads(x[parts[i]], y[parts[i]], rt, into)

    results = backend.map(shard_loss_and_grads, range(n))
    weights = [(s.stop - s.start) / B for s in parts]
    loss = sum(float(shard_loss) * w for (shard_loss, _), w in zip(results, weights))
    if n == 1:
        return loss, _into(out, results[0][1])
    if out is not None and not all(a.flags.c_contiguous for a in out.values()):
        raise ValueError("out= needs C-contiguous arrays (the shards' gradients are added "
                         "up into them through flat views).")
    grads = out if out is not None else {k: host_xp.empty(v.shape, v.dtype)
                                         for k, v in results[0][1].items()}
    rows = [{k: g.reshape(-1) for k, g in shard_grads.items()} for _, shard_grads in results]
    blocks = [(key, slice(a, a + CPU_BLOCK)) for key, g in rows[0].items()
              for a in range(0, g.size, CPU_BLOCK)]

    def combine(jobs):  # grads = sum of w * shard gradient, one cache-sized block at a time
        for key, block in jobs:
            total = grads[key].reshape(-1)[block]  # a view: grads' arrays are contiguous
            host_xp.multiply(rows[0][key][block], weights[0], out=total)
            for shard, w in zip(rows[1:], weights[1:]):
                total += w * shard[key][block]
    backend.map(combine, [blocks[i::n] for i in range(n)])  # blocks dealt out evenly
    return loss, grads
