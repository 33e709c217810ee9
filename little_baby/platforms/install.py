"""Making CuPy work: the pip command this machine needs (never a second cupy-* package
beside another), `diagnose()`, which only says it, and `setup()`, which runs it and checks
the result.

    from little_baby import platforms
    gpu = platforms.setup()            # pip-installs CuPy if (and only if) it is needed
    print(gpu)                         # what was found, done and advised
    BabyConfig(c_device=gpu.device)    # 'gpu' once CuPy works, else 'cpu' (NumPy)
"""
import dataclasses
import subprocess
import sys

from . import detect
from .cuda import detect_cuda
from .cupy_status import probe_cupy
from .doctor import GpuSetup
from .notebook import mount_drive, platform_paths
from .programs import command_text, last_line
from .wheel import choose_cupy, pip_install_command, pip_uninstall_command


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


def diagnose(python=None, drive=None):
    """Everything setup() would look at and do, without installing anything."""
    platform = detect.detect_platform()
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
    platform = detect.detect_platform()
    if drive and platform == "colab" and not (detect.COLAB_DRIVE / "MyDrive").is_dir():
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
            f"exit {done.returncode}: {last_line(done.stderr) or last_line(done.stdout)}")
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

