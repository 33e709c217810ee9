"""The Little Baby as a Gradio app: `python spaces/app.py`, or a Hugging Face Space
(README.md's header tells the Hub to run this file).

Settings (environment):
  LITTLE_BABY_SPACE_MODELS  the models in the picker, os.pathsep between names (ages,
                            GUIDs, Hub repo ids, folders); default: the five age models
                            and the model folders in models/ beside this file
  LITTLE_BABY_SPACE_DEVICE  auto (the GPU when CuPy sees one), cpu or gpu
  LITTLE_BABY_SPACE_MAX_MODEL_BYTES, _MAX_JSON_BYTES, _MAX_IMAGE_BYTES,
  _MAX_LOADED_BYTES, _MAX_FORWARD_BYTES, _LOAD_SECONDS, _DOWNLOAD_SECONDS,
  _REFUSAL_SECONDS, _RETRY_SECONDS
                            the shelf's limits (baby_space/models.py, README.md)
  GRADIO_SERVER_NAME/PORT   where to listen (default 127.0.0.1:7860; a Space sets these)
"""
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))  # baby_space/, and little_baby/ when uploaded beside this file
import baby_space  # noqa: E402,F401  first: it turns analytics and telemetry off
try:
    import little_baby  # noqa: F401  installed (pip install -e ".[space]"), or beside this file
except ImportError:  # run from a checkout that was not installed: the package is one folder up
    sys.path.append(str(HERE.parent))

from baby_space.ui import build_demo, launch  # noqa: E402  (after the path is set)

demo = build_demo()

if __name__ == "__main__":
    launch(demo)
