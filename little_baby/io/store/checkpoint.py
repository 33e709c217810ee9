"""Checkpoints: everything a training run needs to continue exactly where it stopped, in
one safetensors file written atomically — the weights, AdamW's moments, and as JSON in
its metadata the step counts, the dropout generator's state and the run's report so far.
One file means the arrays and the counters can never disagree. Nothing is pickled.
"""
import json
from pathlib import Path

import numpy
from safetensors import SafetensorError, safe_open
from safetensors.numpy import save

from ...errors import CheckpointError
from .files import write_bytes_atomic

CHECKPOINT = "checkpoint.safetensors"
FORMAT = "little_baby.checkpoint/1"


def save_checkpoint(folder, trainer, state):
    """Write `trainer`'s arrays and counters and the JSON-able `state` dict to
    folder/checkpoint.safetensors; returns its path."""
    arrays, counters = trainer.state_dict()
    host = {k: numpy.ascontiguousarray(trainer.baby.backend.to_numpy(v)) for k, v in arrays.items()}
    meta = {"format": FORMAT, "counters": json.dumps(counters), "state": json.dumps(state)}
    path = Path(folder) / CHECKPOINT
    write_bytes_atomic(path, save(host, metadata=meta))
    return path


def load_checkpoint(folder):
    """(arrays, counters, state) of folder/checkpoint.safetensors."""
    path = Path(folder) / CHECKPOINT
    if not path.is_file():
        raise CheckpointError(f"{folder} has no checkpoint ({CHECKPOINT}): nothing to resume.")
    try:
        with safe_open(str(path), "numpy") as f:
            meta = f.metadata() or {}
            if meta.get("format") != FORMAT:
                raise CheckpointError(f"{path} is not a little_baby checkpoint.")
            arrays = {k: f.get_tensor(k) for k in f.keys()}
        return arrays, json.loads(meta["counters"]), json.loads(meta["state"])
    except (SafetensorError, OSError, KeyError, json.JSONDecodeError) as e:
        raise CheckpointError(f"{path} cannot be read ({e}); it may be corrupt.") from e


def remove_checkpoint(folder):
    (Path(folder) / CHECKPOINT).unlink(missing_ok=True)
