"""Does CuPy work here? The package's one answer: CuPy imports, sees the GPU, and a small
matrix product and an elementwise kernel on it come out right (cuBLAS, then a kernel
NVRTC compiles: a wheel without its CUDA libraries imports fine and fails there).

backend.py asks `cupy_problem` before the engine uses a GPU (and `gpu_usable()` for
whoever must choose a device); platforms/cupy_status.py and tools/gpu_check.py run this
file in a fresh interpreter (`command(python)`, then `read(its output)`), where a crash in
CUDA's start cannot take the caller down and a CuPy installed a moment ago is seen.
Standard library only, so it runs in an interpreter that has nothing else installed.
"""
import json

MARKER = "LITTLE_BABY_CUPY_CHECK "  # starts the line of JSON this program prints
RUN = "import runpy, sys; runpy.run_path(sys.argv[1], run_name='__main__')"


def cupy_problem(cupy, gpu_index=0):
    """None when the imported module `cupy` runs on GPU `gpu_index` (made the current
    device), else why not in a few words."""
    try:
        count = cupy.cuda.runtime.getDeviceCount()
        if count <= gpu_index:
            return "CuPy sees no GPU" if count < 1 else f"CuPy sees {count} GPUs, not GPU {gpu_index}"
        cupy.cuda.Device(gpu_index).use()
        a = cupy.arange(12, dtype=cupy.float32).reshape(3, 4)
        got = cupy.asnumpy((a @ a.T) * 0.5 + 1.0).tolist()  # [3, 3]: cuBLAS, then a kernel
    except Exception as e:  # CUDARuntimeError, a missing library, a compile failure ...
        return said(e)
    rows = [[4.0 * r + c for c in range(4)] for r in range(3)]  # a, [3, 4], on the host
    want = [[sum(x * y for x, y in zip(p, q)) * 0.5 + 1.0 for q in rows] for p in rows]
    if any(abs(g - w) > 1e-3 for gr, wr in zip(got, want) for g, w in zip(gr, wr)):
        return f"a small matrix product came out wrong: {got!r}"
    return None


def said(e):
    """An exception as one line: its type and its message's first line."""
    text = str(e).strip()
    return type(e).__name__ + (": " + text.splitlines()[0] if text else "")


def report():
    """{distributions: [[name, version], ...] of this interpreter, importable, works,
    version, device (the GPU's name), cuda_runtime (e.g. 12040), problem}."""
    out = {"distributions": [], "importable": False, "works": False}
    try:
        from importlib.metadata import distributions
        out["distributions"] = [[d.metadata["Name"] or "", d.version or ""]
                                for d in distributions()]
    except Exception as e:
        out["problem"] = f"importlib.metadata failed: {e}"
    try:
        import cupy
    except Exception as e:  # ImportError, or a broken install's own error
        out["problem"] = said(e)
        return out
    out["importable"], out["version"] = True, str(cupy.__version__)
    problem = cupy_problem(cupy)
    if problem:
        out["problem"] = problem
        return out
    name = cupy.cuda.runtime.getDeviceProperties(0)["name"]
    out.update(works=True, device=name.decode() if isinstance(name, bytes) else str(name),
               cuda_runtime=int(cupy.cuda.runtime.runtimeGetVersion()))
    return out


def command(python):
    """The command that runs this file in the interpreter `python`: by path, so nothing of
    the package is imported and none of its folders is put on sys.path."""
    return [python, "-c", RUN, __file__]


def read(out):
    """The report() in this program's output `out`, or None where it printed none."""
    line = next((line for line in reversed(out.splitlines()) if line.startswith(MARKER)), None)
    try:
        return json.loads(line[len(MARKER):])
    except (TypeError, ValueError):
        return None


if __name__ == "__main__":
    print(MARKER + json.dumps(report()))
