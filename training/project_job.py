"""A distillation job on a project, the one code path of the app's Distil dialog and `distilpose project distil`.

What the student learns from (:func:`job_people`): on each frame of the train split, the people a person
verified are the labels; on a frame where nothing is verified, the teacher's stored predictions (pre-labels)
are the distillation targets, with the keypoints the teacher doubts left unlabelled, as
`distilpose pseudo-label` does. A verified person the user corrected (moved a keypoint or the person, or
placed by hand) carries ``weight`` :data:`CORRECTED_WEIGHT` in the exported COCO file; the training data
multiplies its label terms by it. The val split is exported by the same rule: the report scores every model
against the project's labels there.

Everything is checked before anything starts (:func:`check_project`, :func:`teacher_problem`): a project
without frames, without a train split, with nothing to learn from, or an untrained teacher gets a message
that says what is needed. The job folder (``<project folder>/jobs/<id>/``) holds the exported data, the
strict config and the run; data paths are relative to it, so it can be copied to a GPU machine whole.
Qt-free.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args

import numpy as np

from distilpose.atomic import atomic_write_json
from distilpose.errors import DistilPoseError
from distilpose.inference.options import DEFAULT_TEACHER
from distilpose.models import accepts_override
from distilpose.models.bundled import DEFAULT_STUDENT
from distilpose.project import ProjectStore
from distilpose.project.coco_io import ANNOTATION_FILE, export_coco
from distilpose.project.transform import copy_instance
from distilpose.types import Instance

#: Frames of these splits train the student; the val split validates it and is what the report scores.
TRAIN_SPLITS = ["train"]
VAL_SPLITS = ["val"]
CONFIG_NAME = "config.json"
REPORT_FILE = "report.json"
TRAIN_DATA = Path("data") / "train"
VAL_DATA = Path("data") / "val"
RUN_DIR = "run"
#: A verified person the user corrected counts this much in the label terms (pre-labels and people accepted
#: as they were count 1).
CORRECTED_WEIGHT = 2.0
#: Pre-label keypoints the teacher scores below this are unlabelled; people with fewer confident keypoints
#: are left out (the rule of `distilpose pseudo-label`).
PRELABEL_MIN_SCORE = 0.3
PRELABEL_MIN_KEYPOINTS = 6
#: Below these the dialog and the CLI warn: too little to learn a camera from.
MIN_PEOPLE = 50
SHORT_VIDEO_S = 60.0
#: History operations that mean a person corrected an instance's keypoints or placement.
CORRECTION_OPS = ("move_keypoint", "set_keypoint", "set_visibility", "move_instance")
#: How a job trains (ADR 0028): ``peak`` (the default) adds a peak-choice head to a student that takes one and
#: trains it and the token head on the labels alone (the pre-labels are the teacher's: its forward pass is
#: not run again); ``distilpose`` is the paper's recipe (teacher online: simulated heatmaps and score terms).
JobRecipe = Literal["peak", "distilpose"]
JOB_RECIPES: tuple[str, ...] = get_args(JobRecipe)
DEFAULT_RECIPE: JobRecipe = "peak"
#: The ``peak`` recipe's schedule (ADR 0028): the peak head's learning rate by kind (a map learned from zero, ADR
#: 0022), divided by 10 after PEAK_DECAY_EPOCH, at most PEAK_EPOCHS passes over the train split (the time
#: budget may end it sooner): longer runs fit the train frames and lose on the held-out ones.
PEAK_HEAD_LR = {"residual": 1e-2, "context": 3e-3}
PEAK_EPOCHS = 20
PEAK_DECAY_EPOCH = 15
#: Job defaults (the shipped student's recipe: lr 1.5e-5, backbone frozen; batch and ten minutes for 2 cores).
DEFAULT_LR = 1.5e-5
DEFAULT_BACKBONE_LR_MULT = 0.0
DEFAULT_BATCH = 8
DEFAULT_WORKERS = 1
DEFAULT_MINUTES = 10.0
#: The regression loss is an L1 beyond about a pixel (ADR 0014: with mmpose's beta of 1 on [0, 1]
#: coordinates the loss is squared and the head learns to chase its prior's wrong peaks).
REG_BETA = 0.005
#: With a time budget alone the step count is unknown (about 90 steps of 8 in ten minutes on 2 cores):
#: warm up and checkpoint in steps that fit it.
TIME_BUDGET_WARMUP_STEPS = 10
TIME_BUDGET_CHECKPOINT_STEPS = 20
#: Instance sources that are a model's predictions (``teacher``: pre-labels usable as targets).
TEACHER_SOURCE = "teacher"


@dataclass
class DistilSpec:
    """The job's choices. ``teacher`` and ``student`` are registered model names or checkpoint files; the
    job starts from the student's trained weights (shipped, or the file's) when it has them."""

    teacher: str = DEFAULT_TEACHER
    student: str = DEFAULT_STUDENT
    max_steps: int | None = 2000
    time_budget_s: float | None = None
    device: Literal["cpu", "cuda"] = "cpu"
    validate: bool = True
    batch_size: int = 16
    workers: int = 2
    lr: float = DEFAULT_LR
    #: The backbone's learning rate as a fraction of ``lr`` (0: frozen, as the shipped student's recipe).
    backbone_lr_mult: float = DEFAULT_BACKBONE_LR_MULT
    #: Extra ``run`` settings (checkpoint_every_steps, log_every_steps, ...) on top of the derived ones.
    run: dict[str, Any] = field(default_factory=dict)
    recipe: JobRecipe = DEFAULT_RECIPE

    @classmethod
    def for_budget(
        cls,
        *,
        teacher: str | None = None,
        student: str | None = None,
        steps: int | None = None,
        minutes: float | None = None,
        recipe: JobRecipe = DEFAULT_RECIPE,
    ) -> DistilSpec:
        """The job defaults with a step budget, or a time budget (default :data:`DEFAULT_MINUTES`)."""
        if steps is not None and steps < 1:
            raise DistilPoseError(f"--steps must be at least 1, got {steps}")
        if minutes is not None and not minutes > 0:
            raise DistilPoseError(f"--minutes must be more than 0, got {minutes}")
        if steps is None and minutes is None:
            minutes = DEFAULT_MINUTES
        return cls(
            teacher=teacher or DEFAULT_TEACHER,
            student=student or DEFAULT_STUDENT,
            max_steps=steps,
            time_budget_s=None if minutes is None else minutes * 60.0,
            batch_size=DEFAULT_BATCH,
            workers=DEFAULT_WORKERS,
            recipe=recipe,
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DistilSpec:
        return cls(**data)


# --------------------------------------------------------------------------------------------- the data


def corrected_ids(store: ProjectStore) -> set[int]:
    """Instances a person corrected: a keypoint or the whole person moved (the edit history says so)."""
    return store.read.instances_edited_by(CORRECTION_OPS)


def is_corrected(inst: Instance, corrected: set[int]) -> bool:
    """Verified and either edited after it was predicted or placed by hand (not an accepted prediction or an
    import left as it was)."""
    if not inst.extras.get("verified"):
        return False
    placed = inst.source == "user" and "accepted_from" not in inst.extras
    return placed or int(inst.extras["id"]) in corrected


def prelabel_target(inst: Instance) -> Instance | None:
    """A teacher pre-label as a distillation target: doubtful keypoints unlabelled; None when too few remain."""
    target = copy_instance(inst)
    kp = target.keypoints
    if target.scores is not None:
        kp[np.asarray(target.scores, dtype=np.float64) < PRELABEL_MIN_SCORE, 2] = 0
    if int((kp[:, 2] > 0).sum()) < PRELABEL_MIN_KEYPOINTS:
        return None
    return target


def job_people(instances: list[Instance], corrected: set[int]) -> list[Instance]:
    """One frame's training people (see the module docs), each with its ``weight`` in its COCO fields."""
    verified = [i for i in instances if i.extras.get("verified")]
    if verified:
        return [_weighted(i, CORRECTED_WEIGHT if is_corrected(i, corrected) else 1.0) for i in verified]
    targets = (prelabel_target(i) for i in instances if i.source == TEACHER_SOURCE)
    return [_weighted(t, 1.0) for t in targets if t is not None]


def _weighted(inst: Instance, weight: float) -> Instance:
    out = copy_instance(inst)
    coco = dict(out.extras.get("coco") or {})
    coco["extra"] = {**dict(coco.get("extra") or {}), "weight": weight}
    out.extras["coco"] = coco
    return out


@dataclass
class SplitPeople:
    """What one split would give a job: verified people (of them corrected) and teacher pre-labels."""

    verified: int = 0
    corrected: int = 0
    prelabels: int = 0
    frames: int = 0

    @property
    def people(self) -> int:
        return self.verified + self.prelabels


@dataclass
class ProjectData:
    """What a job on the project would learn from and be scored on, and the project's media."""

    path: str
    frames: int = 0
    images: int = 0
    videos: int = 0
    folders: int = 0
    #: Verified people in the whole project, any split.
    verified_total: int = 0
    #: Frames in each split.
    split_frames: dict[str, int] = field(default_factory=dict)
    train: SplitPeople = field(default_factory=SplitPeople)
    val: SplitPeople = field(default_factory=SplitPeople)
    #: Seconds of video per video media (by its frame rate; None when unreadable).
    video_seconds: list[float] = field(default_factory=list)
    #: An absolute path of a video of the project, for the report's live FPS (None without one).
    video: str | None = None
    #: The train split's pre-labels to learn from, by the model that made them ('' when not recorded).
    prelabel_models: dict[str, int] = field(default_factory=dict)
    #: Media with frames in the train or val split whose file is not there (what ``relink`` finds).
    missing_media: list[str] = field(default_factory=list)

    def foreign_prelabels(self, teacher: str) -> dict[str, int]:
        """The train split's pre-labels made by a model other than ``teacher``, by model: a student distilled
        from them learns that model's mistakes, not the teacher's view."""
        return {m: n for m, n in self.prelabel_models.items() if m and not same_model(m, teacher)}

    def problem(self) -> str | None:
        """Why a job cannot start on this project (what it needs), or None."""
        if self.frames == 0:
            return (
                f"{self.path}: the project has no frames: add your camera's video "
                "(`distilpose project add PROJECT VIDEO --every 5`, or Project > Add Video)"
            )
        if self.videos == 0 and self.folders == 0 and self.verified_total == 0:
            return (
                f"{self.path}: the project holds only still images and none of their people is verified: "
                "distilling for your footage needs a video's frames (add one, pre-label it with the teacher: "
                "`distilpose project prelabel PROJECT --model movenet-thunder --flip`) or verified people"
            )
        if not self.split_frames.get("train"):
            return (
                f"{self.path}: the project has no train split: split it first "
                "(`distilpose project split PROJECT --by time`, or Dataset panel > Split by time)"
            )
        if self.missing_media:
            listed = "; ".join(self.missing_media[:5]) + ("; ..." if len(self.missing_media) > 5 else "")
            return (
                f"{self.path}: {len(self.missing_media)} media file(s) with frames to train or score on are "
                f"missing ({listed}): find them with `distilpose project relink {self.path} --search FOLDER` "
                "(or Project > Relink Missing Media)"
            )
        if self.train.people == 0:
            return (
                f"{self.path}: nothing to learn from in the train split: no verified people and no teacher "
                "pre-labels; pre-label its frames with the teacher "
                "(`distilpose project prelabel PROJECT --model movenet-thunder --flip`) or verify people"
            )
        return None

    def learns_from(self) -> str:
        """One sentence: what the student will learn from."""
        corrected = f" ({self.train.corrected} corrected, weighted x{CORRECTED_WEIGHT:g})" if self.train.corrected else ""
        return (
            f"The student learns from {self.train.verified} verified people{corrected} and "
            f"{self.train.prelabels} teacher pre-labels on {self.train.frames} frames of the train split."
        )

    def warnings(self, with_val: bool = True, teacher: str | None = None) -> list[str]:
        """Too little to learn from: fewer than :data:`MIN_PEOPLE` people, or one short video; pre-labels made
        by another model than ``teacher``; and (with ``with_val``) nobody labelled to score the job on."""
        out = []
        foreign = self.foreign_prelabels(teacher) if teacher else {}
        if foreign:
            made = ", ".join(f"{n} by {m}" for m, n in sorted(foreign.items()))
            out.append(
                f"{sum(foreign.values())} of the {self.train.prelabels} pre-labels to learn from were made by "
                f"another model than the teacher {teacher} ({made}): the student would learn that model's "
                f"mistakes. Pre-label with the teacher: `distilpose project prelabel PROJECT --model {teacher} "
                "--flip` (or Project > Pre-label)."
            )
        if 0 < self.train.people < MIN_PEOPLE:
            out.append(
                f"Only {self.train.people} people to learn from (fewer than {MIN_PEOPLE}): the student will "
                "barely change; add more frames or pre-label more of the video."
            )
        if self.videos == 1 and self.video_seconds and self.video_seconds[0] < SHORT_VIDEO_S:
            out.append(
                f"One short video ({self.video_seconds[0]:.0f} s): the student learns this clip, not the "
                "camera; add more footage of the camera if you can."
            )
        if with_val and self.val.people == 0:
            out.append(
                "No labelled people in the val split: the job cannot be scored (split by time and pre-label "
                "or verify the held-out frames)."
            )
        return out

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def project_data(store: ProjectStore) -> ProjectData:
    """Count what :func:`job_people` would take from each split, and the project's media."""
    from distilpose.project.splits import video_fps

    data = ProjectData(str(store.path))
    media = store.media_list()
    data.images = sum(m.kind == "image" for m in media)
    data.folders = sum(m.kind == "folder" for m in media)
    videos = [m for m in media if m.kind == "video"]
    data.videos = len(videos)
    frames = store.frames()
    data.frames = len(frames)
    for f in frames:
        data.split_frames[f.split] = data.split_frames.get(f.split, 0) + 1
    from distilpose.project.relink import missing_media

    used = {f.media_id for f in frames if f.split in TRAIN_SPLITS or f.split in VAL_SPLITS}
    gone = missing_media(store, used)
    data.missing_media = [m.describe() for m in gone]
    gone_ids = {g.record.id for g in gone}
    for m in videos:
        if m.id in gone_ids:
            continue  # its length is unknown: no "short video" guess from a file that is not there
        n = len(store.frames(media_id=m.id))
        fps = video_fps(store, m.id)
        count = _video_frame_count(store, m.id)
        data.video_seconds.append((count or n) / fps if fps else 0.0)
    data.video = project_video(store)
    data.verified_total = sum(store.read.verified_per_split().values())
    corrected = corrected_ids(store)
    by_frame = store.instances_by_frame()
    for f in frames:
        split = data.train if f.split in TRAIN_SPLITS else data.val if f.split in VAL_SPLITS else None
        if split is None:
            continue
        people = job_people(by_frame.get(f.id, []), corrected)
        if not people:
            continue
        split.frames += 1
        for p in people:
            if p.extras.get("verified"):
                split.verified += 1
                split.corrected += is_corrected(p, corrected)
            else:
                split.prelabels += 1
                if split is data.train:
                    model = str(p.extras.get("model") or "")
                    data.prelabel_models[model] = data.prelabel_models.get(model, 0) + 1
    return data


def same_model(a: str, b: str) -> bool:
    """Whether two model references name one model: equal registered names (``default`` read for stills and
    for video), or one checkpoint file, also when one side is only its file name (a pre-label records the
    name of the file it was made with). Never raises: the dialog calls it on every keystroke."""
    from distilpose.models.registry import resolve_name

    def names(ref: str) -> set[str]:
        return {ref, resolve_name(ref, "image"), resolve_name(ref, "video")}

    try:
        if names(a) & names(b):
            return True
        pa, pb = Path(a).expanduser(), Path(b).expanduser()
        if pa.is_file() and pb.is_file():
            return pa.resolve() == pb.resolve()
        return (pa.is_file() and pa.name == b) or (pb.is_file() and pb.name == a)
    except (OSError, RuntimeError, ValueError):  # '~nosuchuser/…', a name too long for the file system
        return False


def project_video(store: ProjectStore) -> str | None:
    """The first video of the project whose file is there (the report times live FPS on it), or None."""
    for m in store.media_list("video"):
        path = store.media_path(m.id)
        if path.is_file():
            return str(path)
    return None


def _video_frame_count(store: ProjectStore, media_id: int) -> int | None:
    from distilpose.video import VideoReader

    try:
        with VideoReader(store.media_path(media_id)) as reader:
            return len(reader)
    except DistilPoseError:
        return None


def check_project(store: ProjectStore) -> ProjectData:
    """:func:`project_data`, or a DistilPoseError saying what the project needs."""
    data = project_data(store)
    problem = data.problem()
    if problem:
        raise DistilPoseError(problem)
    return data


# --------------------------------------------------------------------------------------------- models


def teacher_section(teacher: str) -> dict[str, Any]:
    """``{"name": ...}`` for a zoo/registered teacher, ``{"name", "weights"}`` for a checkpoint file."""
    path = Path(teacher)
    if path.is_file():
        name = _checkpoint_arch(path, "teacher")
        return {"name": name, "weights": str(path.resolve())}
    from distilpose.models import list_models

    if teacher not in list_models():
        raise DistilPoseError(f"teacher {teacher!r}: neither a checkpoint file nor a registered model")
    return {"name": teacher}


def _checkpoint_arch(path: Path, role: str) -> str:
    from distilpose.models.checkpoint import read_metadata

    try:
        name = read_metadata(path).get("model")
    except Exception as exc:  # an unreadable file: say which and why
        raise DistilPoseError(f"{path}: cannot read the {role} checkpoint ({exc})") from exc
    if not name:
        raise DistilPoseError(f"{path}: the checkpoint does not name its architecture (metadata 'model')")
    return str(name)


def teacher_problem(teacher: str) -> str | None:
    """Why ``teacher`` cannot teach now (unknown, not fetched, no trained weights), or None."""
    from distilpose.models import zoo_missing
    from distilpose.models.readiness import has_trained_weights

    if not teacher:
        return "Choose a teacher."
    if Path(teacher).suffix and not Path(teacher).is_file():
        return f"{teacher}: no such checkpoint file"
    try:
        teacher_section(teacher)
    except DistilPoseError as exc:
        return str(exc)
    if zoo_missing(teacher):
        return f"Pretrained weights of {teacher} are not fetched yet: run `distilpose models fetch {teacher}`."
    if not has_trained_weights(teacher):
        return (
            f"teacher {teacher!r} is not trained (no weights here): choose a trained teacher such as "
            f"{DEFAULT_TEACHER}, or a teacher checkpoint file"
        )
    return None


def student_start(student: str) -> str | None:
    """The weights a job on ``student`` starts from: the checkpoint file, the shipped weights, or None (the
    architecture's own initialisation)."""
    from distilpose.models.bundled import bundled_weights

    path = Path(student)
    if path.is_file():
        return str(path.resolve())
    weights = bundled_weights(student)
    return str(weights) if weights is not None else None


def student_section(student: str) -> dict[str, Any]:
    """The config's ``model``: the architecture, and where its weights start (a trained student's weights,
    else the zoo backbone its spec names)."""
    from distilpose.models import model_spec

    path = Path(student)
    name = _checkpoint_arch(path, "student") if path.is_file() else student
    try:
        spec = model_spec(name)
    except DistilPoseError as exc:
        raise DistilPoseError(f"student {student!r}: {exc}") from None
    start = student_start(student)
    if start is not None:
        from distilpose.models.checkpoint import stored_overrides

        overrides = stored_overrides(start)  # e.g. the peak head it was trained with: build that architecture
        return {"name": name, "init_weights": start, **({"overrides": overrides} if overrides else {})}
    init = spec.init_backbone_from_zoo
    return {"name": name, **({"init_backbone_from_zoo": init} if init else {})}


# --------------------------------------------------------------------------------------------- the job


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
        # a time budget alone: a step takes seconds on a CPU, so checkpoint (and warm up) in tens of steps
        "checkpoint_every_steps": max(1, min(1000, steps // 10)) if steps else TIME_BUDGET_CHECKPOINT_STEPS,
        "eval_at_end": with_val,
        "eval_every_epochs": 10 if with_val and steps else None,  # a time budget: the report scores it
        **spec.run,
    }
    data: dict[str, Any] = {
        "train_ann": str(TRAIN_DATA / ANNOTATION_FILE),
        "train_images": str(TRAIN_DATA / "images"),
    }
    if with_val:
        data.update(val_ann=str(VAL_DATA / ANNOTATION_FILE), val_images=str(VAL_DATA / "images"))
    student = student_section(spec.student)
    loss: dict[str, Any] = {"reg_beta": REG_BETA}
    optimizer: dict[str, Any] = {"lr": spec.lr, "backbone_lr_mult": spec.backbone_lr_mult}
    schedule: dict[str, Any] = {
        "warmup_iters": min(500, max(1, steps // 10)) if steps else TIME_BUDGET_WARMUP_STEPS,
        "step_epochs": [],
    }
    if spec.recipe == "peak" and accepts_override(student["name"], "peak_head"):
        overrides = student.setdefault("overrides", {})
        if overrides.get("peak_head", "none") == "none":  # a start with a trained peak head keeps its kind
            overrides["peak_head"] = "residual"
        loss.update(peak_pick=1.0, sim_heatmap=0.0, score=0.0)
        kind = overrides["peak_head"]
        if kind not in PEAK_HEAD_LR:
            raise DistilPoseError(f"student {spec.student!r}: no job learning rate for its peak head {kind!r}")
        lr = PEAK_HEAD_LR[kind]
        optimizer.update(peak_head_lr_mult=lr / spec.lr, freeze_token_head=True)
        run["epochs"] = PEAK_EPOCHS
        schedule["step_epochs"] = [PEAK_DECAY_EPOCH]
    config = {
        "name": f"distil_{student['name']}",
        "model": student,
        "teacher": teacher_section(spec.teacher),
        "data": data,
        "loss": loss,
        "optimizer": optimizer,
        "schedule": schedule,
        "run": {k: v for k, v in run.items() if v is not None or k == "eval_every_epochs"},
    }
    config_from_dict(json.loads(json.dumps(config)), job_dir, f"{job_dir / CONFIG_NAME}")
    return config


def export_split(store: ProjectStore, out: Path, splits: list[str]) -> Any:
    """The people of ``splits`` chosen by :func:`job_people`, as a COCO export under ``out``."""
    corrected = corrected_ids(store)
    return export_coco(
        store, out, splits=splits, overwrite=True, keep=lambda instances: job_people(instances, corrected)
    )


def prepare_job(store: ProjectStore, spec: DistilSpec, job_dir: Path) -> Path:
    """Check the project, export the train split (and val when asked and present), write the config.

    Runs off the GUI thread (it copies images). Returns the config path; the config is written last, so a
    folder without one is a job that never started.
    """
    check_project(store)
    problem = teacher_problem(spec.teacher)
    if problem:
        raise DistilPoseError(problem)
    job_dir.mkdir(parents=True, exist_ok=True)
    train = export_split(store, job_dir / TRAIN_DATA, TRAIN_SPLITS)
    if train.annotations == 0:
        raise DistilPoseError(f"{store.path}: nothing to learn from in the train split")
    with_val = False
    if spec.validate:
        val = export_split(store, job_dir / VAL_DATA, VAL_SPLITS)
        with_val = val.annotations > 0
    config = build_config(spec, job_dir, with_val)
    path = job_dir / CONFIG_NAME
    atomic_write_json(path, config)
    return path


def job_paths(folder: Path, config_path: Path | None = None) -> dict[str, str]:
    """The files of the job in ``folder`` (as the job row records them)."""
    out = folder / RUN_DIR
    return {
        "dir": str(folder),
        "config": str(config_path or folder / CONFIG_NAME),
        "out": str(out),
        "events": str(out / "events.jsonl"),
        "log": str(out / "log.txt"),
        "report": str(folder / REPORT_FILE),
    }


def new_job(store: ProjectStore, config: dict[str, Any], config_path: Path | None = None) -> tuple[int, dict[str, str]]:
    """Record a queued job in the project; its folder is ``<project folder>/jobs/<id>/``."""
    job_id = store.job_records.add("train", config, status="queued")
    paths = job_paths(store.folder / "jobs" / str(job_id), config_path)
    store.job_records.update(job_id, paths=paths)
    return job_id, paths


def job_name(store_path: str | Path, job_id: int) -> str:
    """How a job's student is called where a person picks it: after the project and the job."""
    return f"{Path(store_path).stem} job {job_id}"


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
