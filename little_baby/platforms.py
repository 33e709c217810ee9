"""Where the code runs and how to use its GPU: the platform (Kaggle, Colab, Jupyter or a
script), the NVIDIA driver's and the CUDA toolkit's versions, the CuPy wheel they call
for, and `setup()`, which installs that wheel only when no working CuPy is there.

    from little_baby import platforms
    gpu = platforms.setup()            # pip-installs CuPy if (and only if) it is needed
    print(gpu)                         # what was found, done and advised
    BabyConfig(c_device=gpu.device)    # 'gpu' once CuPy works, else 'cpu' (NumPy)

Facts this rests on (CuPy's installation guide, docs.cupy.dev/en/stable/install.html, and
NVIDIA's CUDA release notes):
- prebuilt wheels: cupy-cuda12x (CUDA 12.x) and cupy-cuda13x (CUDA 13.x) in CuPy 14;
  cupy-cuda11x (CUDA 11.2-11.8) ends with CuPy 13. The `[ctk]` extra brings the CUDA
  libraries from pip, so a driver is all the machine needs. No maintained package picks
  the wheel for you: `choose_cupy` does.
- the driver's CUDA version (nvidia-smi's header, NVML) is the newest CUDA it can run;
  the toolkit's (nvcc, the CUDA install's version.json) is what is installed.
- CUDA 13 dropped GPUs below compute capability 7.5 (the P100, the V100 ...).
- Colab ships cupy-cuda12x, and Kaggle's image is built on Colab's: a working CuPy means
  nothing to install, and a second cupy-* package beside another would overwrite its files.
- Kaggle's /kaggle/input is read-only; outputs belong in /kaggle/working.

Every outside source (a program, a file, a library) may be missing, hang, fail or print
something unexpected: each failure is recorded in plain words and the next source is tried.
This module is for notebooks and the command line; the engine never imports it.
"""
import csv
import ctypes
import dataclasses
import importlib.util
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from .errors import ConfigError, CorpusError

# ---- places the platforms define (module constants, so tests can point them elsewhere) ---
KAGGLE_INPUT = Path("/kaggle/input")  # datasets attached to the notebook: read-only
KAGGLE_WORKING = Path("/kaggle/working")  # writable, kept as the notebook's output
COLAB_CONTENT = Path("/content")  # Colab's writable working folder
COLAB_DRIVE = Path("/content/drive")  # where google.colab.drive mounts Google Drive
CUDA_DEFAULT_ROOT = Path("/usr/local/cuda")  # where CUDA installers put the toolkit
LIBCUDA = "nvcuda.dll" if os.name == "nt" else "libcuda.so.1"  # the driver's library

TIMEOUT = 15  # seconds for nvidia-smi or nvcc to answer
CHECK_TIMEOUT = 300  # seconds for the CuPy check (a first kernel compiles, a cold import is slow)

PLATFORM_NAMES = {"kaggle": "Kaggle", "colab": "Google Colab", "jupyter": "Jupyter",
                  "script": "a script or terminal"}

WHEELS = {11: "cupy-cuda11x", 12: "cupy-cuda12x", 13: "cupy-cuda13x"}  # CUDA major -> wheel
NEWEST_CUDA = max(WHEELS)
CUDA13_MIN_CC = (7, 5)  # CUDA 13 runs on compute capability 7.5 (Turing) and newer
CUPY_DISTRIBUTION = re.compile(r"cupy(-(cuda|rocm)[a-z0-9-]*)?")  # normalised names


# ---- the platform --------------------------------------------------------------------------
def detect_platform(env=None):
    """'kaggle', 'colab', 'jupyter' or 'script'.

    Kaggle is checked first (its image is built on Colab's): KAGGLE_KERNEL_RUN_TYPE or a
    /kaggle/working folder. Colab: COLAB_RELEASE_TAG or an importable google.colab.
    Jupyter: an IPython kernel (ZMQ) shell. Anything else is a script.
    """
    env = os.environ if env is None else env
    if env.get("KAGGLE_KERNEL_RUN_TYPE") or KAGGLE_WORKING.is_dir():
        return "kaggle"
    if env.get("COLAB_RELEASE_TAG") or _importable("google.colab"):
        return "colab"
    if _in_jupyter():
        return "jupyter"
    return "script"


def _importable(name):
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):  # a missing parent package ('google') raises
        return False


def _in_jupyter():
    ipython = sys.modules.get("IPython")  # only a running IPython has it loaded
    try:
        shell = ipython.get_ipython() if ipython is not None else None
    except Exception:  # a half-imported or unusual IPython: not a notebook we know
        return False
    return shell is not None and (type(shell).__name__ == "ZMQInteractiveShell"
                                  or getattr(shell, "kernel", None) is not None)


# ---- running a program ---------------------------------------------------------------------
def run_tool(args, timeout=None):
    """(stdout, None) of a program's run, or (None, what went wrong): not on PATH, could
    not start, no answer within `timeout` seconds, or a nonzero exit (with its first line)."""
    program = shutil.which(args[0])
    shown = shlex.join([os.path.basename(args[0]), *args[1:]])
    if program is None:
        return None, f"{os.path.basename(args[0])} is not on PATH" if os.sep not in args[0] \
            else f"{args[0]} does not exist or is not executable"
    timeout = TIMEOUT if timeout is None else timeout
    try:
        done = subprocess.run([program, *args[1:]], capture_output=True, text=True,
                              errors="replace", timeout=timeout, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return None, f"`{shown}` did not answer within {timeout:g} s"
    except OSError as e:
        return None, f"`{shown}` could not run ({e.strerror or e})"
    if done.returncode != 0:
        first = _first_line(done.stderr) or _first_line(done.stdout)
        return None, f"`{shown}` failed (exit {done.returncode})" + (f": {first}" if first else "")
    return done.stdout, None


def _first_line(text):
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    return lines[0][:200] if lines else ""


def _excerpt(text, n=80):
    flat = " ".join((text or "").split())
    return repr(flat[:n] + ("..." if len(flat) > n else ""))


# ---- the GPUs and the driver ---------------------------------------------------------------
@dataclass(frozen=True)
class Gpu:
    """One NVIDIA GPU as nvidia-smi or NVML describes it."""
    index: int
    name: str
    compute_capability: tuple | None  # (major, minor), e.g. (7, 5) for a T4
    driver_version: str | None  # e.g. '550.54.15'
    memory_mib: int | None

    def to_dict(self):
        return {"index": self.index, "name": self.name,
                "compute_capability": version_text(self.compute_capability),
                "driver_version": self.driver_version, "memory_mib": self.memory_mib}


GPU_QUERY = ("name", "compute_cap", "driver_version", "memory.total")


def parse_gpu_query(text, fields=GPU_QUERY):
    """The GPUs in `nvidia-smi --query-gpu=<fields> --format=csv,noheader,nounits` output;
    ValueError if it is not that (a wrong number of fields, a malformed number)."""
    gpus = []
    rows = [row for row in csv.reader((text or "").splitlines(), skipinitialspace=True) if row]
    for i, row in enumerate(rows):
        values = dict(zip(fields, (v.strip() for v in row)))
        if len(row) != len(fields) or not values["name"] or values["name"].startswith("["):
            raise ValueError(f"line {i + 1} is not {len(fields)} fields ({', '.join(fields)})")
        cc = values.get("compute_cap", "[N/A]")
        driver = values["driver_version"]
        memory = values["memory.total"]
        if not (_na(cc) or re.fullmatch(r"\d+\.\d+", cc)):
            raise ValueError(f"compute capability {cc!r} is not a number like 7.5")
        if not (_na(driver) or re.fullmatch(r"\d+(\.\d+)+", driver)):
            raise ValueError(f"driver version {driver!r} is not a version like 550.54.15")
        if not (_na(memory) or memory.isdigit()):
            raise ValueError(f"memory {memory!r} is not a number of MiB")
        gpus.append(Gpu(i, values["name"], None if _na(cc) else parse_version(cc),
                        None if _na(driver) else driver, None if _na(memory) else int(memory)))
    if not gpus:
        raise ValueError("it lists no GPU")
    return gpus


def _na(value):
    return value in ("", "[N/A]", "N/A", "[Not Supported]")


def gpus_from_nvidia_smi(problems):
    """The GPUs nvidia-smi lists, or [] (with the reason appended to `problems`).
    Drivers older than 510 do not know the compute_cap field: then it is asked without."""
    fields = GPU_QUERY
    out, problem = _query_gpus(fields)
    if out is None and shutil.which("nvidia-smi"):  # maybe an old driver: ask without it
        fields = tuple(f for f in GPU_QUERY if f != "compute_cap")
        out, _ = _query_gpus(fields)
    if out is None:
        problems.append(problem)
        return []
    try:
        return parse_gpu_query(out, fields)
    except ValueError as e:
        problems.append(f"nvidia-smi --query-gpu printed something unexpected ({e}): "
                        f"{_excerpt(out)}")
        return []


def _query_gpus(fields):
    return run_tool(["nvidia-smi", f"--query-gpu={','.join(fields)}",
                     "--format=csv,noheader,nounits"])


def driver_cuda_from_nvidia_smi(problems):
    """The driver's CUDA version from nvidia-smi's header ('CUDA Version: 12.4'), or None."""
    out, problem = run_tool(["nvidia-smi"])
    if out is None:
        problems.append(problem)
        return None
    match = re.search(r"CUDA Version\s*:\s*(\d+)\.(\d+)", out)
    if match is None:
        problems.append(f"nvidia-smi's header has no 'CUDA Version: X.Y': {_excerpt(out)}")
        return None
    return int(match[1]), int(match[2])


def from_nvml(problems):
    """(GPUs, the driver's CUDA version) from NVML through pynvml (the nvidia-ml-py
    package, optional), or ([], None)."""
    try:
        import pynvml
    except ImportError:
        problems.append("NVML was not asked: pynvml is not installed (pip install nvidia-ml-py)")
        return [], None
    try:
        pynvml.nvmlInit()
        try:
            driver = _text(pynvml.nvmlSystemGetDriverVersion())
            cuda = pynvml.nvmlSystemGetCudaDriverVersion()  # e.g. 12040 for 12.4
            gpus = []
            for i in range(pynvml.nvmlDeviceGetCount()):
                handle = pynvml.nvmlDeviceGetHandleByIndex(i)
                cc = tuple(int(v) for v in pynvml.nvmlDeviceGetCudaComputeCapability(handle))
                memory = int(pynvml.nvmlDeviceGetMemoryInfo(handle).total) // 2**20
                gpus.append(Gpu(i, _text(pynvml.nvmlDeviceGetName(handle)), cc, driver, memory))
        finally:
            pynvml.nvmlShutdown()
    except Exception as e:  # pynvml.NVMLError (no driver, no GPU ...) or a broken install
        problems.append(f"NVML: {type(e).__name__}: {e}")
        return [], None
    return gpus, _cuda_from_int(cuda)


def _text(value):
    return value.decode() if isinstance(value, bytes) else str(value)


def _cuda_from_int(value):
    """12040 -> (12, 4): how the driver API and NVML encode CUDA versions."""
    value = int(value)
    return (value // 1000, (value % 1000) // 10) if value > 0 else None


def driver_cuda_from_libcuda(problems):
    """The driver's CUDA version from its own library (cuDriverGetVersion), or None."""
    try:
        lib = ctypes.CDLL(LIBCUDA)
        version = ctypes.c_int()
        status = lib.cuDriverGetVersion(ctypes.byref(version))
    except (OSError, AttributeError) as e:
        problems.append(f"{LIBCUDA} cannot be loaded ({e})")
        return None
    if status != 0 or version.value <= 0:
        problems.append(f"{LIBCUDA}: cuDriverGetVersion failed (status {status})")
        return None
    return _cuda_from_int(version.value)


# ---- the toolkit ---------------------------------------------------------------------------
def toolkit_cuda(problems):
    """(version, where it was read) of the installed CUDA toolkit, or (None, None).

    Looked for where CuPy looks for it (cupy/_environment.py): $CUDA_PATH (and
    $CUDA_HOME), then the folder of the nvcc on PATH, then /usr/local/cuda. In each, the
    version.json of CUDA 11.1+, the version.txt of older toolkits, then `bin/nvcc --version`.
    """
    roots = [("$" + name, Path(os.environ[name])) for name in ("CUDA_PATH", "CUDA_HOME")
             if os.environ.get(name)]
    for label, root in roots:
        version, source = _toolkit_at(label, root, problems)
        if version:
            return version, source
    nvcc = shutil.which("nvcc")
    if nvcc is None:
        problems.append("nvcc is not on PATH")
    else:
        version = _nvcc_version(nvcc, problems)
        if version:
            return version, f"nvcc --version ({nvcc})"
    return _toolkit_at(str(CUDA_DEFAULT_ROOT), CUDA_DEFAULT_ROOT, problems)


def _toolkit_at(label, root, problems):
    if not root.is_dir():
        problems.append(f"no CUDA toolkit at {root} ({label})" if label != str(root)
                        else f"no CUDA toolkit at {root}")
        return None, None
    json_file, txt_file = root / "version.json", root / "version.txt"
    if json_file.is_file():
        try:
            text = json_file.read_text(encoding="utf-8", errors="replace")
            return parse_version(json.loads(text)["cuda"]["version"]), str(json_file)
        except (OSError, ValueError, KeyError, TypeError) as e:
            problems.append(f"{json_file} is not CUDA's version file ({type(e).__name__}: {e})")
    if txt_file.is_file():
        try:
            text = txt_file.read_text(encoding="utf-8", errors="replace")
            match = re.search(r"CUDA Version\s+(\d+)\.(\d+)", text)
            if match:
                return (int(match[1]), int(match[2])), str(txt_file)
            problems.append(f"{txt_file} has no 'CUDA Version X.Y': {_excerpt(text)}")
        except OSError as e:
            problems.append(f"{txt_file} cannot be read ({e})")
    nvcc = root / "bin" / ("nvcc.exe" if os.name == "nt" else "nvcc")
    if nvcc.is_file():
        version = _nvcc_version(str(nvcc), problems)
        if version:
            return version, f"nvcc --version ({nvcc})"
    else:
        problems.append(f"{root} has no version.json, version.txt or bin/nvcc")
    return None, None


def _nvcc_version(nvcc, problems):
    out, problem = run_tool([nvcc, "--version"])
    if out is None:
        problems.append(problem)
        return None
    match = re.search(r"release (\d+)\.(\d+)", out)
    if match is None:
        problems.append(f"`nvcc --version` has no 'release X.Y': {_excerpt(out)}")
        return None
    return int(match[1]), int(match[2])


def parse_version(text):
    """'12.4.131' -> (12, 4); ValueError if it does not start with two numbers."""
    match = re.match(r"\s*(\d+)\.(\d+)", str(text))
    if match is None:
        raise ValueError(f"{text!r} is not a version like 12.4")
    return int(match[1]), int(match[2])


def version_text(version):
    return None if version is None else ".".join(str(v) for v in version)


# ---- everything CUDA, together -------------------------------------------------------------
@dataclass(frozen=True)
class Cuda:
    """What this machine has for CUDA, with each source that failed and why."""
    gpus: tuple
    driver: tuple | None  # the newest CUDA the driver runs, (major, minor)
    driver_source: str | None
    toolkit: tuple | None  # the installed toolkit's CUDA, (major, minor)
    toolkit_source: str | None
    problems: tuple

    @property
    def compute_capability(self):
        """The lowest compute capability of the GPUs (the wheel must run on all of them),
        or None when any is unknown."""
        ccs = [g.compute_capability for g in self.gpus]
        return min(ccs) if ccs and None not in ccs else None


def detect_cuda():
    """The GPUs (nvidia-smi, then NVML), the driver's CUDA (nvidia-smi's header, then
    NVML, then libcuda) and the toolkit's CUDA (see toolkit_cuda)."""
    problems = []
    gpus = gpus_from_nvidia_smi(problems)
    driver, driver_source = driver_cuda_from_nvidia_smi(problems), "nvidia-smi"
    if not gpus or driver is None:
        nvml_gpus, nvml_driver = from_nvml(problems)
        gpus = gpus or nvml_gpus
        if driver is None and nvml_driver is not None:
            driver, driver_source = nvml_driver, "NVML"
    if driver is None:
        driver, driver_source = driver_cuda_from_libcuda(problems), LIBCUDA
    toolkit, toolkit_source = toolkit_cuda(problems)
    return Cuda(tuple(gpus), driver, driver_source if driver else None, toolkit,
                toolkit_source, tuple(dict.fromkeys(problems)))


# ---- the wheel -----------------------------------------------------------------------------
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
    drv, cc = version_text(driver), _cc_text(compute_capability)
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
        return f"CUDA 13 does not run on compute capability {_cc_text(cc)} (it needs 7.5 or newer)"
    return None


def _runs_cuda13(cc):
    return cc is not None and tuple(cc) >= CUDA13_MIN_CC


def _cc_text(cc):
    return version_text(cc) if cc is not None else "unknown (nvidia-smi did not say)"


def pip_install_command(requirement, python=None):
    """The command that installs `requirement` into `python`'s environment (by default
    this one's)."""
    return [python or sys.executable, "-m", "pip", "install", requirement]


def pip_uninstall_command(packages, python=None):
    return [python or sys.executable, "-m", "pip", "uninstall", "-y", *packages]


def command_text(command):
    """A command as one line to paste into a shell."""
    return shlex.join(command) if command else None


# ---- the CuPy that is installed ------------------------------------------------------------
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


# Run by a fresh interpreter, so a CuPy installed a moment ago is seen and a crash in
# CUDA's initialisation cannot take the caller down. Prints one line: MARKER + JSON.
PROBE_MARKER = "LITTLE_BABY_CUPY_PROBE "
PROBE = r"""
import json
report = {"distributions": [], "importable": False, "works": False}
try:
    from importlib.metadata import distributions
    report["distributions"] = [[d.metadata["Name"] or "", d.version or ""] for d in distributions()]
except Exception as e:
    report["problem"] = "importlib.metadata failed: %s" % e
try:
    import cupy
    report["importable"] = True
    report["version"] = str(cupy.__version__)
    if cupy.cuda.runtime.getDeviceCount() < 1:
        raise RuntimeError("CuPy sees no GPU")
    name = cupy.cuda.runtime.getDeviceProperties(0)["name"]
    report["device"] = name.decode() if isinstance(name, bytes) else str(name)
    report["cuda_runtime"] = int(cupy.cuda.runtime.runtimeGetVersion())
    a = cupy.arange(12, dtype=cupy.float32).reshape(3, 4)
    got = cupy.asnumpy((a @ a.T) * 0.5 + 1.0).tolist()  # cuBLAS, then a kernel NVRTC compiles
    rows = [[4.0 * r + c for c in range(4)] for r in range(3)]
    want = [[sum(x * y for x, y in zip(p, q)) * 0.5 + 1.0 for q in rows] for p in rows]
    if any(abs(g - w) > 1e-3 for gr, wr in zip(got, want) for g, w in zip(gr, wr)):
        raise RuntimeError("a small matrix product came out wrong: %r" % (got,))
    report["works"] = True
except Exception as e:
    text = str(e).strip()
    report["problem"] = type(e).__name__ + (": " + text.splitlines()[0] if text else "")
print("LITTLE_BABY_CUPY_PROBE " + json.dumps(report))
"""


def probe_cupy(python=None, timeout=None):
    """The CupyStatus of `python`'s environment (this one's by default), found by a
    fresh interpreter that lists the distributions and runs a small kernel."""
    timeout = CHECK_TIMEOUT if timeout is None else timeout
    out, problem = run_tool([python or sys.executable, "-c", PROBE], timeout=timeout)
    if out is None:
        return CupyStatus(problem=f"the CuPy check could not run: {problem}")
    line = next((line for line in reversed(out.splitlines()) if line.startswith(PROBE_MARKER)),
                None)
    try:
        report = json.loads(line[len(PROBE_MARKER):])
    except (TypeError, ValueError):
        return CupyStatus(problem=f"the CuPy check printed no report: {_excerpt(out)}")
    runtime = report.get("cuda_runtime")
    return CupyStatus(
        distributions=cupy_distributions(tuple(p) for p in report.get("distributions", [])),
        importable=bool(report.get("importable")), works=bool(report.get("works")),
        version=report.get("version"), device=report.get("device"),
        cuda_runtime=_cuda_from_int(runtime) if isinstance(runtime, int) else None,
        problem=report.get("problem"))


def plan_install(choice, cupy, python=None):
    """(the pip command to run or None, advice): what setup() does about CuPy.

    Nothing when CuPy works or there is no wheel to choose. Never a second cupy-*
    distribution beside another: advice to remove it instead. Installing the chosen
    wheel over the same one is allowed when it adds the [ctk] libraries."""
    installed = [name for name, _ in cupy.distributions]
    pip_install = _shown(pip_install_command(choice.requirement or "", python))
    on_cpu = "Training runs on NumPy, on the CPU, meanwhile."
    advice = []
    if cupy.conflicts:
        keep = choice.package if choice.package in installed else installed[0]
        extra = _shown(pip_uninstall_command([n for n in installed if n != keep], python))
        advice.append(f"Several CuPy packages are installed ({', '.join(installed)}); they "
                      f"overwrite each other's files. Keep one: {extra}"
                      + ("" if cupy.works or not choice.package else
                         f", then reinstall it: {pip_install}") + ", and restart the runtime.")
    if cupy.works:
        return None, advice
    if choice.package is None:
        return None, advice + [choice.reason]
    if cupy.conflicts:
        return None, advice + [on_cpu]
    if installed and installed[0] != choice.package:
        return None, advice + [
            f"{installed[0]} is installed but does not work ({cupy.problem}), and this machine "
            f"needs {choice.requirement}: {choice.reason} Replace it: "
            f"{_shown(pip_uninstall_command(installed, python))}, then {pip_install}, and "
            f"restart the runtime. {on_cpu}"]
    if installed and "[ctk]" not in choice.requirement:
        return None, advice + [
            f"{installed[0]} is installed and fits the CUDA toolkit but does not work "
            f"({cupy.problem}). Check that `nvidia-smi` sees the GPU and that the toolkit's "
            f"libraries are complete. {on_cpu}"]
    return pip_install_command(choice.requirement, python), advice


def _shown(command):
    return f"`{command_text(command)}`"


# ---- paths ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Paths:
    """Where texts are read from and models written to on this platform."""
    work: Path  # writable: downloads and outputs
    models: Path  # the model store: pass it as `cache=` to fit and from_pretrained
    inputs: tuple  # folders searched for texts, first first
    read_only: tuple  # the input folders that cannot be written (never write there)
    notes: tuple = ()

    def to_dict(self):
        return {"work": {"path": str(self.work), "writable": is_writable(self.work)},
                "models": {"path": str(self.models), "writable": is_writable(self.models)},
                "inputs": [{"path": str(p), "exists": p.is_dir(), "read_only": p in self.read_only}
                           for p in self.inputs],
                "notes": list(self.notes)}


def is_writable(path):
    """Whether files can be made in `path` (or, if it does not exist yet, where it would
    be made): not on a read-only file system (Kaggle's /kaggle/input is one) and
    writable by this user."""
    path = Path(path).absolute()
    while not path.exists() and path != path.parent:
        path = path.parent
    if not path.is_dir():
        return False
    try:
        if os.statvfs(path).f_flag & os.ST_RDONLY:
            return False
    except (AttributeError, OSError):  # Windows has no statvfs
        pass
    return os.access(path, os.W_OK | os.X_OK)


def platform_paths(platform=None, drive=None):
    """The Paths of `platform` (detected by default).

    Kaggle: texts from /kaggle/input/... (read-only), models under /kaggle/working.
    Colab: /content, or the Google Drive folder `drive` (a name under MyDrive) once it is
    mounted (see mount_drive). Elsewhere: ./inputs and ./cache ($LITTLE_BABY_INPUTS and
    $LITTLE_BABY_CACHE when set). A work folder that cannot be written falls back to a
    temporary one, with a note.
    """
    platform = platform or detect_platform()
    notes = []
    inputs = []
    if platform == "kaggle":
        work = KAGGLE_WORKING
        inputs = [KAGGLE_INPUT, work / "inputs"]
    elif platform == "colab":
        work = COLAB_CONTENT if COLAB_CONTENT.is_dir() else Path.cwd()
        if drive:
            folder = COLAB_DRIVE / "MyDrive" / drive
            if (COLAB_DRIVE / "MyDrive").is_dir():
                work = folder
            else:
                notes.append(f"Google Drive is not mounted, so {folder} is not used: "
                             f"platforms.mount_drive({str(drive)!r}) mounts it.")
        inputs = [work / "inputs", work]
    else:
        work = Path.cwd()
        if os.environ.get("LITTLE_BABY_INPUTS"):
            inputs.append(Path(os.environ["LITTLE_BABY_INPUTS"]))
        inputs.append(work / "inputs")
    models = Path(os.environ["LITTLE_BABY_CACHE"]) if (
        platform not in ("kaggle", "colab") and os.environ.get("LITTLE_BABY_CACHE")) \
        else work / "cache"
    if not is_writable(models):
        fallback = Path(tempfile.gettempdir()) / "little-baby"
        notes.append(f"{models} cannot be written (a read-only folder), so models go to "
                     f"{fallback / 'cache'}, which does not outlive the machine.")
        work, models = (fallback, fallback / "cache") if not is_writable(work) else (
            work, fallback / "cache")
    read_only = tuple(p for p in inputs if p.is_dir() and not is_writable(p))
    return Paths(work, models, tuple(dict.fromkeys(inputs)), read_only, tuple(notes))


def find_text(name, paths=None):
    """The path of the text `name`: a file that exists, else a file of that name in the
    platform's input folders (on Kaggle also inside an attached dataset,
    /kaggle/input/<dataset>/...). A CorpusError says where it looked."""
    paths = paths or platform_paths()
    if Path(name).is_file():
        return Path(name)
    for folder in paths.inputs:
        if not folder.is_dir():
            continue
        for depth in range(4):  # /kaggle/input/<owner>/<dataset>/<version>/name at most
            found = sorted(p for p in folder.glob("*/" * depth + Path(name).name) if p.is_file())
            if found:
                return found[0]
    where = ", ".join(str(p) for p in paths.inputs)
    raise CorpusError(f"no text {str(name)!r}: it is not a file, nor in {where}. Give its "
                      f"path, or add it (Kaggle: 'Add Input'; Colab: the Files pane).")


def mount_drive(folder="little-baby"):
    """On Colab, mount Google Drive (Colab asks for permission) and return the folder
    MyDrive/<folder>, made if need be: models written there outlive the runtime."""
    try:
        from google.colab import drive
    except ImportError as e:
        raise ConfigError("Google Drive can be mounted on Colab only; leave the Drive folder "
                          "empty elsewhere.") from e
    drive.mount(str(COLAB_DRIVE))
    path = COLAB_DRIVE / "MyDrive" / folder
    path.mkdir(parents=True, exist_ok=True)
    return path


# ---- the Hugging Face token ----------------------------------------------------------------
@dataclass(frozen=True)
class Token:
    """A Hub token (never printed), where it came from, or what to do to have one."""
    value: str | None = field(default=None, repr=False)
    source: str | None = None
    advice: str | None = None

    def to_dict(self):
        return {"found": self.value is not None, "source": self.source, "advice": self.advice}


SECRET_ADVICE = {
    "kaggle": "add a secret named HF_TOKEN (Add-ons > Secrets), tick it for this notebook, and "
              "run again",
    "colab": "add a secret named HF_TOKEN (the key icon on the left) and give this notebook "
             "access to it, or run `from huggingface_hub import login; login()`",
}


def hub_token(platform=None):
    """The Hugging Face token of this platform: on Kaggle its secret HF_TOKEN
    (kaggle_secrets.UserSecretsClient), else what huggingface_hub.get_token finds
    (the HF_TOKEN variable, Colab's HF_TOKEN secret, the file `hf auth login` writes).
    A missing or unreadable secret is no error: the Token says how to add it."""
    platform = platform or detect_platform()
    problem = ""
    if platform == "kaggle":
        try:
            from kaggle_secrets import UserSecretsClient
            value = UserSecretsClient().get_secret("HF_TOKEN")
            if value:
                return Token(value, "the Kaggle secret HF_TOKEN")
        except Exception as e:  # no such module, no secret, not attached to this notebook
            problem = f"the Kaggle secret HF_TOKEN could not be read ({type(e).__name__}: {e}); "
    from huggingface_hub import get_token
    value = get_token()
    if value:
        return Token(value, "huggingface_hub.get_token (HF_TOKEN, a Colab secret or "
                            "`hf auth login`)")
    todo = SECRET_ADVICE.get(platform, "set HF_TOKEN, or run `hf auth login`")
    return Token(None, None, f"No Hugging Face token: {problem}{todo}.")


# ---- setup ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class GpuSetup:
    """What setup() (or diagnose()) found, did and advises."""
    platform: str
    cuda: Cuda
    choice: CupyChoice
    cupy: CupyStatus  # after any install
    command: list | None  # the pip command run (setup) or that setup would run (diagnose)
    installed: bool
    device: str  # 'gpu' or 'cpu': pass it as c_device
    advice: tuple
    paths: Paths

    @property
    def backend(self):
        return (f"CuPy {self.cupy.version} on {self.cupy.device}" if self.device == "gpu"
                else "NumPy")

    def to_dict(self):
        cuda = self.cuda
        return {"platform": self.platform, "platform_name": PLATFORM_NAMES[self.platform],
                "gpus": [g.to_dict() for g in cuda.gpus],
                "compute_capability": version_text(cuda.compute_capability),
                "driver_cuda": version_text(cuda.driver), "driver_cuda_source": cuda.driver_source,
                "toolkit_cuda": version_text(cuda.toolkit),
                "toolkit_cuda_source": cuda.toolkit_source,
                "cupy_choice": self.choice.to_dict(),
                "pip_command": self.command, "pip_command_text": command_text(self.command),
                "installed_now": self.installed, "cupy": self.cupy.to_dict(),
                "device": self.device, "backend": self.backend,
                "advice": list(self.advice), "paths": self.paths.to_dict(),
                "detection_notes": list(cuda.problems)}

    def lines(self):
        """The summary as lines of text (what `little-baby doctor` prints)."""
        cuda, cupy, choice = self.cuda, self.cupy, self.choice
        gpus = [f"{g.name} (compute capability {_cc_text(g.compute_capability)}, driver "
                f"{g.driver_version or '?'}" + (f", {g.memory_mib:,} MiB)" if g.memory_mib else ")")
                for g in cuda.gpus] or ["none found"]
        out = [f"platform       {PLATFORM_NAMES[self.platform]}",
               f"GPU            {gpus[0]}", *[f"               {g}" for g in gpus[1:]],
               f"driver CUDA    {_found(cuda.driver, cuda.driver_source)}",
               f"toolkit CUDA   {_found(cuda.toolkit, cuda.toolkit_source)}",
               f"CuPy wheel     {choice.requirement or 'none: NumPy'} ({choice.reason})"]
        if self.command:
            verb = "ran" if self.installed else "would run"
            out.append(f"pip command    {command_text(self.command)}  ({verb})")
        elif cupy.works:
            out.append("pip command    none needed: a working CuPy is installed")
        else:
            out.append("pip command    none")
        installed = ", ".join(f"{n} {v}" for n, v in cupy.distributions) or "no cupy package"
        state = ("works" + (f" on {cupy.device}" if cupy.device else "") if cupy.works
                 else f"does not work: {cupy.problem}" if cupy.distributions or cupy.importable
                 else "")
        out.append(f"installed      {installed}" + (f"; {state}" if state else ""))
        out.append(f"conflicts      {', '.join(n for n, _ in cupy.distributions)}"
                   if cupy.conflicts else "conflicts      none")
        out.append(f"training on    {self.device} ({self.backend})")
        p = self.paths
        for label, folder in (("models go to  ", p.models), ("work folder   ", p.work)):
            out.append(f"{label} {folder}" + ("" if is_writable(folder) else " (NOT writable)"))
        out.append("texts from     " + ", ".join(
            str(f) + (" (read-only)" if f in p.read_only else "") for f in p.inputs))
        out += [f"note           {n}" for n in p.notes]
        out += [f"to do          {a}" for a in self.advice if a != choice.reason]
        return out

    def __str__(self):
        return "\n".join(self.lines())


def _found(version, source):
    return f"{version_text(version)} (from {source})" if version else "not found"


def diagnose(python=None, drive=None):
    """Everything setup() would look at and do, without installing anything."""
    platform = detect_platform()
    cuda = detect_cuda()
    choice = choose_cupy(cuda.driver, cuda.toolkit, cuda.compute_capability)
    cupy = probe_cupy(python)
    command, advice = plan_install(choice, cupy, python)
    return GpuSetup(platform, cuda, choice, cupy, command, False,
                    "gpu" if cupy.works else "cpu", tuple(advice),
                    platform_paths(platform, drive))


def setup(install=True, python=None, drive=None, quiet=False):
    """Make CuPy work if this machine has a GPU for it, and return a GpuSetup whose
    `device` is what training should use ('gpu' or 'cpu').

    A working CuPy: nothing is installed. Otherwise the chosen wheel is installed with
    `python -m pip install` (`install=False`: only said), then checked with a small
    kernel. No GPU, no wheel for this CUDA, another cupy-* package in the way or a failed
    install: the advice says what to do, and the device is 'cpu' (NumPy). `drive` (Colab):
    a Google Drive folder to keep the models in, mounted first.
    """
    platform = detect_platform()
    if drive and platform == "colab" and not (COLAB_DRIVE / "MyDrive").is_dir():
        mount_drive(drive)
    found = diagnose(python, drive)
    if found.command is None or not install:
        return found
    say = (lambda *_: None) if quiet else print
    say(f"Installing {found.choice.requirement}: {command_text(found.command)}")
    try:
        done = subprocess.run(found.command, capture_output=True, text=True, errors="replace",
                              stdin=subprocess.DEVNULL)
        failure = None if done.returncode == 0 else (
            f"exit {done.returncode}: {_last_line(done.stderr) or _last_line(done.stdout)}")
    except OSError as e:
        failure = str(e)
    if failure:
        where = ("On Kaggle, turn Internet on (the notebook's Settings) and run again. "
                 if platform == "kaggle" else "Check the network, or run it yourself. ")
        return dataclasses.replace(found, advice=found.advice + (
            f"`{command_text(found.command)}` failed ({failure}). {where}Training runs on "
            f"NumPy, on the CPU, meanwhile.",))
    after = probe_cupy(python)
    if after.works:
        advice = found.advice
        if "cupy" in sys.modules:  # an older CuPy is already imported in this process
            advice += ("CuPy was imported before it was installed: restart the runtime "
                       "(or the kernel) so the new one is used.",)
        say(f"CuPy {after.version} works on {after.device}.")
        return dataclasses.replace(found, cupy=after, installed=True, device="gpu",
                                   advice=advice)
    return dataclasses.replace(found, cupy=after, installed=True, advice=found.advice + (
        f"{found.choice.requirement} was installed but its check failed ({after.problem}). "
        f"Restart the runtime (or the kernel) and run setup() again; if it still fails, run "
        f"`little-baby doctor`. Training runs on NumPy, on the CPU, meanwhile.",))


def _last_line(text):
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    return lines[-1][:300] if lines else ""
