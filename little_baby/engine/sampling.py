"""Text generation: sampling, and the loop with or without a KV cache.

The context window: the model sees at most n_ctx tokens (its position table has n_ctx
rows). When the text grows past that, the window slides: the oldest half of the window
is dropped at once and the cache is rebuilt from the remaining tokens (the positions of
all of them change, so their keys and values must be computed again). A cached step
then costs one position most of the time, and a rebuild every n_ctx/2 tokens costs
about as much again; the model always sees between n_ctx/2 and n_ctx tokens. Generation
without the cache follows the same windows, so both give the same logits, token for token.
"""
from ..errors import GenerationError
from .backend import host_xp
from .runtime import Runtime


def sample(logits, rng, temperature=1.0, top_k=None, top_p=None):
    """Pick a token id from one row of logits (V,) on the host.

    temperature 0 is greedy (argmax); top_k keeps the k likeliest tokens; top_p keeps the
    smallest set of likeliest tokens whose probability adds up to at least top_p.
    """
    if temperature < 0:
        raise GenerationError(f"temperature must be 0 (greedy) or more, not {temperature!r}.")
    logits = host_xp.asarray(logits, dtype=host_xp.float64)
    if temperature == 0:
        return int(logits.argmax())
    if temperature != 1:
        logits = logits / temperature
    if top_k is not None and 0 < top_k < len(logits):
        kth = host_xp.partition(logits, -top_k)[-top_k]
        logits = host_xp.where(logits < kth, -host_xp.inf, logits)
    probs = host_xp.exp(logits - logits.max())  # unnormalised: the draw below scales by the sum
    if top_p is not None and 0 < top_p < 1:
        probs /= probs.sum()
        order = host_xp.argsort(-probs)
        cumulative = host_xp.cumsum(probs[order])
        cut = int(host_xp.searchsorted(cumulative, top_p)) + 1   # keep up to and including it
        kept = host_xp.zeros_like(probs)
        kept[order[:cut]] = probs[order[:cut]]
        probs = kept / kept.sum()
    cumulative = host_xp.cumsum(probs)  # inverse-CDF draw: cheaper than rng.choice
    return int(min(host_xp.searchsorted(cumulative, rng.random() * cumulative[-1], side="right"),
                   len(probs) - 1))


def window_starts(n_prompt, n_new, n_ctx):
    """For each of n_new predictions, the index of the first token the model sees.

    Token n is predicted from tokens [start, n). The window starts with the last n_ctx
    prompt tokens; when it would exceed n_ctx it restarts at the last `keep` tokens.
    """
    keep = max(1, n_ctx // 2)
    start = max(0, n_prompt - n_ctx)
    for n in range(n_prompt, n_prompt + n_new):
        if n - start > n_ctx:
            start = n - keep
        yield start


def generate_ids(model, backend, ids, max_new_tokens, temperature=1.0, top_k=None, top_p=None,
                 seed=None, use_cache=True, on_logits=None):
    """Yield max_new_tokens new token ids continuing `ids` (a list, at least one id).

    `model` is a Transformer; `on_logits(row)` (optional) sees each step's logits (V,).
    """
    ids = list(ids)
    n_ctx = model.cfg.n_ctx
    rng = host_xp.random.default_rng(seed)
    rt = Runtime(backend)
    xp = backend.xp
    states, cached_start = None, None
    for start in window_starts(len(ids), max_new_tokens, n_ctx):
        if not use_cache:
            logits = model.forward(xp.asarray([ids[start:]]), rt)[0][0, -1]
        elif start != cached_start:  # new window: rebuild the cache from its tokens
            states, cached_start = model.new_states(1, rt), start
            logits = model.forward(xp.asarray([ids[start:]]), rt, states)[0][0, -1]
        else:  # one new position
            logits = model.step(ids[-1], len(ids) - 1 - start, states, rt)
        row = backend.to_numpy(logits)
        if on_logits is not None:
            on_logits(row)
        ids.append(sample(row, rng, temperature, top_k, top_p))
        yield ids[-1]
