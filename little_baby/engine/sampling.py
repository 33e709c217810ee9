"""Text generation: its settings, sampling, and the loop with or without a KV cache.

The settings are checked in one place, `check_settings`, which LittleBaby.generate and
.stream and the `generate` command call before anything is made or printed; DEFAULTS
are the same for Python and the command line, so one seed gives one text both ways:
    max_new_tokens  a whole number >= 0 (0: no text)                       default 200
    temperature     a finite number >= 0; 0 is greedy (argmax)             default 0.8
    top_k           None (off) or a whole number >= 1: the k likeliest    default 40
    top_p           None (off) or 0 < top_p <= 1: the likeliest tokens     default None
                    whose probabilities add up to top_p (nucleus sampling; 1 keeps all)
    seed            None (a fresh draw) or a whole number >= 0             default None
A bool is not a number here (True is not 1 token). Where a control cannot say None (a
slider, a number box, --top-k), OFF's value means off: top_k 0, top_p 1, seed -1, made
None by `none_if_off` (the generate command for top_k, the Space for all three).

The context window: the model sees at most n_ctx tokens (its position table has n_ctx
rows). When the text grows past that, the window slides: the oldest half of the window
is dropped at once and the cache is rebuilt from the remaining tokens (the positions of
all of them change, so their keys and values must be computed again). A cached step
then costs one position most of the time, and a rebuild every n_ctx/2 tokens costs
about as much again; the model always sees between n_ctx/2 and n_ctx tokens. Generation
without the cache follows the same windows, so both give the same logits, token for token.
"""
import math
import numbers
from typing import NamedTuple

from ..errors import GenerationError
from .backend import host_xp
from .runtime import Runtime


class Settings(NamedTuple):
    """Sampling settings, checked (check_settings)."""

    max_new_tokens: int = 200
    temperature: float = 0.8
    top_k: int | None = 40
    top_p: float | None = None
    seed: int | None = None


DEFAULTS = Settings()
OFF = {"top_k": 0, "top_p": 1, "seed": -1}  # the value that turns a setting off in a control


def none_if_off(key, value):
    """None where `value` is OFF[key] (setting `key` turned off), else `value` as it is,
    for check_settings to judge."""
    return None if _is_real(value) and value == OFF[key] else value


def check_settings(max_new_tokens=DEFAULTS.max_new_tokens, temperature=DEFAULTS.temperature,
                   top_k=DEFAULTS.top_k, top_p=DEFAULTS.top_p, seed=DEFAULTS.seed, names=None,
                   off=None):
    """The Settings, or a GenerationError that names the first bad one and its range.
    `names` maps a setting to what the caller calls it (the command's '--top-k'), `off`
    to how the caller turns it off (default 'None')."""
    names, off = names or {}, {"top_k": "None", "top_p": "None", "seed": "None", **(off or {})}

    def bad(key, value, wanted):
        raise GenerationError(f"{names.get(key, key)} must be {wanted}, not {value!r}.")

    def whole(key, value, least, extra=""):
        if not _is_int(value) or value < least:
            bad(key, value, f"a whole number >= {least}{extra}")
        return int(value)

    max_new_tokens = whole("max_new_tokens", max_new_tokens, 0)
    if not _is_real(temperature) or not math.isfinite(temperature) or temperature < 0:
        bad("temperature", temperature, "a finite number >= 0 (0 is greedy)")
    if top_k is not None:
        top_k = whole("top_k", top_k, 1, f" ({off['top_k']}: off)")
    if top_p is not None and not (_is_real(top_p) and 0 < top_p <= 1):
        bad("top_p", top_p, f"a number in (0, 1] ({off['top_p']}: off)")
    if seed is not None:
        seed = whole("seed", seed, 0, f" ({off['seed']}: a fresh draw)")
    return Settings(max_new_tokens, float(temperature), top_k,
                    None if top_p is None else float(top_p), seed)


def _is_int(value):
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_real(value):
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def probabilities(logits, temperature=1.0, top_k=None, top_p=None):
    """The distribution `sample` draws from: one row of logits (V,) -> probabilities (V,),
    float64 on the host, summing to 1, 0 for every token the settings cut away.

    temperature 0 is greedy (all on the argmax); top_k keeps the k likeliest tokens (and
    any tied with the k-th); top_p then keeps the smallest set of likeliest tokens whose
    probability adds up to at least top_p (Holtzman et al. 2020, nucleus sampling).
    """
    logits = host_xp.asarray(logits, dtype=host_xp.float64)
    if temperature == 0:
        probs = host_xp.zeros_like(logits)
        probs[int(logits.argmax())] = 1.0
        return probs
    if temperature != 1:
        logits = logits / temperature
    if top_k is not None and top_k < len(logits):
        kth = host_xp.partition(logits, -top_k)[-top_k]
        logits = host_xp.where(logits < kth, -host_xp.inf, logits)
    probs = host_xp.exp(logits - logits.max())
    probs /= probs.sum()
    if top_p is not None and top_p < 1:
        order = host_xp.argsort(-probs)
        cumulative = host_xp.cumsum(probs[order])
        cut = int(host_xp.searchsorted(cumulative, top_p)) + 1   # keep up to and including it
        kept = host_xp.zeros_like(probs)
        kept[order[:cut]] = probs[order[:cut]]
        probs = kept / kept.sum()
    return probs


def sample(logits, rng, temperature=1.0, top_k=None, top_p=None):
    """Pick a token id from one row of logits (V,) on the host, with settings that
    check_settings passed: a draw from `probabilities` (greedy: the argmax, no draw)."""
    if temperature == 0:
        return int(host_xp.asarray(logits).argmax())
    cumulative = host_xp.cumsum(probabilities(logits, temperature, top_k, top_p))
    # inverse-CDF draw: cheaper than rng.choice
    return int(min(host_xp.searchsorted(cumulative, rng.random() * cumulative[-1], side="right"),
                   len(cumulative) - 1))


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
    The settings are checked (check_settings) at the first id asked for.
    """
    max_new_tokens, temperature, top_k, top_p, seed = check_settings(
        max_new_tokens, temperature, top_k, top_p, seed)
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
