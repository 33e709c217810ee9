"""Running an outside program (nvidia-smi, nvcc, pip, a fresh Python): it may be missing,
hang, fail or print something unexpected, and each of those comes back as a sentence,
never as an exception."""
import os
import shlex
import shutil
import subprocess

TIMEOUT = 15  # seconds for nvidia-smi or nvcc to answer


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
        first = first_line(done.stderr) or first_line(done.stdout)
        return None, f"`{shown}` failed (exit {done.returncode})" + (f": {first}" if first else "")
    return done.stdout, None


def command_text(command):
    """A command as one line to paste into a shell."""
    return shlex.join(command) if command else None


def first_line(text):
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    return lines[0][:200] if lines else ""


def last_line(text):
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    return lines[-1][:300] if lines else ""


def excerpt(text, n=80):
    """The start of `text` on one line, quoted: what an unexpected answer looked like."""
    flat = " ".join((text or "").split())
    return repr(flat[:n] + ("..." if len(flat) > n else ""))
