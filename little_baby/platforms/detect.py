"""Which platform this code runs on (Kaggle, Colab, Jupyter or a script), and the
folders each platform defines (module constants, so tests can point them elsewhere)."""
import importlib.util
import os
import sys
from pathlib import Path

KAGGLE_INPUT = Path("/kaggle/input")  # datasets attached to the notebook: read-only
KAGGLE_WORKING = Path("/kaggle/working")  # writable, kept as the notebook's output
COLAB_CONTENT = Path("/content")  # Colab's writable working folder
COLAB_DRIVE = Path("/content/drive")  # where google.colab.drive mounts Google Drive

PLATFORM_NAMES = {"kaggle": "Kaggle", "colab": "Google Colab", "jupyter": "Jupyter",
                  "script": "a script or terminal"}


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

