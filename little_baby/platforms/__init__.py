"""Where the code runs and how to use its GPU: the platform (Kaggle, Colab, Jupyter or a
script), the NVIDIA driver's and the CUDA toolkit's versions, the CuPy wheel they call
for, and `setup()`, which installs that wheel only when no working CuPy is there.

    from little_baby import platforms
    gpu = platforms.setup()            # pip-installs CuPy if (and only if) it is needed
    print(gpu)                         # what was found, done and advised
    BabyConfig(c_device=gpu.device)    # 'gpu' once CuPy works, else 'cpu' (NumPy)

One module per concern, in the order setup() uses them:
    detect.py       the platform, and the folders each one defines
    cuda.py         the GPUs, the driver's CUDA and the toolkit's (nvidia-smi, NVML, nvcc ...)
    wheel.py        the CuPy wheel for them, and pip's commands
    cupy_status.py  the CuPy installed and whether it works (engine/cupy_check.py, run fresh)
    install.py      what to install, diagnose() and setup()
    doctor.py       the report of what was found, done and advised (`little-baby doctor`)
    notebook.py     where texts and models go on each platform, Google Drive, the Hub token
    programs.py     running nvidia-smi, nvcc or pip without hanging or raising

Every outside source (a program, a file, a library) may be missing, hang, fail or print
something unexpected: each failure is recorded in plain words and the next source is tried.
This package is for notebooks and the command line; the library never imports it.
"""
from .cuda import Cuda, Gpu, detect_cuda, parse_gpu_query, parse_version, version_text
from .cupy_status import CupyStatus, cupy_distributions, probe_cupy
from .detect import PLATFORM_NAMES, detect_platform
from .doctor import GpuSetup
from .install import diagnose, plan_install, setup
from .notebook import Paths, Token, find_text, hub_token, is_writable, mount_drive, platform_paths
from .programs import command_text, run_tool
from .wheel import CupyChoice, choose_cupy, pip_install_command, pip_uninstall_command

__all__ = ["Cuda", "CupyChoice", "CupyStatus", "Gpu", "GpuSetup", "PLATFORM_NAMES", "Paths",
           "Token", "choose_cupy", "command_text", "cupy_distributions", "detect_cuda",
           "detect_platform", "diagnose", "find_text", "hub_token", "is_writable",
           "mount_drive", "parse_gpu_query", "parse_version", "pip_install_command",
           "pip_uninstall_command", "plan_install", "platform_paths", "probe_cupy",
           "run_tool", "setup", "version_text"]
