"""The CuPy installed in an interpreter's environment: its cupy-* distributions and
whether it works, as engine/cupy_check.py finds out in a fresh interpreter (so a CuPy
installed a moment ago is seen, and a crash in CUDA's start cannot take the caller down).

- Colab ships cupy-cuda12x, and Kaggle's image is built on Colab's: a working CuPy means
  nothing to install, and a second cupy-* package beside another would overwrite its files.
"""
import re
import sys
from dataclasses import dataclass

from ..engine import cupy_check
from .cuda import cuda_from_int, version_text
from .programs import excerpt, run_tool

CHECK_TIMEOUT = 300  # seconds for the CuPy check (a first kernel compiles, a cold import is slow)
CUPY_DISTRIBUTION = re.compile(r"cupy(-(cuda|rocm)[a-z0-9-]*)?")  # normalised names


@dataclass(frozen=True)
class CupyStatus:
    """The cupy-* distributions installed, and whether CuPy imports and runs a kernel."""
    distributions: tuple = ()  # ((name, version), ...)
    importable: bool = False
    works: bool = False
    version: str | None = None
    device: str | None = None  # the GPU CuPy runs on
    cuda_runtime: tuple | None = None  # the CUDA the wheel was built for
    problem: str | None = None

    @property
    def conflicts(self):
        """More than one cupy-* distribution: they share the `cupy` package's files."""
        return len(self.distributions) > 1

    def to_dict(self):
        return {"distributions": [{"name": n, "version": v} for n, v in self.distributions],
                "importable": self.importable, "works": self.works, "version": self.version,
                "device": self.device, "cuda_runtime": version_text(self.cuda_runtime),
                "conflicting": [n for n, _ in self.distributions] if self.conflicts else [],
                "problem": self.problem}


def cupy_distributions(pairs):
    """The CuPy distributions among (name, version) pairs, by normalised name (PEP 503)."""
    found = {}
    for name, version in pairs:
        normal = re.sub(r"[-_.]+", "-", str(name or "")).lower()
        if CUPY_DISTRIBUTION.fullmatch(normal):
            found.setdefault(normal, str(version or ""))
    return tuple(sorted(found.items()))



def probe_cupy(python=None, timeout=None):
    """The CupyStatus of `python`'s environment (this one's by default), found by
    engine/cupy_check.py run in a fresh interpreter."""
    timeout = CHECK_TIMEOUT if timeout is None else timeout
    out, problem = run_tool(cupy_check.command(python or sys.executable), timeout=timeout)
    if out is None:
        return CupyStatus(problem=f"the CuPy check could not run: {problem}")
    report = cupy_check.read(out)
    if not isinstance(report, dict):
        return CupyStatus(problem=f"the CuPy check printed no report: {excerpt(out)}")
    runtime = report.get("cuda_runtime")
    return CupyStatus(
        distributions=cupy_distributions(tuple(p) for p in report.get("distributions", [])),
        importable=bool(report.get("importable")), works=bool(report.get("works")),
        version=report.get("version"), device=report.get("device"),
        cuda_runtime=cuda_from_int(runtime) if isinstance(runtime, int) else None,
        problem=report.get("problem"))
