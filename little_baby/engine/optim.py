"""AdamW with a flat parameter buffer, the learning-rate schedule and gradient clipping.

All parameters are views into one contiguous array, so the optimizer's update is a
handful of whole-array operations instead of a loop over dozens of small arrays.
"""
import math

from .backend import array_module, to_host


def flatten_params(params):
    """Copy `params` into one contiguous buffer; return (buffer, dict of views into it)."""
    first = next(iter(params.values()))
    xp = array_module(first)
    total = sum(int(v.size) for v in params.values())
    flat = xp.empty(total, dtype=first.dtype)
    views, at = {}, 0
    for key, value in params.items():
        view = flat[at:at + value.size].reshape(value.shape)
        view[...] = value
        views[key] = view
        at += value.size
    return flat, views


def decays(key, value):
    """Weight decay applies to matrices that multiply activations, not to biases (even
    2-D ones, such as moe's per-expert biases), LayerNorm gains or embeddings (nanoGPT's
    and GPT-2's habit)."""
    return key.endswith(".weight") and value.ndim == 2 and not key.startswith(("wte.", "wpe."))


def lr_at(step, total_steps, warmup_steps, base_lr, min_ratio=0.1):
    """Linear warm-up to base_lr, then cosine decay to base_lr * min_ratio at total_steps."""
    if warmup_steps and step < warmup_steps:
        return base_lr * (step + 1) / warmup_steps
    if total_steps <= warmup_steps:
        return base_lr
    progress = min(1.0, (step - warmup_steps) / max(1, total_steps - warmup_steps))
    return base_lr * (min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * progress)))


class AdamW:
    """AdamW (Loshchilov & Hutter) over a flat buffer of parameters.

    `flat` is the buffer and `params` the dict of views into it (from flatten_params);
    `step(grads, lr)` updates them in place.
    """

    def __init__(self, flat, params, weight_decay=0.1, betas=(0.9, 0.99), eps=1e-8, clip=1.0,
                 map=None, n_parts=2):
        xp = array_module(flat)
        self.map = map or (lambda fn, items: [fn(i) for i in items])  # Backend.map: all cores
        edges = [flat.size * i // n_parts for i in range(n_parts + 1)]
        self.parts = [slice(a, b) for a, b in zip(edges[:-1], edges[1:])]
        self.flat, self.params = flat, params
        self.weight_decay, self.betas, self.eps, self.clip = weight_decay, betas, eps, clip
        self.m = xp.zeros_like(flat)
        self.v = xp.zeros_like(flat)
        self.grad = xp.empty_like(flat)  # the gradients gathered into the flat layout
        self.tmp = xp.empty_like(flat)
        self.t = 0
        self.decayed = [v for k, v in params.items() if decays(k, v)]

    def gather(self, grads):
        """Copy a gradient dict (keys of params) into the flat layout; return it."""
        at = 0
        for key, value in self.params.items():
            self.grad[at:at + value.size] = grads[key].reshape(-1)
            at += value.size
        return self.grad

    def step(self, grads, lr):
        """One update; returns the gradients' global norm before clipping."""
        xp = array_module(self.flat)
        g = self.gather(grads)
        norm = float(to_host(xp.sqrt(g @ g)))  # the one transfer to the host an update makes
        g_scale = self.clip / norm if self.clip and norm > self.clip else 1.0
        self.t += 1
        if self.weight_decay:
            for p in self.decayed:                     # p -= lr * wd * p  (decoupled decay)
                p *= 1 - lr * self.weight_decay
        b1, b2 = self.betas
        step_size = lr * math.sqrt(1 - b2 ** self.t) / (1 - b1 ** self.t)
        eps = self.eps * math.sqrt(1 - b2 ** self.t)
        self.map(lambda part: self._update(part, g_scale, step_size, eps), self.parts)
        return norm

    def _update(self, part, g_scale, step_size, eps):
        """The Adam update of one slice of the flat buffer (slices run side by side)."""
        xp = array_module(self.flat)
        b1, b2 = self.betas
        g, m, v, tmp, p = (a[part] for a in (self.grad, self.m, self.v, self.tmp, self.flat))
        m *= b1
        xp.multiply(g, (1 - b1) * g_scale, out=tmp)
        m += tmp                                       # m = b1 m + (1 - b1) g
        v *= b2
        xp.multiply(g, g, out=tmp)
        tmp *= (1 - b2) * g_scale * g_scale
        v += tmp                                       # v = b2 v + (1 - b2) g^2
        xp.sqrt(v, out=tmp)
        tmp += eps
        xp.divide(m, tmp, out=tmp)
        tmp *= step_size
        p -= tmp                                       # p -= lr_t * m / (sqrt(v) + eps)

    def state_dict(self):
        """Arrays and counters to checkpoint (with the parameters) and resume exactly."""
        return {"m": self.m, "v": self.v}, {"t": self.t}

    def load_state_dict(self, arrays, counters):
        self.m[...] = arrays["m"]
        self.v[...] = arrays["v"]
        self.t = int(counters["t"])
