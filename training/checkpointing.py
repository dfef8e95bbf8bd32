"""Training checkpoints: everything needed to continue a run exactly, loadable with ``weights_only=True``.

A checkpoint holds only tensors and plain containers (RNG states are converted to tensors/lists), so
loading never unpickles code. Writes are atomic (temp file + ``os.replace``): a run killed mid-write
leaves the previous ``last.pt`` intact.
"""

from __future__ import annotations

import functools
import pickle
import random
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import torch

from distilpose import __version__
from distilpose.atomic import atomic_write_with
from distilpose.errors import CheckpointError
from distilpose.models.checkpoint import unpickling_error

CHECKPOINT_FORMAT = 1
LAST_NAME = "last.pt"


@functools.lru_cache(maxsize=1)
def code_revision() -> str:
    """``git rev-parse HEAD`` of the source tree when available (plus '+dirty'), else the package version."""
    root = Path(__file__).resolve().parent.parent
    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
        if head:
            return head + ("+dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        pass
    return f"distilpose-studio {__version__}"


def capture_rng_state() -> dict[str, Any]:
    """RNG states as tensors/lists (no numpy arrays, so ``weights_only`` loading accepts them)."""
    name, keys, pos, has_gauss, cached = np.random.get_state()
    state: dict[str, Any] = {
        "python": [list(t) if isinstance(t, tuple) else t for t in random.getstate()],
        "numpy": {
            "name": str(name),
            "keys": torch.from_numpy(np.asarray(keys, dtype=np.int64)),
            "pos": int(pos),
            "has_gauss": int(has_gauss),
            "cached_gaussian": float(cached),
        },
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = [s for s in torch.cuda.get_rng_state_all()]
    return state


def restore_rng_state(state: dict[str, Any]) -> None:
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    npst = state["numpy"]
    np.random.set_state(
        (
            npst["name"],
            npst["keys"].numpy().astype(np.uint32),
            npst["pos"],
            npst["has_gauss"],
            npst["cached_gaussian"],
        )
    )
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_checkpoint(path: str | Path, payload: dict[str, Any]) -> Path:
    """Atomically write ``payload`` (plus the format number and code revision) with torch.save."""
    payload = {"format": CHECKPOINT_FORMAT, "code_revision": code_revision(), **payload}
    path = Path(path)
    try:
        atomic_write_with(path, lambda tmp: torch.save(payload, tmp))
    except OSError:
        raise
    except RuntimeError as exc:  # torch's writer reports a failed write (full disk...) this way
        raise CheckpointError(f"{path}: cannot write the checkpoint (is the disk full? {exc})") from exc
    return path


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """Load a training checkpoint safely; problems become a CheckpointError naming the file."""
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"{path}: checkpoint not found")
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:  # torch's own text would suggest weights_only=False: never
        raise unpickling_error(path, exc, "training checkpoint") from exc
    except Exception as exc:  # unpickling errors come in many types
        raise CheckpointError(
            f"{path}: not a readable training checkpoint ({type(exc).__name__}: {exc})"
        ) from exc
    if not isinstance(data, dict) or data.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(
            f"{path}: not a DistilPose training checkpoint (format {CHECKPOINT_FORMAT} expected)"
        )
    missing = [k for k in ("model_state", "optimizer", "step", "epoch", "config") if k not in data]
    if missing:
        raise CheckpointError(f"{path}: checkpoint is missing {', '.join(missing)}")
    return data


def step_checkpoint_name(step: int) -> str:
    return f"step_{step:08d}.pt"


def prune_step_checkpoints(folder: Path, keep: int) -> list[Path]:
    """Delete all but the newest ``keep`` numbered checkpoints; returns what was removed."""
    numbered = sorted(folder.glob("step_*.pt"))
    doomed = numbered[: max(0, len(numbered) - keep)]
    for p in doomed:
        p.unlink(missing_ok=True)
    return doomed
