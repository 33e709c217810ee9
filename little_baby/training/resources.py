"""Whether a training step or a generation fits in this machine's memory: the engine's
estimate (engine/memory.py) against what is available, checked before anything large
is allocated, so an impossible size is one clear message instead of an allocation
traceback (or the kernel's OOM killer) minutes into a run.

Available memory on the CPU is the least of /proc/meminfo's MemAvailable plus SwapFree
(os.sysconf's available pages where there is no /proc) and the room left under a
cgroup's memory limit (containers, notebook hosts); on a GPU it is CuPy's free device
memory plus what its memory pool holds unused. Set LITTLE_BABY_NO_MEMORY_CHECK=1 to
skip the check (the estimate is an estimate).
"""
import os
from pathlib import Path

from ..engine.memory import generation_bytes, model_bytes, training_bytes
from ..errors import NotEnoughMemoryError, spelled

SKIP_ENV = "LITTLE_BABY_NO_MEMORY_CHECK"


def available_bytes(device="cpu"):
    """Bytes of memory this process can still use on `device`, or None if unknown."""
    if device == "gpu":
        return _gpu_free()
    found = [n for n in (_meminfo_available(), _cgroup_room()) if n is not None]
    return min(found) if found else None


SIZES = ("n_ctx", "batch_size", "n_emb", "n_layers")


def check_training_fits(cfg, vocab_size, shards=1, device="cpu", can_change=SIZES):
    """A NotEnoughMemoryError if one training step of `cfg` cannot fit on `device`. The
    message suggests smaller values of the settings in `can_change` (a finetune keeps
    its parent's architecture: batch_size only; a resumed run keeps all)."""
    names = [spelled(k) for k in can_change]
    advice = (f"use a smaller {', '.join(names[:-1])} or {names[-1]}" if len(names) > 1 else
              f"use a smaller {names[0]}" if names else
              "this run's settings cannot change now: use a machine with more memory")
    _check(training_bytes(cfg, vocab_size, cfg.batch_size, shards), device,
           f"a training step of n_ctx={cfg.n_ctx}, batch_size={cfg.batch_size}, "
           f"n_emb={cfg.n_emb}, n_layers={cfg.n_layers} ({cfg.c_attention}/{cfg.c_network})",
           advice)


def check_model_fits(cfg, vocab_size, device="cpu"):
    """A NotEnoughMemoryError if a fresh model of `cfg` cannot even be built on `device`."""
    _check(model_bytes(cfg, vocab_size), device,
           f"a model of n_emb={cfg.n_emb}, n_layers={cfg.n_layers}, n_ctx={cfg.n_ctx} and "
           f"{vocab_size} symbols ({cfg.c_attention}/{cfg.c_network})",
           f"use a smaller {', '.join(spelled(k) for k in ('n_emb', 'n_layers', 'n_ctx'))} "
           f"or {spelled('n_hidden')}")


def check_generation_fits(cfg, vocab_size, prompt_tokens, device="cpu"):
    """A NotEnoughMemoryError if generating from a `prompt_tokens`-token prompt cannot fit."""
    _check(generation_bytes(cfg, vocab_size, prompt_tokens), device,
           f"generating with n_ctx={cfg.n_ctx} from a prompt of {prompt_tokens} tokens",
           "use a shorter prompt or a smaller model")


# Bytes of memory per byte of a corpus file while it is read and encoded: the bytes read,
# the text (Python's str: 1 to 4 bytes a character, at most one character a byte) and its
# int64 token ids (8 bytes a token, at most one token a character).
CORPUS_BYTES_PER_BYTE = 1 + 4 + 8


def check_corpus_fits(path, size):
    """A NotEnoughMemoryError, before a byte is read, if a corpus file of `size` bytes
    could not be held and encoded in memory."""
    if os.environ.get(SKIP_ENV):
        return
    need, have = CORPUS_BYTES_PER_BYTE * size, available_bytes()
    if have is not None and need > have:
        raise NotEnoughMemoryError(
            f"the corpus {str(path)!r} is {human_bytes(size)}: reading and encoding it could "
            f"take up to {human_bytes(need)}, and this machine has {human_bytes(have)} of "
            f"memory (RAM and swap) available: train on a part of it (e.g. `head -n 1000000`). "
            f"Nothing was read (set {SKIP_ENV}=1 to try anyway).")


def human_bytes(n):
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024


def _check(estimate, device, what, advice):
    if os.environ.get(SKIP_ENV):
        return
    have = available_bytes(device)
    if have is None or estimate.total <= have:
        return
    where = "GPU memory" if device == "gpu" else "memory (RAM and swap)"
    parts = [f"{name} {human_bytes(n)}" for name, n in
             (("activations", estimate.activations),
              ("weights and optimizer" if estimate.gradients else "weights", estimate.weights),
              ("gradients", estimate.gradients)) if n]
    raise NotEnoughMemoryError(
        f"{what} would need about {human_bytes(estimate.total)} ({', '.join(parts)}), but "
        f"this machine has {human_bytes(have)} of {where} available: {advice}. Nothing was "
        f"allocated or written (set {SKIP_ENV}=1 to try anyway).")


def _meminfo_available():
    try:
        fields = dict(line.split(":", 1) for line in
                      Path("/proc/meminfo").read_text().splitlines() if ":" in line)
        kib = [int(fields[k].split()[0]) for k in ("MemAvailable", "SwapFree") if k in fields]
        return 1024 * sum(kib) if "MemAvailable" in fields else None
    except (OSError, ValueError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def _cgroup_room():
    """Bytes left under this process's cgroup memory limit (v2, else v1), or None."""
    for limit, usage in (("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
                         ("/sys/fs/cgroup/memory/memory.limit_in_bytes",
                          "/sys/fs/cgroup/memory/memory.usage_in_bytes")):
        try:
            cap = Path(limit).read_text().strip()
            if cap == "max" or int(cap) >= 1 << 60:  # no limit
                return None
            return max(0, int(cap) - int(Path(usage).read_text()))
        except (OSError, ValueError):
            continue
    return None


def _gpu_free():
    try:
        import cupy
    except ImportError:
        return None
    free, _ = cupy.cuda.runtime.memGetInfo()
    pool = cupy.get_default_memory_pool()
    return free + pool.total_bytes() - pool.used_bytes()
