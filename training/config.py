"""Training configuration: one strict pydantic schema, loaded from JSON (or YAML when PyYAML is present).

Every model forbids unknown keys so a typo fails loudly with its key path instead of silently training
with a default. Paths may use ``${NAME}`` placeholders (see :func:`expand_placeholders`); relative paths
resolve against the directory of the config file, so a config and its data can move together.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from distilpose.errors import DistilPoseError
from distilpose.losses import DistillLossConfig

#: Folder of the bundled configs (``distilpose train NAME`` finds them by stem).
CONFIG_DIR = Path(__file__).resolve().parent / "configs"
#: Repository root when running from a source checkout (``training/`` sits directly under it).
REPO_ROOT = Path(__file__).resolve().parent.parent
_PLACEHOLDER = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


class ConfigError(DistilPoseError):
    """A training config that cannot be used: unreadable, invalid, or pointing at missing files."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class ModelConfig(_Strict):
    """The network being trained. ``overrides`` go to ``create_model`` (e.g. a shallower transformer)."""

    name: str
    overrides: dict[str, Any] = Field(default_factory=dict)
    #: Optional warm start from a full checkpoint of the same architecture (strict).
    init_weights: Path | None = None
    #: DistilPose-L: copy the teacher's backbone (stem + stages 1-3) from this teacher checkpoint.
    init_backbone_from: Path | None = None
    #: Copy a zoo model's pretrained feature extractor into the backbone (``movenet-lightning`` for
    #: ``distilpose-mnv2``): how a small student learns from a few thousand real crops on a CPU.
    init_backbone_from_zoo: str | None = None


class TeacherConfig(_Strict):
    """A frozen teacher. It is run in eval mode under no_grad and never saved with the student."""

    name: str
    #: Trained weights; None only for zoo teachers that carry their own pretrained weights (MoveNet).
    weights: Path | None = None
    overrides: dict[str, Any] = Field(default_factory=dict)
    #: Zoo CNN teachers (MoveNet) have no tokens: learn a linear adapter from the student's tokens to the
    #: teacher's features (patch-averaged and heatmap-pooled) so the TDE terms apply. Off: TDE is skipped.
    token_adapter: bool = False


class AugmentConfig(_Strict):
    """Top-down training augmentation; unset rotation/scale factors take the recipe's (student or teacher) values."""

    flip_prob: float = Field(0.5, ge=0.0, le=1.0)
    half_body_prob: float = Field(0.3, ge=0.0, le=1.0)
    #: None = the recipe's value: 45 for students, 40 for a heatmap teacher (reference §5.2).
    rot_factor: float | None = Field(None, ge=0.0)
    rot_prob: float = Field(0.6, ge=0.0, le=1.0)
    #: None = the recipe's value: 0.35 for students, 0.5 for a heatmap teacher.
    scale_factor: float | None = Field(None, ge=0.0, lt=1.0)


class DataConfig(_Strict):
    train_ann: Path
    train_images: Path
    val_ann: Path | None = None
    val_images: Path | None = None
    #: Person detections (COCO results format) for validation; None = ground-truth boxes.
    val_boxes: Path | None = None
    augment: AugmentConfig = Field(default_factory=AugmentConfig)
    #: Train on only the first N person instances (tiny demo/test runs); None = all.
    max_train_samples: int | None = Field(None, ge=1)


class OptimizerConfig(_Strict):
    type: Literal["adam"] = "adam"
    lr: float = Field(1e-3, gt=0.0)
    betas: tuple[float, float] = (0.9, 0.999)
    weight_decay: float = Field(0.0, ge=0.0)
    #: The backbone's learning rate as a fraction of ``lr`` (e.g. 0.1 for a pretrained backbone).
    backbone_lr_mult: float = Field(1.0, ge=0.0)
    #: A peak-choice head's learning rate as a multiple of ``lr``: it learns a new map from scratch, while
    #: the token head's corrections of a prior student need a small lr (ADR 0022).
    peak_head_lr_mult: float = Field(1.0, ge=0.0)
    #: Freeze the token head (everything but the backbone and a peak head): a job that teaches only the pick
    #: keeps the student's learned corrections (ADR 0028).
    freeze_token_head: bool = False
    #: L2-SP weight: ``backbone_l2sp * sum((w - w_start)^2)`` over the trainable backbone weights is added to
    #: the loss (``training.anchor``), so a fine-tuned pretrained backbone stays near its start; 0: off.
    backbone_l2sp: float = Field(0.0, ge=0.0)


class ScheduleConfig(_Strict):
    """Linear warm-up over iterations, then step decay at epoch boundaries (mmpose 'step' policy)."""

    warmup_iters: int = Field(500, ge=0)
    warmup_ratio: float = Field(0.001, gt=0.0, le=1.0)
    step_epochs: list[int] = Field(default_factory=lambda: [200, 260])
    gamma: float = Field(0.1, gt=0.0)


class RunConfig(_Strict):
    """Budget, batching, bookkeeping. Training stops at whichever budget is reached first."""

    epochs: int | None = Field(None, ge=1)
    max_steps: int | None = Field(None, ge=1)
    time_budget_s: float | None = Field(None, gt=0.0)
    #: Per process (DDP multiplies it by the world size).
    batch_size: int = Field(32, ge=1)
    workers: int = Field(2, ge=0)
    seed: int = Field(1087365040, ge=0)
    drop_last: bool = False
    #: Ask torch for deterministic kernels (slower on GPU; exact resume on CPU holds without it).
    deterministic: bool = False
    checkpoint_every_steps: int = Field(1000, ge=1)
    #: Numbered step checkpoints kept besides ``last.pt`` (0 = only last.pt).
    keep_checkpoints: int = Field(2, ge=0)
    eval_every_epochs: int | None = Field(10, ge=1)
    eval_at_end: bool = True
    eval_batch_size: int = Field(32, ge=1)
    flip_test: bool = True
    log_every_steps: int = Field(10, ge=1)
    #: DDP only: tolerate parameters that get no gradient in a step (mmpose's default; costs a graph walk).
    find_unused_parameters: bool = False

    @model_validator(mode="after")
    def _needs_budget(self) -> RunConfig:
        if self.epochs is None and self.max_steps is None:
            raise ValueError("set 'epochs' or 'max_steps' (or both; training stops at the first reached)")
        return self


class TrainConfig(_Strict):
    """A whole training run. No teacher = heatmap (teacher) training; a teacher = DistilPose distillation."""

    name: str = "run"
    model: ModelConfig
    teacher: TeacherConfig | None = None
    #: Distillation weights (paper: reg 1, tokens 5e-4 each, simulated heatmap 1, score 0.01).
    loss: DistillLossConfig = Field(default_factory=DistillLossConfig)
    data: DataConfig
    optimizer: OptimizerConfig = Field(default_factory=OptimizerConfig)
    schedule: ScheduleConfig = Field(default_factory=ScheduleConfig)
    run: RunConfig

    @property
    def mode(self) -> Literal["teacher", "distill"]:
        return "teacher" if self.teacher is None else "distill"


def builtin_placeholders(config_dir: Path) -> dict[str, str]:
    """Values for ``${NAME}`` placeholders. SHARED, COCO_ROOT and STUDENT_DATA can be moved with environment variables."""
    return {
        "CONFIG_DIR": str(config_dir),
        "REPO": str(REPO_ROOT),
        "SHARED": os.environ.get("DISTILPOSE_SHARED", str(REPO_ROOT.parent / "shared")),
        "COCO_ROOT": os.environ.get("COCO_ROOT", str(REPO_ROOT / "data" / "coco")),
        # the default student's data, built by `python -m distilpose.training.recipes.default_student prepare`
        "STUDENT_DATA": os.environ.get("STUDENT_DATA", str(REPO_ROOT / "data" / "default-student")),
    }


def expand_placeholders(text: str, values: dict[str, str], where: str) -> str:
    """Replace ``${NAME}`` from ``values`` then the environment; an unknown name is an error, not ''."""

    def sub(match: re.Match[str]) -> str:
        key = match.group(1)
        if key in values:
            return values[key]
        if key in os.environ:
            return os.environ[key]
        raise ConfigError(f"{where}: unknown placeholder ${{{key}}} (known: {', '.join(sorted(values))})")

    return _PLACEHOLDER.sub(sub, text)


def _read_mapping(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config ({exc.strerror or exc})") from exc
    if path.suffix.lower() in (".yaml", ".yml"):
        try:
            import yaml  # optional: JSON configs need no extra dependency
        except ModuleNotFoundError:
            raise ConfigError(f"{path}: YAML configs need PyYAML, which is not installed; use JSON") from None
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path}: invalid YAML: {exc}") from exc
    else:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError(
                f"{path}: invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
            ) from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping, got {type(data).__name__}")
    return data


def _resolve_paths(node: Any, values: dict[str, str], base: Path, where: str) -> Any:
    """Expand placeholders in every string; make the path-valued fields absolute relative to ``base``."""
    if isinstance(node, dict):
        return {k: _resolve_paths(v, values, base, f"{where}.{k}" if where else k) for k, v in node.items()}
    if isinstance(node, list):
        return [_resolve_paths(v, values, base, f"{where}[{i}]") for i, v in enumerate(node)]
    if isinstance(node, str):
        return expand_placeholders(node, values, where)
    return node


def _absolutise(cfg: TrainConfig, base: Path) -> None:
    def fix(p: Path | None) -> Path | None:
        if p is None:
            return None
        p = p.expanduser()
        return p if p.is_absolute() else (base / p).resolve()

    d = cfg.data
    for field in ("train_ann", "train_images", "val_ann", "val_images", "val_boxes"):
        setattr(d, field, fix(getattr(d, field)))
    cfg.model.init_weights = fix(cfg.model.init_weights)
    cfg.model.init_backbone_from = fix(cfg.model.init_backbone_from)
    if cfg.teacher is not None:
        cfg.teacher.weights = fix(cfg.teacher.weights)


def format_validation_error(path: Path | str, exc: ValidationError) -> str:
    """One line per problem, each naming the key path (``data.augment.flip_prob``) and what is wrong."""
    lines = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"]) or "(top level)"
        msg = "unknown key" if err["type"] == "extra_forbidden" else err["msg"]
        lines.append(f"{loc}: {msg}")
    return f"{path}: invalid config: " + "; ".join(lines)


def find_config(name_or_path: str | os.PathLike) -> Path:
    """A config file path, or the bundled config with that stem (``distilpose_s_coco_256x192``)."""
    path = Path(name_or_path)
    if path.exists():
        return path
    if path.parent == Path(".") and not path.suffix:
        for suffix in (".json", ".yaml", ".yml"):
            candidate = CONFIG_DIR / f"{path.name}{suffix}"
            if candidate.exists():
                return candidate
    raise ConfigError(f"{path}: config file not found (bundled configs: {', '.join(list_builtin_configs())})")


def list_builtin_configs() -> list[str]:
    return sorted(p.stem for p in CONFIG_DIR.glob("*.json"))


def config_from_dict(data: dict[str, Any], base: Path, source: str = "<dict>") -> TrainConfig:
    """Validate a raw mapping (placeholders expanded, relative paths against ``base``)."""
    values = builtin_placeholders(base)
    expanded = _resolve_paths(data, values, base, "")
    try:
        cfg = TrainConfig.model_validate(expanded)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(source, exc)) from None
    _absolutise(cfg, base)
    return cfg


def apply_overrides(data: dict[str, Any], overrides: Sequence[str]) -> dict[str, Any]:
    """``KEY.PATH=VALUE`` assignments (VALUE as JSON, else a string), e.g. ``loss.sim_heatmap=0``.

    One config file then serves a whole ablation; the validated config (with the overrides) is what the run
    records, so each checkpoint still says exactly what produced it.
    """
    for item in overrides:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set {item!r}: expected KEY=VALUE, e.g. loss.sim_heatmap=0")
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        node = data
        parts = key.strip().split(".")
        for part in parts[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise ConfigError(f"--set {item!r}: {part!r} is not a section")
            node = child
        node[parts[-1]] = value
    return data


def load_config(name_or_path: str | os.PathLike, overrides: Sequence[str] = ()) -> TrainConfig:
    """Load and validate a config file (plus ``--set`` overrides); the run name defaults to the file stem."""
    path = find_config(name_or_path).resolve()
    data = apply_overrides(_read_mapping(path), overrides)
    data.setdefault("name", path.stem)
    return config_from_dict(data, path.parent, str(path))


def check_files(cfg: TrainConfig) -> None:
    """Fail before any work if a file the run needs is missing, naming the config key and the path."""
    required: list[tuple[str, Path | None]] = [
        ("data.train_ann", cfg.data.train_ann),
        ("data.train_images", cfg.data.train_images),
        ("data.val_ann", cfg.data.val_ann),
        ("data.val_images", cfg.data.val_images),
        ("data.val_boxes", cfg.data.val_boxes),
        ("model.init_weights", cfg.model.init_weights),
        ("model.init_backbone_from", cfg.model.init_backbone_from),
    ]
    if cfg.teacher is not None:
        required.append(("teacher.weights", cfg.teacher.weights))
    for key, path in required:
        if path is not None and not path.exists():
            raise ConfigError(f"{key}: file not found: {path}")
    if (cfg.data.val_ann is None) != (cfg.data.val_images is None):
        raise ConfigError("data.val_ann and data.val_images must be given together")
