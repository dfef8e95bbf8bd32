"""What a distillation job is made of: the dialog's choices, and the strict training config built from them.

The config is validated with the training engine's own pydantic models before it is written, so a job
never starts on a config the engine would reject. Its data paths are relative to the job folder (the engine
resolves them against the config's directory), so a job folder can be copied to a GPU machine whole.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from distilpose.atomic import atomic_write_json
from distilpose.errors import DistilPoseError
from distilpose.models.bundled import DEFAULT_STUDENT
from distilpose.project import ProjectStore
from distilpose.project.coco_io import ANNOTATION_FILE, export_coco

#: Frames with these splits train the student (unsplit frames count as training data).
TRAIN_SPLITS = ["train", "none"]
VAL_SPLITS = ["val"]
CONFIG_NAME = "config.json"
TRAIN_DATA = Path("data") / "train"
VAL_DATA = Path("data") / "val"


@dataclass
class DistilSpec:
    """The dialog's choices. ``teacher`` is a registered model name or a checkpoint file."""

    teacher: str
    student: str = DEFAULT_STUDENT
    max_steps: int | None = 2000
    time_budget_s: float | None = None
    device: Literal["cpu", "cuda"] = "cpu"
    validate: bool = True
    batch_size: int = 16
    workers: int = 2
    lr: float = 1e-3
    #: Extra ``run`` settings (checkpoint_every_steps, log_every_steps, ...) on top of the derived ones.
    run: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DistilSpec:
        return cls(**data)


def verified_per_split(store: ProjectStore) -> dict[str, int]:
    """Verified people per split (``none`` for unsplit frames): what a job would train and validate on."""
    rows = store.conn.execute(
        "SELECT f.split, COUNT(i.id) FROM instances i JOIN frames f ON f.id = i.frame_id "
        "WHERE i.verified = 1 GROUP BY f.split"
    ).fetchall()
    return {str(split): int(n) for split, n in rows}


def data_counts(store: ProjectStore) -> tuple[int, int]:
    """(verified people in the training splits, in the val split)."""
    counts = verified_per_split(store)
    return sum(counts.get(s, 0) for s in TRAIN_SPLITS), sum(counts.get(s, 0) for s in VAL_SPLITS)


def teacher_section(teacher: str) -> dict[str, Any]:
    """``{"name": ...}`` for a zoo/registered teacher, ``{"name", "weights"}`` for a checkpoint file."""
    path = Path(teacher)
    if path.is_file():
        from distilpose.models.checkpoint import read_metadata

        try:
            name = read_metadata(path).get("model")
        except Exception as exc:  # an unreadable file: say which and why
            raise DistilPoseError(f"{path}: cannot read the teacher checkpoint ({exc})") from exc
        if not name:
            raise DistilPoseError(f"{path}: the checkpoint does not name its architecture (metadata 'model')")
        return {"name": name, "weights": str(path.resolve())}
    from distilpose.models import list_models

    if teacher not in list_models():
        raise DistilPoseError(f"teacher {teacher!r}: neither a checkpoint file nor a registered model")
    return {"name": teacher}


def student_section(student: str) -> dict[str, Any]:
    """``{"name": ...}``, plus the zoo backbone the student starts from when its spec names one."""
    from distilpose.models import model_spec

    init = model_spec(student).init_backbone_from_zoo
    return {"name": student, **({"init_backbone_from_zoo": init} if init else {})}


def build_config(spec: DistilSpec, job_dir: Path, with_val: bool) -> dict[str, Any]:
    """The training config (validated by the engine's schema) for ``spec`` with data under ``job_dir``."""
    from distilpose.training.config import config_from_dict

    if spec.max_steps is None and spec.time_budget_s is None:
        raise DistilPoseError("set a step budget or a time budget")
    steps = spec.max_steps
    run: dict[str, Any] = {
        "epochs": None if steps is not None else 1_000_000,  # a time budget alone still needs a count
        "max_steps": steps,
        "time_budget_s": spec.time_budget_s,
        "batch_size": spec.batch_size,
        "workers": spec.workers,
        "eval_batch_size": spec.batch_size,
        "log_every_steps": 1 if steps is not None and steps <= 200 else 10,
        "checkpoint_every_steps": max(1, min(1000, (steps or 10_000) // 10)),
        "eval_at_end": with_val,
        "eval_every_epochs": 10 if with_val else None,
        **spec.run,
    }
    data: dict[str, Any] = {
        "train_ann": str(TRAIN_DATA / ANNOTATION_FILE),
        "train_images": str(TRAIN_DATA / "images"),
    }
    if with_val:
        data.update(val_ann=str(VAL_DATA / ANNOTATION_FILE), val_images=str(VAL_DATA / "images"))
    config = {
        "name": f"distil_{spec.student}",
        "model": student_section(spec.student),
        "teacher": teacher_section(spec.teacher),
        "data": data,
        "optimizer": {"lr": spec.lr},
        "schedule": {"warmup_iters": min(500, max(1, (steps or 1000) // 10)), "step_epochs": []},
        "run": {k: v for k, v in run.items() if v is not None or k == "eval_every_epochs"},
    }
    config_from_dict(json.loads(json.dumps(config)), job_dir, f"{job_dir / CONFIG_NAME}")
    return config


def prepare_job(store: ProjectStore, spec: DistilSpec, job_dir: Path) -> Path:
    """Export the verified annotations (train, and val when asked and present) and write the config.

    Runs off the GUI thread (it copies images). Returns the config path.
    """
    job_dir.mkdir(parents=True, exist_ok=True)
    train = export_coco(store, job_dir / TRAIN_DATA, only_verified=True, splits=TRAIN_SPLITS, overwrite=True)
    if train.annotations == 0:
        raise DistilPoseError(
            f"{store.path}: no verified annotations in the train split; verify some instances first"
        )
    with_val = False
    if spec.validate:
        val = export_coco(store, job_dir / VAL_DATA, only_verified=True, splits=VAL_SPLITS, overwrite=True)
        with_val = val.annotations > 0
    config = build_config(spec, job_dir, with_val)
    path = job_dir / CONFIG_NAME
    atomic_write_json(path, config)
    return path


def write_gpu_bundle(config_path: Path, out_dir: Path, gpus: int = 1) -> Path:
    """Copy a job's config (paths made absolute) and a ready ``torchrun`` command into ``out_dir``.

    Returns the script path. The data folders are referenced, not copied: copy them along when the GPU
    machine cannot see this disk, and fix the paths in the copied config.
    """
    from distilpose.training.config import load_config

    if gpus < 1:
        raise DistilPoseError(f"number of GPUs must be at least 1, got {gpus}")
    cfg = load_config(config_path)  # absolute paths, validated
    out_dir.mkdir(parents=True, exist_ok=True)
    config_out = out_dir / CONFIG_NAME
    atomic_write_json(config_out, cfg.model_dump(mode="json"))
    command = (
        f"torchrun --nproc_per_node {gpus} -m distilpose.cli train {CONFIG_NAME} "
        f"--device cuda --out runs/{cfg.name}"
    )
    script = out_dir / "run_on_gpu.sh"
    script.write_text(
        "#!/bin/sh\n# Distil on a GPU machine with DistilPose Studio installed; "
        "add --resume to continue an interrupted run.\n"
        f'cd "$(dirname "$0")"\n{command}\n',
        encoding="utf-8",
    )
    script.chmod(0o755)
    (out_dir / "COMMAND.txt").write_text(command + "\n", encoding="utf-8")
    return script
