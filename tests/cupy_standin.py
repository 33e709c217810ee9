"""A strict stand-in for CuPy, on NumPy, so the engine's GPU path runs in the tests.

Its arrays live on a pretend device. They refuse every implicit trip to the host, which
CuPy allows silently and which costs a GPU synchronisation each (or fails outright):
`__array__` (np.asarray(x)), `__float__`, `__int__`, `__index__`, `__bool__`, `.item()`,
`.tolist()`, iteration, formatting with a spec, and mixing with a NumPy array in an
operation, an index or an assignment (CuPy raises for those). NumPy functions called on
them are refused too: the engine names only its backend's `xp`. Each refusal is a
HostTransferError naming the line of the caller. What is allowed is what CuPy makes
explicit: `cupy.asnumpy(x)` and `x.get()`, counted in TRANSFERS["to_host"] (the tests
hold those counts), and `cupy.asarray` of host data, counted in TRANSFERS["to_device"].

Only names CuPy has are offered, with CuPy 14's signatures (tests/test_cupy_standin.py
compares them with the real package where it is installed). The random generator is
CuPy's API (default_rng -> Generator with integers, random, standard_normal; its
bit_generator has `state` as a method, not NumPy's dict) with a stream of its own, not
NumPy's. Scatter-add is `cupy.add.at`, as CuPy 14 provides it.

Why our own and not array-api-strict: the engine is written against the NumPy/CuPy
API (in-place `out=` ufuncs, `add.at`, `.get()`, CuPy's Generator), which the Array API
does not have, and what must be caught here is CuPy's behaviour, not the standard's.

    import tests.cupy_standin as standin
    with standin.installed():   # `import cupy` gives the stand-in inside the block
        ...
"""
import contextlib
import functools
import operator
import os
import sys
import traceback
import types

import numpy

__version__ = "14.2.0-standin"
TRANSFERS = {"to_host": 0, "to_device": 0}
_HERE = os.path.abspath(__file__)


class HostTransferError(TypeError):
    """An implicit transfer of device data to the host (or a NumPy array mixed in)."""


def _caller():
    """'path:line in function' of the innermost frame outside this file."""
    for frame in reversed(traceback.extract_stack()):
        if os.path.abspath(frame.filename) != _HERE:
            return f"{frame.filename}:{frame.lineno} in {frame.name}"
    return "?"


def _refuse(what):
    raise HostTransferError(
        f"{what} on a device array, at {_caller()}: an implicit transfer to the host (a GPU "
        f"synchronisation). Transfer explicitly with cupy.asnumpy(x) or x.get(), or keep it "
        f"on the device.")


def reset_counts():
    TRANSFERS.update(to_host=0, to_device=0)


# ---- the array ------------------------------------------------------------------------------
def _unwrap(value, what="an operand"):
    """A NumPy value for NumPy to compute with; NumPy arrays are refused (CuPy raises too)."""
    if isinstance(value, ndarray):
        return value._a
    if isinstance(value, numpy.ndarray):
        raise HostTransferError(f"a NumPy array used as {what} of a device operation, at "
                                f"{_caller()}: move it with cupy.asarray first (CuPy raises "
                                f"TypeError here).")
    if isinstance(value, (tuple, list)):
        return type(value)(_unwrap(v, what) for v in value)
    if isinstance(value, slice):
        return slice(*(_unwrap(v, what) for v in (value.start, value.stop, value.step)))
    return value


def _wrap(value):
    """Device arrays for NumPy results (0-d arrays for scalars, as CuPy's reductions give)."""
    if isinstance(value, (numpy.ndarray, numpy.generic)):
        return ndarray._of(numpy.asarray(value))
    if isinstance(value, tuple):
        return tuple(_wrap(v) for v in value)
    if isinstance(value, list):
        return [_wrap(v) for v in value]
    return value


class ndarray:
    """A device array (the data kept in a NumPy array, `_a`, that nothing outside sees)."""

    __slots__ = ("_a", "__weakref__")

    def __init__(self, shape, dtype=float, memptr=None, strides=None, order="C"):
        self._a = numpy.empty(shape, dtype, order)

    @classmethod
    def _of(cls, a):
        self = object.__new__(cls)
        self._a = a
        return self

    # -- what CuPy makes explicit
    def get(self, stream=None, order="C", out=None, blocking=True):
        TRANSFERS["to_host"] += 1
        return numpy.array(self._a, order=order)

    def set(self, arr, stream=None):
        TRANSFERS["to_device"] += 1
        self._a[...] = arr

    # -- implicit trips to the host: refused
    def __array__(self, dtype=None, copy=None):
        _refuse("numpy.asarray (__array__)")

    def __float__(self):
        _refuse("float()")

    def __int__(self):
        _refuse("int()")

    def __index__(self):
        _refuse("use as an index or int (__index__)")

    def __complex__(self):
        _refuse("complex()")

    def __bool__(self):
        _refuse("bool() (an `if` or `and`/`or` on an array)")

    def __iter__(self):
        _refuse("iteration")

    def item(self):
        _refuse(".item()")

    def tolist(self):
        _refuse(".tolist()")

    def __format__(self, spec):
        if spec:
            _refuse(f"formatting with {spec!r}")
        return repr(self)

    def __repr__(self):  # no values: they would need a transfer
        return f"<cupy_standin.ndarray shape={self._a.shape} dtype={self._a.dtype}>"

    __str__ = __repr__

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        """A NumPy ufunc meeting a device array: NumPy scalars with device arrays compute
        on the device (as CuPy does); a NumPy array among them is refused."""
        args = _unwrap(inputs, f"an input of numpy.{ufunc.__name__}")
        if "out" in kwargs:
            kwargs["out"] = _unwrap(kwargs["out"], "the out= of a device operation")
        return _wrap(getattr(ufunc, method)(*args, **kwargs))

    def __array_function__(self, func, types, args, kwargs):
        raise HostTransferError(
            f"numpy.{func.__name__} called on a device array, at {_caller()}: the engine must "
            f"use its backend's xp (cupy), not numpy.")

    # -- attributes
    shape = property(lambda self: self._a.shape)
    dtype = property(lambda self: self._a.dtype)
    ndim = property(lambda self: self._a.ndim)
    size = property(lambda self: self._a.size)
    itemsize = property(lambda self: self._a.itemsize)
    nbytes = property(lambda self: self._a.nbytes)
    strides = property(lambda self: self._a.strides)
    T = property(lambda self: ndarray._of(self._a.T))

    def __len__(self):
        return len(self._a)

    # -- methods, with CuPy's signatures
    def reshape(self, *shape, order="C", copy=None):
        return ndarray._of(self._a.reshape(*shape, order=order, copy=copy))

    def transpose(self, *axes):
        return ndarray._of(self._a.transpose(*axes))

    def swapaxes(self, axis1, axis2):
        return ndarray._of(self._a.swapaxes(axis1, axis2))

    def ravel(self, order="C"):
        return ndarray._of(self._a.ravel(order))

    def flatten(self, order="C"):
        return ndarray._of(self._a.flatten(order))

    def astype(self, dtype, order="K", casting=None, subok=None, copy=True):
        return ndarray._of(self._a.astype(dtype, order=order, copy=copy,
                                          **({} if casting is None else {"casting": casting})))

    def copy(self, order="C"):
        return ndarray._of(self._a.copy(order))

    def view(self, dtype=None, type=None):
        return ndarray._of(self._a.view() if dtype is None else self._a.view(dtype))

    def fill(self, value):
        self._a.fill(_unwrap(value))

    def sum(self, axis=None, dtype=None, out=None, keepdims=False):
        return _reduce(self, "sum", axis, out, keepdims, dtype=dtype)

    def mean(self, axis=None, dtype=None, out=None, keepdims=False):
        return _reduce(self, "mean", axis, out, keepdims, dtype=dtype)

    def var(self, axis=None, dtype=None, out=None, ddof=0, keepdims=False):
        return _reduce(self, "var", axis, out, keepdims, dtype=dtype, ddof=ddof)

    def max(self, axis=None, out=None, keepdims=False):
        return _reduce(self, "max", axis, out, keepdims)

    def min(self, axis=None, out=None, keepdims=False):
        return _reduce(self, "min", axis, out, keepdims)

    def argmax(self, axis=None, out=None, dtype=None, keepdims=False):
        return _reduce(self, "argmax", axis, out, keepdims)

    def argmin(self, axis=None, out=None, dtype=None, keepdims=False):
        return _reduce(self, "argmin", axis, out, keepdims)

    def all(self, axis=None, out=None, keepdims=False):
        return _reduce(self, "all", axis, out, keepdims)

    def any(self, axis=None, out=None, keepdims=False):
        return _reduce(self, "any", axis, out, keepdims)

    def cumsum(self, axis=None, dtype=None, out=None):
        return cumsum(self, axis, dtype, out)

    def dot(self, b, out=None):
        return dot(self, b, out)

    # -- indexing
    def __getitem__(self, key):
        key = _unwrap(key, "an index")
        item = self._a[key]
        if isinstance(item, numpy.generic):  # one element: CuPy gives a 0-d view, not a copy
            keys = key if isinstance(key, tuple) else (key,)
            if not any(k is Ellipsis for k in keys):
                item = self._a[keys + (Ellipsis,)]
        return _wrap(item)

    def __setitem__(self, key, value):
        self._a[_unwrap(key, "an index")] = _unwrap(value, "the value assigned")


def _reduce(a, name, axis, out, keepdims, **extra):
    extra = {k: v for k, v in extra.items() if v is not None}
    result = getattr(a._a, name)(axis=axis, keepdims=keepdims, **extra)
    if out is not None:
        out._a[...] = result
        return out
    return _wrap(result)


def _operator(op, reflected=False):
    def method(self, other):
        other = _unwrap(other, "an operand")
        return _wrap(op(other, self._a) if reflected else op(self._a, other))
    return method


def _inplace(op):
    def method(self, other):
        op(self._a, _unwrap(other, "an operand"))
        return self
    return method


for _name in ("add", "sub", "mul", "truediv", "floordiv", "mod", "pow", "matmul", "and", "or",
              "xor", "lshift", "rshift"):
    _op = getattr(operator, _name if _name not in ("and", "or") else _name + "_")
    setattr(ndarray, f"__{_name}__", _operator(_op))
    setattr(ndarray, f"__r{_name}__", _operator(_op, reflected=True))
    setattr(ndarray, f"__i{_name}__", _inplace(getattr(operator, f"i{_name}")))
for _name in ("lt", "le", "eq", "ne", "gt", "ge"):
    setattr(ndarray, f"__{_name}__", _operator(getattr(operator, _name)))
for _name in ("neg", "pos", "abs", "invert"):
    setattr(ndarray, f"__{_name}__",
            (lambda op: lambda self: ndarray._of(op(self._a)))(getattr(operator, _name)))
ndarray.__hash__ = None


# ---- ufuncs ------------------------------------------------------------------------------------
class ufunc:
    """A CuPy ufunc: called on device arrays and scalars; `at` for scatter operations."""

    def __init__(self, np_ufunc):
        self._u = np_ufunc
        self.name = self.__name__ = np_ufunc.__name__
        self.nin, self.nout = np_ufunc.nin, np_ufunc.nout

    def __call__(self, *args, out=None, casting="same_kind", dtype=None):
        kwargs = {"casting": casting}
        if dtype is not None:
            kwargs["dtype"] = dtype
        if out is not None:
            kwargs["out"] = _unwrap(out, "the out= of a device operation")
        result = self._u(*_unwrap(args, f"an input of cupy.{self.name}"), **kwargs)
        return out if out is not None else _wrap(result)

    def at(self, a, indices, b=None):
        args = () if b is None else (_unwrap(b, "the values of ufunc.at"),)
        self._u.at(_unwrap(a), _unwrap(indices, "the indices of ufunc.at"), *args)

    def reduce(self, array, axis=0, dtype=None, out=None, keepdims=False):
        return _wrap(self._u.reduce(_unwrap(array), axis=axis, dtype=dtype, keepdims=keepdims))


_UFUNCS = ("add subtract multiply divide true_divide power maximum minimum exp log sqrt tanh "
           "negative abs absolute sign greater greater_equal less less_equal equal not_equal "
           "logical_and logical_or logical_not isfinite isnan matmul").split()
for _name in _UFUNCS:
    globals()[_name] = ufunc(getattr(numpy, _name))


# ---- functions, with CuPy 14's signatures ------------------------------------------------------
def _fn(f):
    """f's body computes with NumPy on unwrapped arguments; its result comes back wrapped."""
    @functools.wraps(f)
    def run(*args, **kwargs):
        return _wrap(f(*(_unwrap(a, f"an argument of cupy.{f.__name__}") for a in args),
                       **{k: _unwrap(v, f"an argument of cupy.{f.__name__}")
                          for k, v in kwargs.items()}))
    return run


def _out(result, out):
    if out is None:
        return result
    out[...] = result
    return out


@_fn
def zeros(shape, dtype=float, order="C"):
    return numpy.zeros(shape, dtype, order)


@_fn
def ones(shape, dtype=float, order="C"):
    return numpy.ones(shape, dtype, order)


@_fn
def empty(shape, dtype=float, order="C"):
    return numpy.empty(shape, dtype, order)


@_fn
def full(shape, fill_value, dtype=None, order="C"):
    return numpy.full(shape, fill_value, dtype, order)


@_fn
def zeros_like(a, dtype=None, order="K", subok=None, shape=None):
    return numpy.zeros_like(a, dtype, order, shape=shape)


@_fn
def ones_like(a, dtype=None, order="K", subok=None, shape=None):
    return numpy.ones_like(a, dtype, order, shape=shape)


@_fn
def empty_like(prototype, dtype=None, order="K", subok=None, shape=None):
    return numpy.empty_like(prototype, dtype, order, shape=shape)


@_fn
def full_like(a, fill_value, dtype=None, order="K", subok=None, shape=None):
    return numpy.full_like(a, fill_value, dtype, order, shape=shape)


@_fn
def arange(start, stop=None, step=1, dtype=None):
    return numpy.arange(start, stop, step, dtype) if stop is not None else numpy.arange(
        start, dtype=dtype)


def asarray(a, dtype=None, order=None, *, copy=None, blocking=False):
    """Device data as it is (or cast); host data (lists, NumPy arrays) uploaded: counted."""
    if isinstance(a, ndarray):
        return a if dtype is None or a.dtype == dtype else a.astype(dtype)
    host = numpy.array(_unwrap_host(a), dtype=dtype, order=order or "K")
    TRANSFERS["to_device"] += 1
    return ndarray._of(host)


def array(obj, dtype=None, copy=True, order="K", subok=False, ndmin=0, *, blocking=False):
    if isinstance(obj, ndarray):
        return ndarray._of(numpy.array(obj._a, dtype=dtype, copy=copy, order=order, ndmin=ndmin))
    host = numpy.array(_unwrap_host(obj), dtype=dtype, order=order, ndmin=ndmin)
    TRANSFERS["to_device"] += 1
    return ndarray._of(host)


def _unwrap_host(a):
    """Host data for an upload; device arrays inside a list are refused (CuPy would
    fetch each one)."""
    if isinstance(a, (list, tuple)):
        return [_unwrap_host(v) for v in a]
    if isinstance(a, ndarray):
        _refuse("a device array inside a list given to cupy.asarray")
    return a


def asnumpy(a, stream=None, order="C", out=None, *, blocking=True):
    """The explicit transfer to the host (counted)."""
    if not isinstance(a, ndarray):
        return numpy.asarray(a, order=order)
    result = a.get(order=order)
    return _out(result, out) if out is not None else result


def get_array_module(*args):
    return sys.modules[__name__] if any(isinstance(a, ndarray) for a in args) else numpy


@_fn
def concatenate(tup, axis=0, out=None, *, dtype=None, casting="same_kind"):
    return numpy.concatenate(tup, axis, out, dtype=dtype, casting=casting)


@_fn
def stack(tup, axis=0, out=None, *, dtype=None, casting="same_kind"):
    return numpy.stack(tup, axis, out, dtype=dtype, casting=casting)


@_fn
def where(condition, x=None, y=None):
    return numpy.where(condition) if x is None else numpy.where(condition, x, y)


@_fn
def cumsum(a, axis=None, dtype=None, out=None):
    return numpy.cumsum(a, axis, dtype, out)


@_fn
def clip(a, a_min, a_max, out=None):
    return numpy.clip(a, a_min, a_max, out=out)


@_fn
def triu(m, k=0):
    return numpy.triu(m, k)


@_fn
def tril(m, k=0):
    return numpy.tril(m, k)


@_fn
def tri(N, M=None, k=0, dtype=float):
    return numpy.tri(N, M, k, dtype)


@_fn
def split(ary, indices_or_sections, axis=0):
    return numpy.split(ary, indices_or_sections, axis)


@_fn
def repeat(a, repeats, axis=None):
    return numpy.repeat(a, repeats, axis)


@_fn
def dot(a, b, out=None):
    return numpy.dot(a, b, out)


@_fn
def searchsorted(a, v, side="left", sorter=None):
    return numpy.searchsorted(a, v, side, sorter)


@_fn
def argsort(a, axis=-1, kind=None):
    return numpy.argsort(a, axis, kind)


@_fn
def sort(a, axis=-1, kind=None):
    return numpy.sort(a, axis, kind)


@_fn
def partition(a, kth, axis=-1):
    return numpy.partition(a, kth, axis)


@_fn
def broadcast_to(array, shape):
    return numpy.broadcast_to(array, shape)


@_fn
def expand_dims(a, axis):
    return numpy.expand_dims(a, axis)


@_fn
def allclose(a, b, rtol=1e-05, atol=1e-08, equal_nan=False):  # a 0-d bool array, as CuPy's
    return numpy.asarray(numpy.allclose(a, b, rtol, atol, equal_nan))


dtype, finfo, iinfo = numpy.dtype, numpy.finfo, numpy.iinfo
float16, float32, float64 = numpy.float16, numpy.float32, numpy.float64
int8, int16, int32, int64 = numpy.int8, numpy.int16, numpy.int32, numpy.int64
uint8, uint16, uint32, uint64 = numpy.uint8, numpy.uint16, numpy.uint32, numpy.uint64
bool_ = numpy.bool_
inf, nan, pi, e, newaxis = numpy.inf, numpy.nan, numpy.pi, numpy.e, numpy.newaxis


# ---- random: CuPy's Generator API, a stream that is not NumPy's --------------------------------
class _XORWOW:
    """CuPy's default bit generator: no raw state dict (its `state` is a method)."""

    def __init__(self, seed=None, *, size=-1):
        self._numpy = numpy.random.Generator(numpy.random.Philox(seed))

    def state(self):
        return id(self)  # CuPy returns a device pointer

    def random_raw(self, size=None, output=True):
        return ndarray._of(self._numpy.integers(0, 2 ** 32, size=size, dtype=numpy.uint64))


class _Generator:
    def __init__(self, bit_generator):
        self.bit_generator = bit_generator

    def integers(self, low, high=None, size=None, dtype=numpy.int64, endpoint=False):
        low, high = (0, low) if high is None else (low, high)
        g = self.bit_generator._numpy
        return ndarray._of(numpy.asarray(g.integers(int(low), int(high), size=size, dtype=dtype,
                                                    endpoint=endpoint)))

    def random(self, size=None, dtype=numpy.float64, out=None):
        draws = self.bit_generator._numpy.random(size, dtype=numpy.dtype(dtype).type)
        return _out(ndarray._of(numpy.asarray(draws)), out)

    def standard_normal(self, size=None, dtype=numpy.float64, out=None):
        if numpy.dtype(dtype).char not in "fd":
            raise TypeError("cupy.random only supports float32 and float64")
        draws = self.bit_generator._numpy.standard_normal(size, dtype=numpy.dtype(dtype).type)
        return _out(ndarray._of(numpy.asarray(draws)), out)

    def uniform(self, low=0.0, high=1.0, size=None, dtype=numpy.float64):
        draws = self.bit_generator._numpy.uniform(low, high, size).astype(dtype)
        return ndarray._of(numpy.asarray(draws))


def _default_rng(seed=None):
    return _Generator(_XORWOW(seed))


random = types.SimpleNamespace(default_rng=_default_rng, Generator=_Generator, XORWOW=_XORWOW)


# ---- cuda: one pretend device ------------------------------------------------------------------
class _Device:
    def __init__(self, device=None):
        self.id = 0 if device is None else int(device)

    def use(self):
        return self

    def synchronize(self):
        pass


class _MemoryPool:
    def used_bytes(self):
        return 0

    def total_bytes(self):
        return 0

    def free_all_blocks(self):
        pass


_POOL = _MemoryPool()


def get_default_memory_pool():
    return _POOL


def _device_properties(device):
    return {"name": b"cupy stand-in (NumPy)", "totalGlobalMem": 16 << 30, "major": 9,
            "minor": 0}


cuda = types.SimpleNamespace(
    is_available=lambda: True, Device=_Device,
    runtime=types.SimpleNamespace(
        getDeviceCount=lambda: 1, memGetInfo=lambda: (16 << 30, 16 << 30),
        getDeviceProperties=_device_properties, driverGetVersion=lambda: 12080,
        runtimeGetVersion=lambda: 12080, deviceSynchronize=lambda: None),
    Stream=types.SimpleNamespace(null=types.SimpleNamespace(synchronize=lambda: None)))


@contextlib.contextmanager
def installed():
    """Within the block `import cupy` gives this module (the counts start at 0)."""
    module = sys.modules[__name__]
    before = sys.modules.get("cupy")
    sys.modules["cupy"] = module
    reset_counts()
    try:
        yield module
    finally:
        if before is None:
            sys.modules.pop("cupy", None)
        else:
            sys.modules["cupy"] = before
