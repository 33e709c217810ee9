"""One array module for the whole engine: NumPy on the CPU, CuPy on a GPU.

This is the only module of the engine that names numpy. The others ask a `Backend` for
`xp` (numpy or cupy) and the float type, or `array_module(a)` for an array's module, so
the same lines run on both; what is computed on the host whatever the device (sampling)
uses `host_xp`. Host-side code (saving, JSON, plots) converts with `to_numpy`.
"""
import contextlib
import ctypes
import functools
import glob
import math
import os
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy

from ..errors import BackendError
from .cupy_check import cupy_problem

DTYPES = {"fp16": "float16", "fp32": "float32", "fp64": "float64"}
host_xp = numpy  # the host's array module, for work done on the CPU even with a GPU backend

GPU_HELP = (
    "Install the CuPy wheel that matches your CUDA driver, e.g. "
    "`pip install cupy-cuda12x` (CUDA 12) or `pip install cupy-cuda13x` (CUDA 13); "
    "`nvidia-smi` shows the driver's CUDA version. "
    "Or use c_device='cpu' to run on NumPy."
)


class Backend:
    """The array module (`xp`), the float types and the random generators of one model.

    `dtype` is what is computed in, `weights_dtype` what the weights are held in: the
    same, except for d_type='fp16' on the CPU, where the weights are held in float16 (half
    the memory) and computed with in float32. NumPy has no float16 matmul: each weight is
    widened to float32 as it is used (`like`; NumPy's own promotion of float32 @ float16
    where a variant multiplies by itself), so every product is float32's, exactly, and
    slower. On a GPU fp16 is both (cuBLAS multiplies in float16).
    """

    def __init__(self, device="cpu", dtype="fp32", gpu_index=0, cpu_cores=0):
        if dtype not in DTYPES:
            raise BackendError(f"d_type must be one of {sorted(DTYPES)}, not {dtype!r}.")
        if device == "cpu":
            self.xp = numpy
            tune_malloc()
        elif device == "gpu":
            self.xp = _load_cupy(gpu_index)
        else:
            raise BackendError(f"c_device must be 'cpu' or 'gpu', not {device!r}.")
        self.device = device
        self.weights_dtype = self.xp.dtype(DTYPES[dtype])
        half_on_cpu = device == "cpu" and dtype == "fp16"
        self.dtype = self.xp.dtype("float32") if half_on_cpu else self.weights_dtype
        self.n_cores = cpu_cores or usable_cores()  # threads for Backend.map

    def map(self, fn, items):
        """[fn(item) for item in items], on all CPU cores.

        NumPy releases the GIL inside its loops and BLAS calls, so threads run side by
        side; meanwhile BLAS itself is held to one thread, so the threads don't fight it
        for the cores. A map inside a map, or on a GPU, runs in order.
        """
        items = list(items)
        if (self.device == "gpu" or self.n_cores == 1 or len(items) < 2
                or getattr(_in_worker, "busy", False)):
            return [fn(item) for item in items]
        with _MAP_LOCK, one_blas_thread():  # one map at a time: BLAS's setting is global
            return list(_thread_pool(self.n_cores).map(fn, items))

    def to_numpy(self, a):
        """A host NumPy copy (or view) of an array of this backend."""
        return a.get() if self.device == "gpu" else numpy.asarray(a)

    def asarray(self, a, dtype=None):
        """An array of this backend, in the model's float type unless `dtype` says otherwise."""
        return self.xp.asarray(a, dtype=self.dtype if dtype is None else dtype)

    def rng(self, seed=None):
        """A random generator on this backend (seedable; NumPy and CuPy give different streams)."""
        return self.xp.random.default_rng(seed)

    def dropout_mask(self, rng, shape, p):
        """A mask keeping each element with probability 1-p, scaled by 1/(1-p).

        Drawn as 16 random bits per element; NumPy's generator yields 4 of those per
        64-bit draw, about 4x cheaper than one random float per element.
        """
        n = math.prod(shape)
        if self.device == "cpu":
            bits = rng.bit_generator.random_raw((n + 3) // 4).view(numpy.uint16)[:n]
        else:  # CuPy's generator has no raw draws
            bits = rng.integers(0, 65536, size=n, dtype=self.xp.uint16)
        keep = bits.reshape(shape) >= int(round(p * 65536))
        return keep.astype(self.dtype) * self.dtype.type(1.0 / (1.0 - p))


def gpu_usable():
    """Whether c_device='gpu' would work here: CuPy imports and runs on the GPU
    (cupy_check.py's answer, the package's only one)."""
    try:
        _load_cupy(0)
    except BackendError:
        return False
    return True


def _load_cupy(gpu_index):
    """cupy, running on GPU `gpu_index`; a BackendError that says why not and what to do."""
    try:
        import cupy
    except ImportError as e:
        raise BackendError(f"c_device='gpu' needs CuPy, which is not installed. {GPU_HELP}") from e
    problem = cupy_problem(cupy, gpu_index)
    if problem:
        raise BackendError(f"c_device='gpu' but CuPy does not work here ({problem}: no device, "
                           f"a driver older than the wheel's CUDA, or its CUDA libraries "
                           f"missing). {GPU_HELP}")
    return cupy


@functools.cache
def tune_malloc():
    """Keep freed memory in the process instead of returning it to the OS.

    glibc hands large blocks back to the kernel on free and faults them in again on the
    next step's allocation (about 2 us per page here): a training step allocates the same
    big temporaries every time, and this halved its time. Linux/glibc only; a no-op elsewhere.
    """
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return
    M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
    libc.mallopt(M_MMAP_THRESHOLD, 32 * 1024 * 1024)  # glibc's largest mmap threshold
    libc.mallopt(M_TRIM_THRESHOLD, 1024 * 1024 * 1024)


def usable_cores():
    """The cores this process may run on (its CPU affinity, not the machine's total)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1


_in_worker = threading.local()  # .busy is True in the pool's threads
_MAP_LOCK = threading.Lock()


def _mark_worker():
    _in_worker.busy = True


@functools.cache
def _thread_pool(n_threads):
    return ThreadPoolExecutor(max_workers=n_threads, thread_name_prefix="little_baby",
                              initializer=_mark_worker)


@functools.cache
def _openblas_thread_functions():
    """(get, set) of the thread count of the OpenBLAS NumPy ships, or None for other BLAS."""
    numpy_dir = os.path.dirname(numpy.__file__)
    paths = (glob.glob(os.path.join(numpy_dir + ".libs", "*openblas*"))  # Linux, Windows wheels
             + glob.glob(os.path.join(numpy_dir, ".dylibs", "*openblas*")))  # macOS wheels
    for path in paths:
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for name in ("scipy_openblas_{}_num_threads64_", "openblas_{}_num_threads64_",
                     "openblas_{}_num_threads"):
            get, put = (getattr(lib, name.format(verb), None) for verb in ("get", "set"))
            if get is not None and put is not None:
                return get, put
    return None


@contextlib.contextmanager
def one_blas_thread():
    """Within the block, BLAS (OpenBLAS, as NumPy's wheels ship it) uses one thread."""
    functions = _openblas_thread_functions()
    if functions is None:
        yield
        return
    get, put = functions
    before = get()
    put(1)
    try:
        yield
    finally:
        put(before)


def array_module(a):
    """numpy or cupy, whichever `a` belongs to (ops use it so they run on both)."""
    if isinstance(a, numpy.ndarray):  # the common case first: this runs for every op
        return numpy
    cupy = sys.modules.get("cupy")  # a CuPy array means CuPy is imported
    if cupy is not None and isinstance(a, cupy.ndarray):
        return cupy
    return numpy


def like(w, x):
    """Weight `w` in `x`'s float type, to multiply with it: itself when they match.
    float16 weights on the CPU (Backend.weights_dtype) widen to float32 by their bits,
    exactly and about 1.5x faster than NumPy's own conversion here (which NumPy would
    otherwise make inside `x @ w`): the half's sign, exponent and mantissa moved into a
    float's places, then scaled by 2^112 to turn the exponent's bias of 15 into 127, which
    also makes subnormal halves normal floats; infinities and NaNs are set apart."""
    if w.dtype != numpy.float16 or x.dtype != numpy.float32 or not isinstance(w, numpy.ndarray):
        return w
    h = w.reshape(-1).view(numpy.uint16)
    wide = numpy.empty(h.shape, numpy.float32)
    bits = wide.view(numpy.uint32)
    for a in range(0, h.size, 1 << 16):  # a block at a time: its temporaries stay in cache
        hb, b = h[a:a + (1 << 16)], bits[a:a + (1 << 16)]
        numpy.bitwise_and(hb, 0x7FFF, out=b, casting="unsafe")  # magnitude, widened
        b <<= 13                                                  # into a float's places
        b.view(numpy.float32)[...] *= numpy.float32(2.0 ** 112)   # rebias the exponent
        special = b >= 0x47800000                                 # exponent 31: inf or NaN
        if special.any():
            b[special] |= 0x7F800000
        b |= numpy.left_shift(hb & 0x8000, 16, dtype=numpy.uint32)  # the sign
    return wide.reshape(w.shape)


def to_host(a):
    """A NumPy array of `a`, an array of either module: the explicit transfer to the host.

    On a GPU every transfer waits for the device to finish its queued work, so the engine
    makes them only where the host needs a value (a loss, a norm, one row of logits per
    generated token) and never by float(x), int(x), bool(x) or np.asarray(x) on a CuPy array."""
    if array_module(a) is numpy:
        return numpy.asarray(a)
    return sys.modules["cupy"].asnumpy(a)
