"""What a training report records besides losses: the hardware, and the loss curve as
a PNG (matplotlib is optional: without it the plot is skipped, never an error)."""
import os
import platform
import sys

import numpy

from ..io.store.files import atomic_path


def hardware(backend):
    """The machine a run used: CPU, cores, OS, Python, NumPy and the device."""
    info = {"device": backend.device, "dtype": str(backend.dtype), "cpu": _cpu_name(),
            "cpu_count": os.cpu_count(), "os": platform.platform(),
            "python": sys.version.split()[0], "numpy": numpy.__version__}
    if backend.device == "gpu":
        import cupy
        props = cupy.cuda.runtime.getDeviceProperties(cupy.cuda.Device().id)
        name = props["name"]
        info.update(gpu=name.decode() if isinstance(name, bytes) else name, cupy=cupy.__version__)
    return info


def _cpu_name():
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def plot_losses(evals, path, title=""):
    """Draw the train and validation losses of `evals` (dicts with step, train, val) into
    a small PNG at `path`; False (and no file) when matplotlib is not installed."""
    try:
        from matplotlib.figure import Figure
    except ImportError:
        return False
    fig = Figure(figsize=(6, 3.5), dpi=80)
    ax = fig.subplots()
    steps = [e["step"] for e in evals]
    ax.plot(steps, [e["train"] for e in evals], label="train", marker=".")
    ax.plot(steps, [e["val"] for e in evals], label="validation", marker=".")
    ax.set(xlabel="step", ylabel="cross-entropy (nats per token)", title=title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    return True
