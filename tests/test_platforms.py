"""little_baby.platforms and `little-baby doctor`, on machines made of fakes.

A fake machine is a folder of programs put alone on PATH (`nvidia-smi`, `nvcc` that print
what the real ones print for a given GPU and CUDA, or garbage, or fail, or hang), fake
CUDA install folders, environment variables, and a fake Python interpreter: the real one
started with -S (no site-packages, so the CuPy it sees is only the stand-in packages this
file writes onto its PYTHONPATH), whose `-m pip install` is intercepted: it logs the
command and does what the test says, so pip never runs.
"""
import json
import os
import subprocess
import sys
import textwrap
import types
from pathlib import Path

import pytest

from little_baby import platforms
from little_baby.cli.main import main
from little_baby.errors import ConfigError, CorpusError
from little_baby.io.store.places import default_store

T4, L4 = ("Tesla T4", "7.5", 15360), ("NVIDIA L4", "8.9", 23034)  # name, compute capability, MiB
P100 = ("Tesla P100-PCIE-16GB", "6.0", 16384)
DRIVERS = {"11.8": "520.61.05", "12.2": "535.104.05", "12.4": "550.54.15", "13.0": "580.65.06"}

NVIDIA_SMI_HEADER = """\
Mon Jun  2 10:00:00 2025
+-----------------------------------------------------------------------------------------+
| NVIDIA-SMI {driver:<22}   Driver Version: {driver:<14} CUDA Version: {cuda:<8}|
|-----------------------------------------+------------------------+----------------------+
| GPU  Name                 Persistence-M | Bus-Id          Disp.A | Volatile Uncorr. ECC |
|   0  {name:<36} |   00000000:00:04.0 Off |                    0 |
+-----------------------------------------------------------------------------------------+
"""
NVCC = """\
nvcc: NVIDIA (R) Cuda compiler driver
Copyright (c) 2005-2024 NVIDIA Corporation
Built on Thu_Mar_28_02:18:24_PDT_2024
Cuda compilation tools, release {cuda}, V{cuda}.131
Build cuda_{cuda}.r{cuda}/compiler.34097967_0
"""
# A stand-in for CuPy: the calls the check makes, in plain Python (the -S interpreter has no numpy)
FAKE_CUPY = """\
__version__ = "14.2.0"
float32 = "float32"

class CUDARuntimeError(RuntimeError):
    pass

class _Array:
    def __init__(self, rows):
        self.rows = rows
    def reshape(self, r, c):
        flat = [x for row in self.rows for x in row]
        return _Array([flat[i * c:(i + 1) * c] for i in range(r)])
    @property
    def T(self):
        return _Array([list(col) for col in zip(*self.rows)])
    def __matmul__(self, other):
        return _Array([[{product} for col in zip(*other.rows)] for row in self.rows])
    def __mul__(self, k):
        return _Array([[x * k for x in row] for row in self.rows])
    def __add__(self, k):
        return _Array([[x + k for x in row] for row in self.rows])
    def tolist(self):
        return [list(row) for row in self.rows]

def arange(n, dtype=None):
    return _Array([[float(i) for i in range(n)]])

def asnumpy(a):
    return a

class cuda:
    class Device:
        def __init__(self, index):
            self.index = index
        def use(self):
            pass
    class runtime:
        @staticmethod
        def getDeviceCount():
            {device_count}
        @staticmethod
        def getDeviceProperties(i):
            return {{"name": b"Tesla T4"}}
        @staticmethod
        def runtimeGetVersion():
            return 12040
"""
CUPY_BEHAVIOURS = {
    "working": dict(product="sum(a * b for a, b in zip(row, col))", device_count="return 1"),
    "no driver": dict(product="0.0", device_count='raise CUDARuntimeError('
                      '"cudaErrorInsufficientDriver: CUDA driver version is insufficient")'),
    "wrong answers": dict(product="0.0", device_count="return 1"),
}


class Machine:
    """A fake machine under tmp_path; see the module's docstring."""

    def __init__(self, tmp_path, monkeypatch):
        self.tmp, self.mp = tmp_path, monkeypatch
        self.bin = tmp_path / "bin"
        self.bin.mkdir()
        self.site = tmp_path / "site"  # the fake interpreter's only packages
        self.site.mkdir()
        self.pip_log = tmp_path / "pip-calls.jsonl"
        self.pip_plan = tmp_path / "pip-plan.json"
        self.python = str(self._write_python())

    def program(self, name, answers, folder=None):
        """A program `name` that answers like `answers[mode]` = (stdout, exit code, seconds
        to hang), its mode being 'query' (nvidia-smi --query-gpu=...), 'compute_cap' (the same
        query with that field) or 'plain'."""
        path = (folder or self.bin) / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(f"""\
            #!{sys.executable}
            import sys, time
            answers = {answers!r}
            query = next((a for a in sys.argv[1:] if a.startswith("--query-gpu=")), None)
            mode = "plain" if query is None else "compute_cap" if "compute_cap" in query else "query"
            out, code, hang = answers.get(mode, answers.get("query", answers["plain"]))
            time.sleep(hang)
            (sys.stdout if code == 0 else sys.stderr).write(out)
            sys.exit(code)
            """))
        path.chmod(0o755)
        return path

    def nvidia_smi(self, cuda, *gpus):
        driver = DRIVERS[cuda]
        query = "".join(f"{name}, {cc}, {driver}, {mem}\n" for name, cc, mem in gpus)
        header = NVIDIA_SMI_HEADER.format(driver=driver, cuda=cuda, name=gpus[0][0])
        return self.program("nvidia-smi", {"query": (query, 0, 0), "plain": (header, 0, 0)})

    def nvcc(self, cuda, folder=None):
        return self.program("nvcc", {"plain": (NVCC.format(cuda=cuda), 0, 0)}, folder)

    def cuda_root(self, name, version_json=None, version_txt=None):
        root = self.tmp / name
        root.mkdir()
        if version_json is not None:
            (root / "version.json").write_text(version_json)
        if version_txt is not None:
            (root / "version.txt").write_text(version_txt)
        return root

    def install_cupy(self, distributions, behaviour="working", site=None):
        """Put a stand-in `cupy` package and these cupy-* distributions' metadata on the
        fake interpreter's path (or in `site`)."""
        site = site or self.site
        for name in distributions:
            info = site / f"{name.replace('-', '_')}-14.2.0.dist-info"
            info.mkdir(parents=True)
            (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 14.2.0\n")
        package = site / "cupy"
        package.mkdir(parents=True, exist_ok=True)
        (package / "__init__.py").write_text(FAKE_CUPY.format(**CUPY_BEHAVIOURS[behaviour]))

    def pip_will(self, exit_code=0, installs=None, output=""):
        """What the intercepted `pip install` does: exit with `exit_code` after copying the
        folder `installs` (made by install_cupy(site=...)) onto the fake interpreter's path."""
        self.pip_plan.write_text(json.dumps({"exit": exit_code, "output": output,
                                             "installs": str(installs) if installs else None}))

    def pip_calls(self):
        return [json.loads(line) for line in self.pip_log.read_text().splitlines()] \
            if self.pip_log.exists() else []

    def _write_python(self):
        path = self.tmp / "python"
        path.write_text(textwrap.dedent(f"""\
            #!{sys.executable} -S
            import json, os, shutil, sys
            args = sys.argv[1:]
            if args[:3] == ["-m", "pip", "install"]:
                with open({str(self.pip_log)!r}, "a") as log:
                    log.write(json.dumps([sys.argv[0], *args]) + "\\n")
                plan = json.load(open({str(self.pip_plan)!r})) if os.path.exists({str(self.pip_plan)!r}) else {{}}
                if plan.get("installs"):
                    shutil.copytree(plan["installs"], {str(self.site)!r}, dirs_exist_ok=True)
                sys.stderr.write(plan.get("output", ""))
                sys.exit(plan.get("exit", 1))
            os.execv({sys.executable!r}, [{sys.executable!r}, "-S", *args])
            """))
        path.chmod(0o755)
        self.mp.setenv("PYTHONPATH", str(self.site))
        return path


@pytest.fixture
def machine(tmp_path, monkeypatch):
    """No GPU, no CUDA, no platform markers, no CuPy: a blank machine to add fakes to."""
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    for name in ("CUDA_PATH", "CUDA_HOME", "KAGGLE_KERNEL_RUN_TYPE", "COLAB_RELEASE_TAG",
                 "LITTLE_BABY_STORE", "LITTLE_BABY_STORE", "LITTLE_BABY_INPUTS", "HF_TOKEN",
                 "HUGGING_FACE_HUB_TOKEN", "HF_OIDC_RESOURCE"):
        monkeypatch.delenv(name, raising=False)
    absent = tmp_path / "absent"
    monkeypatch.setattr(platforms.cuda, "CUDA_DEFAULT_ROOT", absent / "usr-local-cuda")
    monkeypatch.setattr(platforms.detect, "KAGGLE_INPUT", absent / "kaggle-input")
    monkeypatch.setattr(platforms.detect, "KAGGLE_WORKING", absent / "kaggle-working")
    monkeypatch.setattr(platforms.detect, "COLAB_CONTENT", absent / "content")
    monkeypatch.setattr(platforms.detect, "COLAB_DRIVE", absent / "content" / "drive")
    monkeypatch.setattr(platforms.cuda, "LIBCUDA", str(absent / "libcuda.so.1"))
    monkeypatch.setitem(sys.modules, "pynvml", None)  # `import pynvml` raises ImportError
    monkeypatch.setitem(sys.modules, "IPython", None)  # not in a notebook (pytest may run in one)
    return Machine(tmp_path, monkeypatch)


def pip(machine, requirement):
    return [machine.python, "-m", "pip", "install", requirement]


# ---- detection and the wheel, one machine each --------------------------------------------
def test_cuda_12_4_on_a_t4_with_its_toolkit(machine):
    machine.nvidia_smi("12.4", T4)
    machine.nvcc("12.4")
    found = platforms.diagnose(python=machine.python)
    gpu = found.cuda.gpus[0]
    assert (gpu.name, gpu.compute_capability, gpu.driver_version, gpu.memory_mib) == (
        "Tesla T4", (7, 5), "550.54.15", 15360)
    assert (found.cuda.driver, found.cuda.driver_source) == ((12, 4), "nvidia-smi")
    assert found.cuda.toolkit == (12, 4) and "nvcc" in found.cuda.toolkit_source
    assert found.choice.requirement == "cupy-cuda12x"
    assert found.command == pip(machine, "cupy-cuda12x")
    assert found.device == "cpu" and not found.installed  # diagnose never installs
    assert machine.pip_calls() == []


def test_cuda_11_8_takes_the_last_cupy_with_cuda_11(machine):
    machine.nvidia_smi("11.8", T4)
    root = machine.cuda_root("cuda-11.8",
                             version_json='{"cuda": {"name": "CUDA SDK", "version": "11.8.89"}}')
    machine.mp.setenv("CUDA_PATH", str(root))
    found = platforms.diagnose(python=machine.python)
    assert found.cuda.toolkit == (11, 8) and found.cuda.toolkit_source == str(root / "version.json")
    assert found.choice.package == "cupy-cuda11x"
    assert found.command == pip(machine, "cupy-cuda11x<14")


def test_cuda_13_0_on_a_recent_gpu(machine):
    machine.nvidia_smi("13.0", L4)
    root = machine.cuda_root("usr-local-cuda", version_json='{"cuda": {"version": "13.0.1"}}')
    machine.mp.setattr(platforms.cuda, "CUDA_DEFAULT_ROOT", root)  # without PATH or $CUDA_PATH
    found = platforms.diagnose(python=machine.python)
    assert found.cuda.compute_capability == (8, 9) and found.cuda.toolkit == (13, 0)
    assert found.command == pip(machine, "cupy-cuda13x")


@pytest.mark.parametrize("toolkit", [None, "13.0"])
def test_a_cuda_13_driver_on_compute_capability_6_gets_cuda_12(machine, toolkit):
    machine.nvidia_smi("13.0", P100)
    if toolkit:
        machine.nvcc(toolkit)
    found = platforms.diagnose(python=machine.python)
    assert found.cuda.compute_capability == (6, 0)
    assert found.choice.requirement == "cupy-cuda12x[ctk]"  # never cupy-cuda13x below 7.5
    assert "6.0" in found.choice.reason and "7.5" in found.choice.reason


def test_no_driver_means_numpy_said_plainly(machine):
    machine.nvcc("13.0")  # a toolkit alone is no GPU
    found = platforms.diagnose(python=machine.python)
    assert found.cuda.gpus == () and found.cuda.driver is None
    assert found.choice.package is None and found.command is None and found.device == "cpu"
    assert "No NVIDIA driver" in found.choice.reason and "NumPy" in found.choice.reason
    assert "nvidia-smi is not on PATH" in found.cuda.problems
    text = str(found)
    assert "training on    cpu (NumPy)" in text and "none: NumPy" in text


@pytest.mark.parametrize("cuda,gpu,wheel", [("12.4", T4, "cupy-cuda12x[ctk]"),
                                            ("13.0", L4, "cupy-cuda13x[ctk]")])
def test_a_driver_without_a_toolkit_takes_the_libraries_from_pip(machine, cuda, gpu, wheel):
    machine.nvidia_smi(cuda, gpu)
    found = platforms.diagnose(python=machine.python)
    assert found.cuda.toolkit is None
    assert "nvcc is not on PATH" in found.cuda.problems
    assert found.command == pip(machine, wheel)
    assert "No CUDA toolkit" in found.choice.reason and "[ctk]" in found.choice.reason


def test_garbage_from_nvidia_smi_and_nvcc_is_no_gpu_and_no_toolkit(machine):
    machine.program("nvidia-smi", {"query": ("Segmentation fault?! \x00\x01 ###\n", 0, 0),
                                   "plain": ("<html>not a driver</html>\n", 0, 0)})
    machine.program("nvcc", {"plain": ("something else entirely\n", 0, 0)})
    found = platforms.diagnose(python=machine.python)
    assert found.cuda.gpus == () and found.cuda.driver is None and found.cuda.toolkit is None
    problems = " | ".join(found.cuda.problems)
    assert "printed something unexpected" in problems and "CUDA Version: X.Y" in problems
    assert "no 'release X.Y'" in problems
    assert found.device == "cpu" and found.command is None


def test_a_failing_or_hanging_nvidia_smi_is_no_driver(machine):
    failed = "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver.\n"
    machine.program("nvidia-smi", {"query": (failed, 9, 0), "plain": (failed, 9, 0)})
    found = platforms.detect_cuda()
    assert found.driver is None
    assert any("exit 9" in p and "couldn't communicate" in p for p in found.problems)

    machine.mp.setattr(platforms.programs, "TIMEOUT", 0.5)
    machine.program("nvidia-smi", {"query": ("", 0, 30), "plain": ("", 0, 30)})
    found = platforms.detect_cuda()
    assert found.driver is None and any("did not answer within 0.5 s" in p for p in found.problems)


def test_a_malformed_version_json_falls_back_to_nvcc_in_the_same_folder(machine):
    root = machine.cuda_root("cuda", version_json="{not json")
    machine.nvcc("12.2", folder=root / "bin")
    machine.mp.setenv("CUDA_PATH", str(root))
    found = platforms.detect_cuda()
    assert found.toolkit == (12, 2) and str(root / "bin" / "nvcc") in found.toolkit_source
    assert any("is not CUDA's version file" in p for p in found.problems)


def test_cuda_path_comes_before_the_nvcc_on_path_as_cupy_looks(machine):
    machine.nvcc("13.0")
    root = machine.cuda_root("cuda-10", version_txt="CUDA Version 10.2.89\n")
    machine.mp.setenv("CUDA_PATH", str(root))
    found = platforms.detect_cuda()
    assert found.toolkit == (10, 2) and found.toolkit_source == str(root / "version.txt")


def test_an_old_driver_is_asked_again_without_compute_cap(machine):
    invalid = 'Field "compute_cap" is not a valid field to query.\n'
    machine.program("nvidia-smi", {
        "compute_cap": (invalid, 2, 0),
        "query": ("Tesla K80, 470.82.01, 11441\n", 0, 0),
        "plain": (NVIDIA_SMI_HEADER.format(driver="470.82.01", cuda="11.4", name="Tesla K80"), 0, 0)})
    machine.nvcc("11.4")
    found = platforms.diagnose(python=machine.python)
    assert found.cuda.gpus[0].name == "Tesla K80" and found.cuda.compute_capability is None
    assert found.command == pip(machine, "cupy-cuda11x<14")


def test_a_toolkit_newer_than_the_driver_is_not_used(machine):
    machine.nvidia_smi("12.2", T4)
    machine.nvcc("13.0")
    found = platforms.diagnose(python=machine.python)
    assert found.command == pip(machine, "cupy-cuda12x[ctk]")
    assert "newer than the driver's CUDA 12.2" in found.choice.reason


def test_nvml_answers_when_nvidia_smi_is_missing(machine):
    calls = []

    class Memory:
        total = 16 * 2**30

    fake = types.SimpleNamespace(
        nvmlInit=lambda: calls.append("init"), nvmlShutdown=lambda: calls.append("shutdown"),
        nvmlSystemGetDriverVersion=lambda: b"535.104.05",
        nvmlSystemGetCudaDriverVersion=lambda: 12020, nvmlDeviceGetCount=lambda: 1,
        nvmlDeviceGetHandleByIndex=lambda i: ("handle", i),
        nvmlDeviceGetCudaComputeCapability=lambda h: (7, 0),
        nvmlDeviceGetMemoryInfo=lambda h: Memory(), nvmlDeviceGetName=lambda h: "Tesla V100-SXM2-16GB")
    machine.mp.setitem(sys.modules, "pynvml", fake)
    found = platforms.detect_cuda()
    assert calls == ["init", "shutdown"]
    assert (found.driver, found.driver_source) == ((12, 2), "NVML")
    assert found.gpus[0] == platforms.Gpu(0, "Tesla V100-SXM2-16GB", (7, 0), "535.104.05", 16384)


@pytest.mark.parametrize("driver,toolkit,cc,requirement,words", [
    ((11, 8), None, (7, 5), None, "needs a CUDA 11.2-11.8 toolkit"),
    ((10, 2), None, (6, 0), None, "update the NVIDIA driver"),
    ((12, 4), (11, 1), (7, 5), "cupy-cuda12x[ctk]", "built for CUDA 11.2-11.8"),
    ((12, 8), (11, 8), (8, 0), "cupy-cuda11x<14", "matches the installed CUDA 11.8"),
    ((13, 0), (12, 6), (6, 0), "cupy-cuda12x", "matches the installed CUDA 12.6"),
    ((13, 0), None, None, "cupy-cuda12x[ctk]", "compute capability unknown"),
    ((14, 1), None, (10, 0), "cupy-cuda13x[ctk]", "driver runs CUDA 14.1"),
    ((14, 0), (14, 0), (9, 0), "cupy-cuda13x[ctk]", "no CuPy wheel for it yet"),
])
def test_choose_cupy(driver, toolkit, cc, requirement, words):
    choice = platforms.choose_cupy(driver, toolkit, cc)
    assert choice.requirement == requirement
    assert words in choice.reason


# ---- an installed CuPy ---------------------------------------------------------------------
def test_a_working_cupy_means_nothing_to_install(machine):
    machine.nvidia_smi("12.4", T4)
    machine.install_cupy(["cupy-cuda12x"])
    found = platforms.setup(python=machine.python, quiet=True)
    assert found.cupy.works and found.cupy.distributions == (("cupy-cuda12x", "14.2.0"),)
    assert (found.cupy.device, found.cupy.cuda_runtime) == ("Tesla T4", (12, 4))
    assert found.command is None and not found.installed and machine.pip_calls() == []
    assert found.device == "gpu" and found.backend == "CuPy 14.2.0 on Tesla T4"


def test_a_cupy_that_computes_wrong_answers_does_not_count(machine):
    machine.nvidia_smi("12.4", T4)
    machine.install_cupy(["cupy-cuda12x"], behaviour="wrong answers")
    found = platforms.diagnose(python=machine.python)
    assert not found.cupy.works and "came out wrong" in found.cupy.problem
    assert found.device == "cpu"


def test_conflicting_cupy_packages_are_reported_and_none_is_added(machine):
    machine.nvidia_smi("12.4", T4)
    machine.install_cupy(["cupy-cuda11x", "cupy_cuda12x"], behaviour="no driver")
    found = platforms.setup(python=machine.python, quiet=True)
    assert found.cupy.conflicts
    assert found.cupy.to_dict()["conflicting"] == ["cupy-cuda11x", "cupy-cuda12x"]
    assert found.command is None and machine.pip_calls() == [] and found.device == "cpu"
    advice = " ".join(found.advice)
    assert f"{machine.python} -m pip uninstall -y cupy-cuda11x" in advice  # keeps the right one
    assert f"then reinstall it: `{machine.python} -m pip install 'cupy-cuda12x[ctk]'`" in advice
    assert "conflicts      cupy-cuda11x, cupy-cuda12x" in str(found)


def test_a_broken_cupy_for_other_cuda_is_replaced_by_hand_not_doubled(machine):
    machine.nvidia_smi("12.4", T4)
    machine.install_cupy(["cupy-cuda11x"], behaviour="no driver")
    found = platforms.setup(python=machine.python, quiet=True)
    assert found.command is None and machine.pip_calls() == []
    advice = " ".join(found.advice)
    assert "cupy-cuda11x is installed but does not work (CUDARuntimeError: cudaErrorInsufficientDriver" in advice
    assert "pip uninstall -y cupy-cuda11x" in advice and "install 'cupy-cuda12x[ctk]'" in advice


def test_setup_installs_the_chosen_wheel_and_checks_it(machine):
    machine.nvidia_smi("12.4", T4)
    staged = machine.tmp / "wheel"
    machine.install_cupy(["cupy-cuda12x"], site=staged)
    machine.pip_will(exit_code=0, installs=staged)
    found = platforms.setup(python=machine.python, quiet=True)
    assert machine.pip_calls() == [pip(machine, "cupy-cuda12x[ctk]")]
    assert found.command == pip(machine, "cupy-cuda12x[ctk]")
    assert found.installed and found.cupy.works and found.device == "gpu"
    assert f"pip command    {machine.python} -m pip install 'cupy-cuda12x[ctk]'  (ran)" in str(found)


def test_setup_with_install_false_only_says_the_command(machine):
    machine.nvidia_smi("12.4", T4)
    found = platforms.setup(install=False, python=machine.python)
    assert found.command == pip(machine, "cupy-cuda12x[ctk]") and machine.pip_calls() == []
    assert "(would run)" in str(found)


def test_a_failed_install_says_what_to_do_and_stays_on_the_cpu(machine):
    machine.mp.setenv("KAGGLE_KERNEL_RUN_TYPE", "Interactive")
    machine.nvidia_smi("12.4", P100)
    machine.pip_will(exit_code=1, output="ERROR: Could not find a version that satisfies "
                                         "the requirement cupy-cuda12x\n")
    found = platforms.setup(python=machine.python, quiet=True)
    assert len(machine.pip_calls()) == 1 and found.device == "cpu" and not found.installed
    advice = found.advice[-1]
    assert "failed (exit 1: ERROR: Could not find a version" in advice
    assert "turn Internet on" in advice and "NumPy" in advice


def test_an_install_whose_check_fails_says_so(machine):
    machine.nvidia_smi("13.0", L4)
    staged = machine.tmp / "wheel"
    machine.install_cupy(["cupy-cuda13x"], behaviour="no driver", site=staged)
    machine.pip_will(exit_code=0, installs=staged)
    found = platforms.setup(python=machine.python, quiet=True)
    assert machine.pip_calls() == [pip(machine, "cupy-cuda13x[ctk]")]
    assert found.installed and not found.cupy.works and found.device == "cpu"
    assert "its check failed (CUDARuntimeError" in found.advice[-1]


def test_cupy_distributions_are_recognised_by_normalised_name():
    pairs = [("CuPy_CUDA12x", "14.2.0"), ("cupy", "13.0"), ("cupy-rocm-5-0", "13.6"),
             ("cupyx-extras", "1"), ("numpy", "2.3"), ("cupy-cuda12x", "dup")]
    assert platforms.cupy_distributions(pairs) == (
        ("cupy", "13.0"), ("cupy-cuda12x", "14.2.0"), ("cupy-rocm-5-0", "13.6"))


# ---- platforms -----------------------------------------------------------------------------
def test_platform_markers(machine, tmp_path):
    assert platforms.detect_platform() == "script"
    assert platforms.detect_platform({"COLAB_RELEASE_TAG": "release-colab_20250601"}) == "colab"
    both = {"COLAB_RELEASE_TAG": "x", "KAGGLE_KERNEL_RUN_TYPE": "Batch"}
    assert platforms.detect_platform(both) == "kaggle"  # Kaggle's image is built on Colab's
    working = tmp_path / "kaggle" / "working"
    working.mkdir(parents=True)
    machine.mp.setattr(platforms.detect, "KAGGLE_WORKING", working)
    assert platforms.detect_platform({}) == "kaggle"


def test_an_importable_google_colab_is_colab(machine, tmp_path):
    (tmp_path / "fakes" / "google" / "colab").mkdir(parents=True)
    (tmp_path / "fakes" / "google" / "colab" / "__init__.py").write_text("")
    assert platforms.detect_platform({}) == "script"
    machine.mp.syspath_prepend(str(tmp_path / "fakes"))
    machine.mp.delitem(sys.modules, "google", raising=False)  # restored after, if it was there
    try:
        assert platforms.detect_platform({}) == "colab"
    finally:  # forget the fake google package found through sys.path
        sys.modules.pop("google.colab", None)
        sys.modules.pop("google", None)


def test_an_ipython_kernel_is_jupyter(machine):
    class ZMQInteractiveShell:
        pass

    ipython = types.SimpleNamespace(get_ipython=ZMQInteractiveShell)
    machine.mp.setitem(sys.modules, "IPython", ipython)
    assert platforms.detect_platform({}) == "jupyter"


# ---- paths ---------------------------------------------------------------------------------
def read_only_mount(monkeypatch, *folders):
    """Make os.statvfs report `folders` (and what is inside) as a read-only file system,
    as Kaggle mounts /kaggle/input (root ignores permission bits, so chmod would not do)."""
    real = os.statvfs

    class Result:
        def __init__(self, result):
            self.f_flag = result.f_flag | os.ST_RDONLY

    def statvfs(path):
        result = real(path)
        inside = any(Path(path).resolve().is_relative_to(f.resolve()) for f in folders)
        return Result(result) if inside else result

    monkeypatch.setattr(os, "statvfs", statvfs)


def test_kaggle_reads_read_only_inputs_and_writes_under_working(machine, tmp_path):
    kaggle_input, working = tmp_path / "kaggle" / "input", tmp_path / "kaggle" / "working"
    (kaggle_input / "tiny-shakespeare").mkdir(parents=True)
    (kaggle_input / "tiny-shakespeare" / "input.txt").write_text("ROMEO: hi\n")
    working.mkdir()
    machine.mp.setattr(platforms.detect, "KAGGLE_INPUT", kaggle_input)
    machine.mp.setattr(platforms.detect, "KAGGLE_WORKING", working)
    machine.mp.setenv("KAGGLE_KERNEL_RUN_TYPE", "Interactive")
    read_only_mount(machine.mp, kaggle_input)
    assert not platforms.is_writable(kaggle_input / "tiny-shakespeare")
    paths = platforms.platform_paths()
    assert paths.work == working and paths.models == working / "models"
    assert platforms.is_writable(paths.models)
    assert paths.read_only == (kaggle_input,)
    found = platforms.find_text("input.txt", paths)
    assert found == kaggle_input / "tiny-shakespeare" / "input.txt"
    text = str(platforms.diagnose(python=machine.python))
    assert f"texts from     {kaggle_input} (read-only)" in text and "platform       Kaggle" in text


def test_a_read_only_working_folder_falls_back_to_a_temporary_one(machine, tmp_path):
    folder = tmp_path / "mounted-checkout"
    folder.mkdir()
    machine.mp.chdir(folder)
    read_only_mount(machine.mp, folder)
    paths = platforms.platform_paths("jupyter")
    assert not paths.models.is_relative_to(folder) and platforms.is_writable(paths.models)
    assert "cannot be written" in paths.notes[0]


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root writes anywhere")
def test_a_folder_without_write_permission_is_not_writable(tmp_path):
    folder = tmp_path / "locked"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        assert not platforms.is_writable(folder) and not platforms.is_writable(folder / "new" / "x")
    finally:
        folder.chmod(0o755)


def test_local_paths_follow_the_store_and_inputs_variables(machine, tmp_path):
    """A script's models go where the library puts them (io/store/places.py), a notebook's
    beside it (an older notebook's ./cache while it holds a model); both read texts from
    $LITTLE_BABY_INPUTS, then ./inputs."""
    machine.mp.chdir(tmp_path)
    assert platforms.platform_paths("script").models == default_store()
    assert platforms.platform_paths("jupyter").models == tmp_path / "models"
    (tmp_path / "cache" / "pip").mkdir(parents=True)  # a ./cache of something else's
    (tmp_path / "cache" / "config.json").write_text("{}")  # a file, not a model folder
    assert platforms.platform_paths("jupyter").models == tmp_path / "models"
    (tmp_path / "cache" / "some-guid").mkdir()
    (tmp_path / "cache" / "some-guid" / "config.json").write_text("{}")
    assert platforms.platform_paths("jupyter").models == tmp_path / "cache"  # an older store
    machine.mp.setenv("LITTLE_BABY_STORE", str(tmp_path / "mine"))
    machine.mp.setenv("LITTLE_BABY_INPUTS", str(tmp_path / "texts"))
    assert platforms.platform_paths("jupyter").models == tmp_path / "mine"
    paths = platforms.platform_paths("script")
    assert paths.models == tmp_path / "mine"
    assert paths.inputs == (tmp_path / "texts", tmp_path / "inputs")
    with pytest.raises(CorpusError, match=r"no text 'missing.txt'.*texts"):
        platforms.find_text("missing.txt", paths)


def test_colab_uses_a_drive_folder_once_it_is_mounted(machine, tmp_path):
    content = tmp_path / "content"
    content.mkdir()
    machine.mp.setattr(platforms.detect, "COLAB_CONTENT", content)
    machine.mp.setattr(platforms.detect, "COLAB_DRIVE", content / "drive")
    paths = platforms.platform_paths("colab", drive="babies")
    assert paths.models == content / "models" and "not mounted" in paths.notes[0]

    mounted = []
    drive = types.SimpleNamespace(mount=lambda where: (mounted.append(where),
                                                      (Path(where) / "MyDrive").mkdir(parents=True)))
    machine.mp.setitem(sys.modules, "google.colab", types.SimpleNamespace(drive=drive))
    assert platforms.mount_drive("babies") == content / "drive" / "MyDrive" / "babies"
    assert mounted == [str(content / "drive")]
    assert platforms.platform_paths("colab", drive="babies").models == (
        content / "drive" / "MyDrive" / "babies" / "models")


def test_mounting_drive_outside_colab_is_a_clear_error(machine):
    machine.mp.setitem(sys.modules, "google.colab", None)
    with pytest.raises(ConfigError, match="Colab only"):
        platforms.mount_drive("x")


# ---- the Hub token -------------------------------------------------------------------------
@pytest.fixture
def no_token(machine, tmp_path):
    from huggingface_hub import constants
    machine.mp.setattr(constants, "HF_TOKEN_PATH", str(tmp_path / "no-token"))
    return machine


def test_kaggle_token_comes_from_its_secret(no_token):
    class UserSecretsClient:
        def get_secret(self, name):
            assert name == "HF_TOKEN"
            return "hf_from_kaggle"

    secrets = types.SimpleNamespace(UserSecretsClient=UserSecretsClient)
    no_token.mp.setitem(sys.modules, "kaggle_secrets", secrets)
    token = platforms.hub_token("kaggle")
    assert (token.value, token.source) == ("hf_from_kaggle", "the Kaggle secret HF_TOKEN")
    assert "hf_from_kaggle" not in repr(token)


def test_a_missing_kaggle_secret_fails_softly_with_how_to_add_it(no_token):
    class UserSecretsClient:
        def get_secret(self, name):
            raise ConnectionError("no secret HF_TOKEN is attached")

    secrets = types.SimpleNamespace(UserSecretsClient=UserSecretsClient)
    no_token.mp.setitem(sys.modules, "kaggle_secrets", secrets)
    token = platforms.hub_token("kaggle")
    assert token.value is None
    assert "ConnectionError: no secret HF_TOKEN is attached" in token.advice
    assert "Add-ons > Secrets" in token.advice


def test_elsewhere_the_token_is_huggingface_hubs(no_token):
    assert platforms.hub_token("colab").value is None
    assert "key icon" in platforms.hub_token("colab").advice
    no_token.mp.setenv("HF_TOKEN", "hf_from_env")
    assert platforms.hub_token("colab").value == "hf_from_env"


# ---- little-baby doctor --------------------------------------------------------------------
def test_doctor_json_runs_here_and_says_numpy_on_the_cpu(tmp_path):
    """The real command on this machine (CI has no GPU): nothing to install, NumPy."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("LITTLE_BABY_STORE", "LITTLE_BABY_STORE", "LITTLE_BABY_INPUTS")}
    done = subprocess.run([sys.executable, "-m", "little_baby", "doctor", "--json"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=60, env=env)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    if report["driver_cuda"] is not None:
        pytest.skip(f"this machine has an NVIDIA driver (CUDA {report['driver_cuda']})")
    assert report["device"] == "cpu" and report["backend"] == "NumPy"
    assert report["cupy_choice"]["package"] is None and report["pip_command"] is None
    assert "No NVIDIA driver" in report["cupy_choice"]["reason"]
    assert report["paths"]["models"] == {"path": str(default_store()), "writable": True}
    assert set(report) >= {"platform", "gpus", "compute_capability", "toolkit_cuda", "cupy",
                           "advice", "hub_token"}


def test_doctor_prints_the_wheel_and_the_pip_command(machine, capsys):
    machine.nvidia_smi("13.0", P100)
    machine.mp.setattr(sys, "executable", machine.python)  # the interpreter it checks
    assert main(["doctor"]) == 0
    out = capsys.readouterr().out
    assert "GPU            Tesla P100-PCIE-16GB (compute capability 6.0, driver 580.65.06, 16,384 MiB)" in out
    assert "driver CUDA    13.0 (from nvidia-smi)" in out and "toolkit CUDA   not found" in out
    assert "CuPy wheel     cupy-cuda12x[ctk]" in out
    assert f"pip command    {machine.python} -m pip install 'cupy-cuda12x[ctk]'  (would run)" in out
    assert "training on    cpu (NumPy)" in out and machine.pip_calls() == []
