"""The CuPy wheel for this machine's driver, toolkit and GPUs, and the pip commands
that install or remove one.

Facts this rests on (CuPy's installation guide, docs.cupy.dev/en/stable/install.html):
- prebuilt wheels: cupy-cuda12x (CUDA 12.x) and cupy-cuda13x (CUDA 13.x) in CuPy 14;
  cupy-cuda11x (CUDA 11.2-11.8) ends with CuPy 13. The `[ctk]` extra brings the CUDA
  libraries from pip, so a driver is all the machine needs. No maintained package picks
  the wheel for you: `choose_cupy` does.
- CUDA 13 dropped GPUs below compute capability 7.5 (the P100, the V100 ...).
"""
import dataclasses
import sys
from dataclasses import dataclass

from .cuda import cc_text, version_text

WHEELS = {11: "cupy-cuda11x", 12: "cupy-cuda12x", 13: "cupy-cuda13x"}  # CUDA major -> wheel
NEWEST_CUDA = max(WHEELS)
CUDA13_MIN_CC = (7, 5)  # CUDA 13 runs on compute capability 7.5 (Turing) and newer


@dataclass(frozen=True)
class CupyChoice:
    """The CuPy wheel for this machine (None: stay on NumPy) and why."""
    package: str | None  # the distribution, e.g. 'cupy-cuda12x'
    requirement: str | None  # what pip installs, e.g. 'cupy-cuda12x[ctk]', 'cupy-cuda11x<14'
    reason: str

    def to_dict(self):
        return dataclasses.asdict(self)


def choose_cupy(driver, toolkit=None, compute_capability=None):
    """The CuPy wheel for a driver that runs CUDA `driver` (major, minor), an installed
    toolkit `toolkit` (or None) and the GPUs' lowest compute capability (or None).

    A toolkit the driver and the GPU can run: the wheel of its major version, which
    loads its libraries. Otherwise the driver's major (at most the newest wheel's) with
    the [ctk] extra, which brings the libraries from pip. cupy-cuda11x only for a
    CUDA 11.2-11.8 toolkit, pinned below CuPy 14 (which dropped it, and it has no [ctk]);
    cupy-cuda13x never below compute capability 7.5 (cupy-cuda12x runs on a CUDA 13 driver).
    """
    if driver is None:
        return CupyChoice(None, None, "No NVIDIA driver was found, so there is no GPU to "
                                      "use: training runs on NumPy, on the CPU.")
    drv, cc = version_text(driver), cc_text(compute_capability)
    if toolkit is not None:
        why_not = _toolkit_unusable(driver, toolkit, compute_capability)
        if why_not is None:
            package = WHEELS[toolkit[0]]
            requirement = f"{package}<14" if toolkit[0] == 11 else package
            return CupyChoice(package, requirement,
                              f"{package} matches the installed CUDA {version_text(toolkit)} "
                              f"toolkit, which the driver (CUDA {drv}) runs.")
        toolkit_note = f"The CUDA {version_text(toolkit)} toolkit cannot be used: {why_not}. "
    else:
        toolkit_note = "No CUDA toolkit is installed. "
    major = min(driver[0], NEWEST_CUDA)
    gpu_note = ""
    if major == 13 and not _runs_cuda13(compute_capability):
        major = 12
        gpu_note = (f" CUDA 13 does not run on compute capability {cc} (it needs 7.5 or "
                    f"newer), so CUDA 12, which the driver also runs.")
    if major >= 12:
        package = WHEELS[major]
        return CupyChoice(package, f"{package}[ctk]",
                          f"{toolkit_note}The driver runs CUDA {drv}: {package} with the [ctk] "
                          f"extra, which installs the CUDA {major} libraries from pip.{gpu_note}")
    if major == 11:
        return CupyChoice(None, None,
                          f"{toolkit_note}The driver runs CUDA {drv} at most, and CuPy's CUDA 11 "
                          f"wheel (cupy-cuda11x<14) needs a CUDA 11.2-11.8 toolkit (it has no "
                          f"[ctk] extra). Install one, or update the NVIDIA driver to one for "
                          f"CUDA 12 or newer. Training runs on NumPy, on the CPU, meanwhile.")
    return CupyChoice(None, None,
                      f"{toolkit_note}The driver runs CUDA {drv} at most, older than any CuPy "
                      f"wheel (CUDA 11.2 and newer): update the NVIDIA driver. Training runs "
                      f"on NumPy, on the CPU, meanwhile.")


def _toolkit_unusable(driver, toolkit, cc):
    """Why the toolkit cannot serve a wheel here, or None if it can."""
    major, minor = toolkit
    if major == 11 and not 2 <= minor <= 8:
        return "cupy-cuda11x is built for CUDA 11.2-11.8"
    if major not in WHEELS:
        return ("it is older than any CuPy wheel" if major < min(WHEELS)
                else "there is no CuPy wheel for it yet")
    if driver[0] < major:
        return f"it is newer than the driver's CUDA {version_text(driver)}"
    if major == 13 and not _runs_cuda13(cc):
        return f"CUDA 13 does not run on compute capability {cc_text(cc)} (it needs 7.5 or newer)"
    return None


def _runs_cuda13(cc):
    return cc is not None and tuple(cc) >= CUDA13_MIN_CC


def pip_install_command(requirement, python=None):
    """The command that installs `requirement` into `python`'s environment (by default
    this one's)."""
    return [python or sys.executable, "-m", "pip", "install", requirement]


def pip_uninstall_command(packages, python=None):
    return [python or sys.executable, "-m", "pip", "uninstall", "-y", *packages]

