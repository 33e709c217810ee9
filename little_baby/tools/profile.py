"""Where a training step's time goes: each engine function's own time (its calls' time less
that of the engine functions it calls), summed over the threads that ran it, for a few
steps of a benchmark shape.

    little-baby bench --profile --shape baby
    python -m little_baby.tools.profile --shape age48 --steps 10

Every function of the engine's modules (ops, attention and network variants, blocks, the
transformer, AdamW, the batch split) is wrapped for the run in a timer and unwrapped
after, as cProfile's deterministic profiling does (Python docs, "The Python Profilers"),
but for the engine alone and per thread. A wrapped call costs about a microsecond, so the
profiled step is a little slower than `bench`'s: the table gives shares, `bench` the speed.
`(outside the engine)` is what the cores had (the step's wall time times the threads) less
the engine's own time: the trainer's Python, the thread pool's hand-over and join, a core
idle while the other finishes its shard. The caller of Backend.map waits while the threads
work: that wait is nobody's own time.
"""
import argparse
import importlib
import inspect
import pkgutil
import sys
import threading
import time
from collections import defaultdict

import numpy

from .. import engine
from ..training.trainer import Trainer
from .shapes import SHAPES, VOCAB, fresh_baby

FORK_JOIN = "backend.Backend.map"  # where work goes to the threads (engine/parallel.py)


class Profiler:
    """Own time and calls per function name, kept per thread and added up."""

    def __init__(self):
        self.own, self.calls, self.waited = defaultdict(float), defaultdict(int), 0.0
        self._local, self._lock = threading.local(), threading.Lock()

    def wrap(self, name, fn):
        """`fn`, timed: its own time is its time less that of the engine functions it calls
        in this thread. Backend.map (FORK_JOIN) hands work to other threads, whose
        functions count their own time: its caller waits meanwhile, so that time is no
        one's own (kept as `waited`)."""
        def timed(*args, **kwargs):
            stack = self._local.__dict__.setdefault("stack", [])
            stack.append(0.0)  # time spent in engine functions this call makes, here
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                elapsed = time.perf_counter() - start
                inner = stack.pop()
                if stack:
                    stack[-1] += elapsed
                with self._lock:
                    if name == FORK_JOIN:
                        self.waited += elapsed - inner
                    else:
                        self.own[name] += elapsed - inner
                    self.calls[name] += 1
        timed.__wrapped__ = fn
        return timed


def engine_modules():
    """Every module of the engine package, imported."""
    names = [m.name for m in pkgutil.walk_packages(engine.__path__, engine.__name__ + ".")]
    return [importlib.import_module(n) for n in names]


def instrument(profiler):
    """Wrap every engine function and method where the engine's modules refer to it;
    returns the undo list of (namespace, attribute, original)."""
    modules = engine_modules()
    wrapped, undo = {}, []
    for module in modules:
        for name, obj in vars(module).items():
            if inspect.isfunction(obj) and obj.__module__ == module.__name__:
                wrapped[obj] = profiler.wrap(f"{_short(module.__name__)}.{name}", obj)
            elif inspect.isclass(obj) and obj.__module__ == module.__name__:
                for attr, fn in vars(obj).items():
                    if inspect.isfunction(fn) and not attr.startswith("__"):
                        undo.append((obj, attr, fn))
                        setattr(obj, attr, profiler.wrap(f"{_short(module.__name__)}."
                                                         f"{obj.__name__}.{attr}", fn))
    for module in modules + [sys.modules[Trainer.__module__]]:
        for name, obj in list(vars(module).items()):
            if inspect.isfunction(obj) and obj in wrapped:
                undo.append((module, name, obj))
                setattr(module, name, wrapped[obj])
    return undo


def restore(undo):
    for namespace, name, original in reversed(undo):
        setattr(namespace, name, original)


def _short(module_name):
    return module_name.removeprefix("little_baby.engine.")


def profile_training(shape, steps=10, warmup=3, overrides=None):
    """{'ms_per_step', 'threads', 'rows': [(name, ms per step, calls per step)]}: the
    engine's own time per function, per step, summed over threads, largest first."""
    baby = fresh_baby(shape, overrides or {})
    cfg = baby.config
    trainer = Trainer(baby, total_steps=steps + warmup)
    rng = numpy.random.default_rng(0)
    windows = [rng.integers(0, VOCAB, (cfg.batch_size, cfg.n_ctx + 1)) for _ in range(steps + warmup)]
    for w in windows[:warmup]:
        trainer.step(w[:, :-1], w[:, 1:])
    profiler = Profiler()
    undo = instrument(profiler)
    try:
        start = time.perf_counter()
        for w in windows[warmup:]:
            trainer.step(w[:, :-1], w[:, 1:])
        wall = time.perf_counter() - start
    finally:
        restore(undo)
    threads = min(cfg.batch_size, baby.backend.n_cores)
    rows = sorted(((n, t / steps * 1e3, profiler.calls[n] / steps) for n, t in profiler.own.items()),
                  key=lambda r: -r[1])
    outside = wall / steps * 1e3 * threads - sum(r[1] for r in rows)
    rows.append(("(outside the engine)", outside, 0))
    return {"shape": shape, "ms_per_step": wall / steps * 1e3, "threads": threads, "rows": rows}


def print_profile(result, top=25):
    total = sum(max(r[1], 0.0) for r in result["rows"])
    print(f"{result['shape']}: {result['ms_per_step']:.1f} ms per profiled step, "
          f"{result['threads']} thread(s); own time per step, summed over threads:")
    print(f"  {'function':46} {'ms':>8} {'share':>6} {'calls':>7}")
    for name, ms, calls in result["rows"][:top] + ([result["rows"][-1]] if len(result["rows"]) > top else []):
        print(f"  {name:46} {ms:8.2f} {ms / total:6.1%} {calls:7.0f}")


def add_arguments(parser):
    parser.add_argument("--shape", choices=[*SHAPES, "all"], default="all")
    parser.add_argument("--steps", type=int, default=10, help="profiled training steps")
    parser.add_argument("--top", type=int, default=25, help="rows to print per shape")


def run(args):
    for shape in (list(SHAPES) if args.shape == "all" else [args.shape]):
        print_profile(profile_training(shape, args.steps), args.top)
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m little_baby.tools.profile",
                                     description=__doc__.split("\n\n")[0])
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
