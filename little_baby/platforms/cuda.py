"""What this machine has for CUDA: its NVIDIA GPUs, the newest CUDA its driver runs and
the CUDA toolkit installed, each read from several sources (nvidia-smi, NVML, the
driver's library; $CUDA_PATH, nvcc, /usr/local/cuda), each failure recorded in plain
words before the next source is tried.

- the driver's CUDA version (nvidia-smi's header, NVML) is the newest CUDA it can run;
  the toolkit's (nvcc, the CUDA install's version.json) is what is installed
  (NVIDIA's CUDA release notes).
"""
import csv
import ctypes
import json
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from .programs import excerpt, run_tool

CUDA_DEFAULT_ROOT = Path("/usr/local/cuda")  # where CUDA installers put the toolkit
LIBCUDA = "nvcuda.dll" if os.name == "nt" else "libcuda.so.1"  # the driver's library


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
                        f"{excerpt(out)}")
        return []


def _query_gpus(fields):
    return run_tool(["nvidia-smi", f"--query-gpu={','.join(fields)}",
                     "--format=csv,noheader,nounits"])


def driver_cuda_from_nvidia_smi(problems):
    """The driver's CUDA version from nvidia-smi's header ('CUDA Version: 12.4'), or None."""
    return _version_printed(["nvidia-smi"], r"CUDA Version\s*:\s*(\d+)\.(\d+)",
                            "nvidia-smi's header has no 'CUDA Version: X.Y'", problems)


def _version_printed(args, pattern, missing, problems):
    """(major, minor) that the program `args` prints, matched by `pattern`'s two groups,
    or None with why (it did not run, or printed `missing`) appended to `problems`."""
    out, problem = run_tool(args)
    if out is None:
        problems.append(problem)
        return None
    match = re.search(pattern, out)
    if match is None:
        problems.append(f"{missing}: {excerpt(out)}")
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
    return gpus, cuda_from_int(cuda)


def _text(value):
    return value.decode() if isinstance(value, bytes) else str(value)


def cuda_from_int(value):
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
    return cuda_from_int(version.value)


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
            problems.append(f"{txt_file} has no 'CUDA Version X.Y': {excerpt(text)}")
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
    return _version_printed([nvcc, "--version"], r"release (\d+)\.(\d+)",
                            "`nvcc --version` has no 'release X.Y'", problems)


def parse_version(text):
    """'12.4.131' -> (12, 4); ValueError if it does not start with two numbers."""
    match = re.match(r"\s*(\d+)\.(\d+)", str(text))
    if match is None:
        raise ValueError(f"{text!r} is not a version like 12.4")
    return int(match[1]), int(match[2])


def version_text(version):
    return None if version is None else ".".join(str(v) for v in version)


def cc_text(cc):
    """A compute capability as text, or why it is unknown."""
    return version_text(cc) if cc is not None else "unknown (nvidia-smi did not say)"


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
