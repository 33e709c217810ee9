"""The doctor's report: what setup() or diagnose() found on this machine, did and
advises, as lines of text (`little-baby doctor`) or a dict (`--json`)."""
from dataclasses import dataclass

from .cuda import Cuda, cc_text, version_text
from .cupy_status import CupyStatus
from .detect import PLATFORM_NAMES
from .notebook import Paths, is_writable
from .programs import command_text
from .wheel import CupyChoice


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
        gpus = [f"{g.name} (compute capability {cc_text(g.compute_capability)}, driver "
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

