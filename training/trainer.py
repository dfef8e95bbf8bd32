"""The training loop: teacher (heatmap) training or DistilPose distillation, with exact resume and DDP.

One :class:`Trainer` per process. Rank 0 alone writes events, checkpoints, the progress bar and the final
weights; every rank takes the same steps and leaves the loop at the same step (stop decisions are agreed
collectively). A run's position is (step, epoch, batch in epoch); together with the seeded data order and
per-sample augmentation seeds this makes a resumed run continue bit-for-bit where the checkpoint left off.
"""

from __future__ import annotations

import json
import math
import os
import random
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel
from tqdm import tqdm

from distilpose.atomic import atomic_write_json
from distilpose.errors import CheckpointError, DistilPoseError
from distilpose.models import create_model, model_spec
from distilpose.models.checkpoint import init_backbone_from_teacher, load_weights, save_weights
from distilpose.training.anchor import AnchoredObjective, StartingPointAnchor
from distilpose.training.checkpointing import (
    LAST_NAME,
    capture_rng_state,
    code_revision,
    load_checkpoint,
    prune_step_checkpoints,
    restore_rng_state,
    save_checkpoint,
    step_checkpoint_name,
)
from distilpose.training.config import ConfigError, TrainConfig
from distilpose.training.data import build_train_data, build_val_loader
from distilpose.training.distributed import DistEnv, any_rank, barrier, mean_over_ranks
from distilpose.training.events import EVENTS_FORMAT_VERSION, EventWriter, StepClock
from distilpose.training.objectives import DistillObjective, HeatmapObjective, Objective
from distilpose.training.schedule import WarmupStepSchedule
from distilpose.training.teachers import build_teacher
from distilpose.training.validation import evaluate_model

#: Config fields that must not change when resuming (they define the model or the data order).
RESUME_LOCKED = (
    ("model", "name"),
    ("model", "overrides"),
    ("teacher", "name"),
    ("teacher", "overrides"),
    ("run", "batch_size"),
    ("run", "seed"),
    ("run", "drop_last"),
    ("data", "max_train_samples"),
)
_BATCH_KEYS = ("image", "target_coords", "target_weights", "target_heatmaps", "heatmap_weights")


def param_groups(
    model: nn.Module, backbone_lr_mult: float, peak_head_lr_mult: float = 1.0, freeze_token_head: bool = False
) -> list[dict]:
    """Adam groups: the backbone at ``lr * backbone_lr_mult`` (``lr_mult`` is read by the schedule), a
    peak-choice head (if any) at ``lr * peak_head_lr_mult``, the rest at lr, or frozen (no gradient
    computed) with ``freeze_token_head``."""
    peak = getattr(getattr(getattr(model, "keypoint_head", None), "tokenhead", None), "peak", None)
    if freeze_token_head:
        keep = {id(p) for p in peak.parameters()} if peak is not None else set()
        backbone = getattr(model, "backbone", None)
        keep |= {id(p) for p in backbone.parameters()} if backbone is not None else set()
        for p in model.parameters():
            if id(p) not in keep:
                p.requires_grad_(False)
    groups = _backbone_groups(model, backbone_lr_mult)
    if peak is None or peak_head_lr_mult == 1.0:
        return groups
    ids = {id(p) for p in peak.parameters()}
    for group in groups:
        group["params"] = [p for p in group["params"] if id(p) not in ids]
    groups.append({"params": [p for p in peak.parameters() if p.requires_grad], "lr_mult": peak_head_lr_mult})
    return [g for g in groups if g["params"]]


def _backbone_groups(model: nn.Module, backbone_lr_mult: float) -> list[dict]:
    backbone = getattr(model, "backbone", None)
    if backbone is not None and backbone_lr_mult == 0.0:  # frozen: no gradient computed at all (cheaper)
        backbone.requires_grad_(False)
        return [{"params": [p for p in model.parameters() if p.requires_grad], "lr_mult": 1.0}]
    if backbone is None or backbone_lr_mult == 1.0:
        return [{"params": [p for p in model.parameters() if p.requires_grad], "lr_mult": 1.0}]
    ids = {id(p) for p in backbone.parameters()}
    groups = [
        {"params": [p for p in backbone.parameters() if p.requires_grad], "lr_mult": backbone_lr_mult},
        {"params": [p for p in model.parameters() if p.requires_grad and id(p) not in ids], "lr_mult": 1.0},
    ]
    return [g for g in groups if g["params"]]


def _token_grid(model: nn.Module) -> tuple[int, int] | None:
    """The student's visual-token grid (rows, cols), for a teacher that must pool its features to it."""
    head = getattr(getattr(model, "keypoint_head", None), "tokenhead", None)
    grid = getattr(head, "grid", None)
    return tuple(grid) if grid is not None else None


def init_backbone_from_zoo(model: nn.Module, zoo_name: str) -> None:
    """Load a zoo model's pretrained feature extractor into ``model.backbone`` (strict), or a ConfigError."""
    from distilpose.errors import DistilPoseError
    from distilpose.zoo.movenet_backbone import movenet_backbone_state

    where = "model.init_backbone_from_zoo"
    from distilpose.models.mobilenet_fpn import MoveNetFeatures

    with_heatmaps = isinstance(getattr(model, "backbone", None), MoveNetFeatures)
    try:
        decode = bool(getattr(model.backbone, "decode_heads", False))  # MoveNetDecodeFeatures
        state = movenet_backbone_state(zoo_name, heatmap_head=with_heatmaps, decode_heads=decode)
    except DistilPoseError as exc:
        raise ConfigError(f"{where}: {exc}") from None
    try:
        model.backbone.load_state_dict(state, strict=True)
    except (AttributeError, RuntimeError) as exc:
        raise ConfigError(
            f"{where}: {zoo_name}'s feature extractor does not fit this model's backbone: {exc}"
        ) from None


def load_start_weights(model: nn.Module, path: Path | str) -> None:
    """Load a student to start from, strictly, except that a peak-choice head the file lacks starts at zero.

    A peak head starts as the identity (its last layer is zero, ADR 0022), so a trained student without one
    (the shipped file) is a valid start for the same architecture with one: only that head's keys may be
    missing. Anything else that does not match is the CheckpointError it always was.
    """
    head = getattr(getattr(model, "keypoint_head", None), "tokenhead", None)
    new_head = "keypoint_head.tokenhead.peak." if getattr(head, "peak", None) is not None else None
    report = load_weights(model, path, strict=False)
    missing = [k for k in report.missing if new_head is None or not k.startswith(new_head)]
    if missing or report.unexpected or report.mismatched:
        load_weights(model, path, strict=True)  # raises, naming every difference


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite: a bug or a bad hyper-parameter, not a user input error."""


@dataclass
class RunPaths:
    out: Path
    checkpoints: Path
    last: Path
    final_weights: Path
    metrics: Path
    config: Path
    eval_results: Path

    @classmethod
    def under(cls, out: Path) -> RunPaths:
        out = Path(out)
        ck = out / "checkpoints"
        return cls(
            out=out,
            checkpoints=ck,
            last=ck / LAST_NAME,
            final_weights=out / "final" / "model.safetensors",
            metrics=out / "final" / "metrics.json",
            config=out / "config.json",
            eval_results=out / "eval" / "keypoints_val.json",
        )


@dataclass
class TrainState:
    step: int = 0  # optimiser steps done
    epoch: int = 0  # current epoch, 0-based
    batch_in_epoch: int = 0  # batches of the current epoch done (per rank)
    metrics: dict[str, Any] = field(default_factory=dict)
    last_checkpoint_step: int = -1


class StopSignals:
    """SIGTERM/SIGINT set a flag so the loop can checkpoint and exit; a second Ctrl+C aborts at once."""

    def __init__(self) -> None:
        self.signum: int | None = None
        self._old: dict[int, Any] = {}

    def install(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return  # signals can only be handled in the main thread (e.g. when embedded in tests)
        for sig in (signal.SIGTERM, signal.SIGINT):
            self._old[sig] = signal.signal(sig, self._handle)

    def _handle(self, signum: int, _frame: object) -> None:
        if self.signum is not None and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.signum = signum

    def restore(self) -> None:
        for sig, old in self._old.items():
            signal.signal(sig, old)
        self._old.clear()


def _unwrap(model: nn.Module) -> nn.Module:
    return model.module if isinstance(model, DistributedDataParallel) else model


def _get(cfg_dict: dict[str, Any], path: tuple[str, ...]) -> Any:
    node: Any = cfg_dict
    for key in path:
        if not isinstance(node, dict):
            return None
        node = node.get(key)
    return node


class Trainer:
    def __init__(
        self,
        cfg: TrainConfig,
        out_dir: Path,
        env: DistEnv,
        events: EventWriter,
        resume: bool = False,
        show_progress: bool | None = None,
    ):
        self.cfg = cfg
        self.paths = RunPaths.under(out_dir)
        self.env = env
        self.events = events
        self.resume = resume
        if show_progress is None:
            show_progress = sys.stderr.isatty() and not events.to_stdout
        self.show_progress = show_progress and env.is_main
        self.state = TrainState()
        self.signals = StopSignals()
        self.resumed_from: Path | None = None

    # ------------------------------------------------------------------ set-up

    def _build_model(self) -> nn.Module:
        cfg = self.cfg
        try:
            spec = model_spec(cfg.model.name)
        except DistilPoseError as exc:
            raise ConfigError(f"model.name: {exc}") from None
        if cfg.mode == "teacher" and spec.kind != "heatmap":
            raise ConfigError(
                f"model.name: {cfg.model.name!r} is a regression student; training it needs a teacher "
                "(set 'teacher': {name, weights})"
            )
        if cfg.mode == "distill" and spec.kind != "regression":
            raise ConfigError(
                f"model.name: {cfg.model.name!r} is a heatmap model; distillation trains a regression student "
                "(remove 'teacher' to train it as a teacher)"
            )
        try:
            model = create_model(cfg.model.name, **cfg.model.overrides)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"model.overrides: {exc}") from None
        head = getattr(getattr(model, "keypoint_head", None), "tokenhead", None)
        if cfg.loss.peak_pick > 0 and getattr(head, "peak", None) is None:
            raise ConfigError(
                f"loss.peak_pick: {cfg.model.name!r} has no peak-choice head to train "
                "(set model.overrides.peak_head: residual or context, or loss.peak_pick: 0)"
            )
        if not self._will_resume():
            if cfg.model.init_weights is not None:
                try:
                    load_start_weights(model, cfg.model.init_weights)
                except CheckpointError as exc:
                    raise ConfigError(f"model.init_weights: {exc}") from None
            if cfg.model.init_backbone_from is not None:
                try:
                    init_backbone_from_teacher(model, cfg.model.init_backbone_from)
                except CheckpointError as exc:
                    raise ConfigError(f"model.init_backbone_from: {exc}") from None
            if cfg.model.init_backbone_from_zoo is not None:
                init_backbone_from_zoo(model, cfg.model.init_backbone_from_zoo)
        return model

    def _anchor(self, weight: float) -> StartingPointAnchor | None:
        """L2-SP on the trainable backbone (``optimizer.backbone_l2sp``); None when off."""
        if weight <= 0:
            return None
        backbone = getattr(self.model, "backbone", None)
        if backbone is None or not any(p.requires_grad for p in backbone.parameters()):
            raise ConfigError("optimizer.backbone_l2sp: the backbone does not train (backbone_lr_mult is 0)")
        return StartingPointAnchor(backbone, weight)

    def _will_resume(self) -> bool:
        return self.resume and self.paths.last.exists()

    def setup(self) -> None:
        cfg, env = self.cfg, self.env
        if not self.resume and self.paths.last.exists():
            raise ConfigError(
                f"{self.paths.out}: already holds a training run ({self.paths.last}); "
                "pass --resume to continue it or choose another --out"
            )
        random.seed(cfg.run.seed)
        np.random.seed(cfg.run.seed % 2**32)
        torch.manual_seed(cfg.run.seed)  # identical initial weights on every rank
        if cfg.run.deterministic:
            torch.use_deterministic_algorithms(True, warn_only=True)
            torch.backends.cudnn.benchmark = False
            os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        self.model = self._build_model().to(env.device)
        self.kind = self.model.spec.kind
        self.teacher = None
        objective: Objective
        if cfg.teacher is not None:
            self.teacher = build_teacher(cfg.teacher, token_grid=_token_grid(self.model)).to(env.device)
            try:
                objective = DistillObjective(self.teacher, cfg.loss, self.model)
            except ValueError as exc:
                raise ConfigError(f"teacher.token_adapter: {exc}") from None
        else:
            objective = HeatmapObjective()
        self.objective = objective
        try:
            self.data = build_train_data(cfg, env)
        except ValueError as exc:
            raise ConfigError(f"data.train_ann: {exc}") from None
        self.val_loader = build_val_loader(cfg) if env.is_main else None
        o = cfg.optimizer
        groups = param_groups(self.model, o.backbone_lr_mult, o.peak_head_lr_mult, o.freeze_token_head)
        if not any(g["params"] for g in groups):
            raise ConfigError(
                "optimizer: nothing to train (the backbone and the token head are frozen and there is no "
                "peak-choice head)"
            )
        self.adapter = getattr(objective, "adapter", None)
        if self.adapter is not None:
            groups.append({"params": list(self.adapter.parameters()), "lr_mult": 1.0})
        self.optimizer = torch.optim.Adam(groups, lr=o.lr, betas=o.betas, weight_decay=o.weight_decay)
        self.schedule = WarmupStepSchedule(self.optimizer, o.lr, cfg.schedule)
        self.anchor = self._anchor(o.backbone_l2sp)
        if self.anchor is not None:
            self.objective = AnchoredObjective(objective, self.anchor)
        if self._will_resume():
            self._load(self.paths.last)
        self.train_model: nn.Module = self.model
        self._adapter_holder = None  # the objective whose adapter DDP wraps (see release)
        if env.distributed:
            ids = [env.device.index] if env.device.type == "cuda" else None
            self.train_model = DistributedDataParallel(
                self.model, device_ids=ids, find_unused_parameters=cfg.run.find_unused_parameters
            )
            if self.adapter is not None:  # its gradients must be averaged across ranks too
                objective.adapter = DistributedDataParallel(self.adapter, device_ids=ids)  # type: ignore[attr-defined]
                self._adapter_holder = objective
        self.steps_per_epoch = max(1, self.data.steps_per_epoch)
        budget = []
        if cfg.run.max_steps is not None:
            budget.append(cfg.run.max_steps)
        if cfg.run.epochs is not None:
            budget.append(cfg.run.epochs * self.steps_per_epoch)
        self.total_steps = min(budget)

    def _load(self, path: Path) -> None:
        ck = load_checkpoint(path)
        old = ck["config"]
        new = self.cfg.model_dump(mode="json")
        changed = [".".join(k) for k in RESUME_LOCKED if _get(old, k) != _get(new, k)]
        if changed:
            raise ConfigError(
                f"{path}: cannot resume: the config changed {', '.join(changed)} since the checkpoint was written"
            )
        if int(ck.get("world_size", 1)) != self.env.world_size:
            raise ConfigError(
                f"{path}: cannot resume exactly: the checkpoint was written by {ck.get('world_size')} process(es), "
                f"this run has {self.env.world_size}; use the same --nproc_per_node"
            )
        try:
            self.model.load_state_dict(ck["model_state"], strict=True)
        except RuntimeError as exc:
            raise CheckpointError(
                f"{path}: model weights do not fit {self.cfg.model.name!r}: {exc}"
            ) from None
        if self.adapter is not None:
            if "adapter_state" not in ck:
                raise CheckpointError(f"{path}: the checkpoint has no token adapter state to resume")
            self.adapter.load_state_dict(ck["adapter_state"], strict=True)
        if self.anchor is not None:
            if "anchor_state" not in ck:
                raise CheckpointError(f"{path}: the checkpoint has no L2-SP starting point to resume")
            try:
                self.anchor.load_state_dict(ck["anchor_state"])
            except ValueError as exc:
                raise CheckpointError(f"{path}: {exc}") from None
        self.optimizer.load_state_dict(ck["optimizer"])
        st = self.state
        st.step, st.epoch, st.batch_in_epoch = int(ck["step"]), int(ck["epoch"]), int(ck["batch_in_epoch"])
        st.metrics = dict(ck.get("metrics") or {})
        st.last_checkpoint_step = st.step
        if "rng" in ck:
            restore_rng_state(ck["rng"])
        self.resumed_from = path

    # ------------------------------------------------------------------ bookkeeping

    def _emit(self, type_: str, **fields: Any) -> None:
        self.events.emit(type_, self.state.step, self.state.epoch, **fields)

    def _start_event(self) -> None:
        p = self.paths
        n_params = sum(t.numel() for t in self.model.parameters() if t.requires_grad)
        self._emit(
            "start",
            format_version=EVENTS_FORMAT_VERSION,
            config=self.cfg.model_dump(mode="json"),
            mode=self.cfg.mode,
            model=self.cfg.model.name,
            teacher=None if self.teacher is None else self.teacher.name,
            paths={
                "out": p.out,
                "config": p.config,
                "checkpoints": p.checkpoints,
                "last_checkpoint": p.last,
                "final_weights": p.final_weights,
                "events": self.events.target,
            },
            world_size=self.env.world_size,
            device=str(self.env.device),
            resumed_from=self.resumed_from,
            train_samples=len(self.data.dataset),
            steps_per_epoch=self.steps_per_epoch,
            total_steps=self.total_steps,
            trainable_params=n_params,
            code_revision=code_revision(),
            pid=os.getpid(),
        )

    def _checkpoint(self) -> None:
        st = self.state
        st.last_checkpoint_step = st.step
        if not self.env.is_main:
            return
        payload = {
            "model_name": self.cfg.model.name,
            "model_state": _unwrap(self.train_model).state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.schedule.state_dict(),
            **({"adapter_state": self.adapter.state_dict()} if self.adapter is not None else {}),
            **({"anchor_state": self.anchor.state_dict()} if self.anchor is not None else {}),
            "step": st.step,
            "epoch": st.epoch,
            "batch_in_epoch": st.batch_in_epoch,
            "world_size": self.env.world_size,
            # the data position: order = permutation(seed, epoch); sample rng = (seed, epoch, index)
            "data": {
                "seed": self.cfg.run.seed,
                "epoch": st.epoch,
                "skip_per_rank": st.batch_in_epoch * self.cfg.run.batch_size,
            },
            "rng": capture_rng_state(),
            "config": self.cfg.model_dump(mode="json"),
            "metrics": st.metrics,
        }
        keep = self.cfg.run.keep_checkpoints
        if keep > 0:
            numbered = save_checkpoint(self.paths.checkpoints / step_checkpoint_name(st.step), payload)
            _replace_with_link(numbered, self.paths.last)
            prune_step_checkpoints(self.paths.checkpoints, keep)
        else:
            numbered = None
            save_checkpoint(self.paths.last, payload)
        self._emit("checkpoint", path=self.paths.last, step_path=numbered)

    def _evaluate(self, final: bool = False) -> dict[str, float] | None:
        """Rank 0 evaluates on the whole validation set while the other ranks wait."""
        metrics = None
        if self.env.is_main and self.val_loader is not None:
            metrics = evaluate_model(
                _unwrap(self.train_model),
                self.model.spec,
                self.val_loader,
                self.cfg.data.val_ann,
                self.env.device,
                flip=self.cfg.run.flip_test,
                results_path=self.paths.eval_results,
            )
            self.state.metrics = {**metrics, "step": self.state.step, "epoch": self.state.epoch}
            self._emit("eval", metrics=metrics, final=final, results=self.paths.eval_results)
        barrier(self.env)
        return metrics

    # ------------------------------------------------------------------ the loop

    def _train_step(self, batch: dict[str, Tensor]) -> dict[str, Tensor]:
        st = self.state
        lr = self.schedule.apply(st.step, st.epoch)
        dev = self.env.device
        batch = {k: v.to(dev, non_blocking=True) for k, v in batch.items() if k in _BATCH_KEYS}
        losses = self.objective(self.train_model, batch)
        total = losses["total"]
        if any_rank(self.env, not bool(torch.isfinite(total))):  # every rank stops, none waits in all-reduce
            terms = {k: float(v.detach()) for k, v in losses.items()}
            raise TrainingDiverged(f"the loss became non-finite at step {st.step} (lr {lr:.3g}): {terms}")
        self.optimizer.zero_grad(set_to_none=True)
        total.backward()
        self.optimizer.step()
        st.step += 1
        st.batch_in_epoch += 1
        return losses

    def _stop_reason(self, started: float) -> str | None:
        st, run = self.state, self.cfg.run
        if st.step >= self.total_steps:
            return "completed"
        # every rank must agree, or one would wait forever in the next all-reduce
        if any_rank(self.env, self.signals.signum is not None):
            return "interrupted"
        if run.time_budget_s is not None:
            timed_out = time.monotonic() - started >= run.time_budget_s
            if any_rank(self.env, timed_out):
                return "time_budget"
        return None

    def release(self) -> None:
        """Unwrap the DDP wrappers, which hold the process group, so the group is destroyed while the
        interpreter is fully alive (``distributed.shutdown``), also when a failure's traceback keeps this
        trainer alive; freed at interpreter teardown, gloo's threads now and then abort the process."""
        if hasattr(self, "model"):  # a set-up that failed half-way has no model yet
            self.train_model = self.model
        holder, self._adapter_holder = getattr(self, "_adapter_holder", None), None
        if holder is not None:
            holder.adapter = self.adapter  # type: ignore[attr-defined]

    def train(self) -> int:
        cfg, st = self.cfg, self.state
        if self.env.is_main:
            atomic_write_json(self.paths.config, cfg.model_dump(mode="json"), indent=2)
        self._start_event()
        self.signals.install()
        started = time.monotonic()
        bar = tqdm(
            total=self.total_steps,
            initial=st.step,
            disable=not self.show_progress,
            dynamic_ncols=True,
            unit="step",
        )
        window: dict[str, float] = {}
        window_n, window_t0 = 0, time.monotonic()
        clock = StepClock()
        paused = 0.0  # seconds of the window spent checkpointing and evaluating: not a step's time
        reason: str | None = None
        try:
            while reason is None:
                if st.step >= self.total_steps:
                    reason = "completed"
                    break
                self.data.sampler.set_epoch(st.epoch, st.batch_in_epoch * cfg.run.batch_size)
                for batch in self.data.loader:
                    losses = self._train_step(batch)
                    for k, v in losses.items():
                        window[k] = window.get(k, 0.0) + float(v.detach())
                    window_n += 1
                    bar.update(1)
                    if st.step % cfg.run.log_every_steps == 0 or st.step == self.total_steps:
                        mean = mean_over_ranks(self.env, {k: v / window_n for k, v in window.items()})
                        elapsed = max(time.monotonic() - window_t0 - paused, 1e-9)
                        ips = window_n * cfg.run.batch_size * self.env.world_size / elapsed
                        clock.update(elapsed, window_n)
                        eta = clock.eta(self.total_steps - st.step)
                        if cfg.run.time_budget_s is not None:
                            eta = min(eta, max(0.0, cfg.run.time_budget_s - (time.monotonic() - started)))
                        self._emit(
                            "step",
                            losses={k: v for k, v in mean.items() if k != "total"},
                            loss=mean.get("total"),
                            lr=self.optimizer.param_groups[-1]["lr"],
                            images_per_s=ips,
                            eta_s=eta,
                        )
                        bar.set_postfix(loss=f"{mean.get('total', float('nan')):.4g}", img_s=f"{ips:.1f}")
                        window, window_n, window_t0, paused = {}, 0, time.monotonic(), 0.0
                    if st.step % cfg.run.checkpoint_every_steps == 0:
                        pause_from = time.monotonic()
                        self._checkpoint()
                        paused += time.monotonic() - pause_from
                    reason = self._stop_reason(started)
                    if reason is not None:
                        break
                if st.batch_in_epoch >= self.steps_per_epoch:
                    pause_from = time.monotonic()
                    self._end_epoch(evaluate=reason != "interrupted")
                    paused += time.monotonic() - pause_from
            if st.last_checkpoint_step != st.step:
                self._checkpoint()
        finally:
            bar.close()
            self.signals.restore()
        if reason == "interrupted":
            signum = self.signals.signum or signal.SIGTERM
            name = signal.Signals(signum).name
            self._emit(
                "done", status="interrupted", signal=name, checkpoint=self.paths.last, metrics=st.metrics
            )
            barrier(self.env)
            return 128 + int(signum)
        return self._finish(reason or "completed")

    def _end_epoch(self, evaluate: bool) -> None:
        st, run = self.state, self.cfg.run
        finished = st.epoch
        self._emit("epoch", finished_epoch=finished, steps_per_epoch=self.steps_per_epoch)
        st.epoch += 1
        st.batch_in_epoch = 0
        if evaluate and run.eval_every_epochs is not None and (finished + 1) % run.eval_every_epochs == 0:
            self._evaluate()

    def _finish(self, reason: str) -> int:
        st = self.state
        if self.cfg.run.eval_at_end and st.metrics.get("step") != st.step:
            self._evaluate(final=True)
        if self.env.is_main:
            model = _unwrap(self.train_model)
            meta = {
                "model": self.cfg.model.name,
                "run": self.cfg.name,
                "mode": self.cfg.mode,
                "step": str(st.step),
                "epoch": str(st.epoch),
                "code_revision": code_revision(),
                "overrides": json.dumps(self.cfg.model.overrides, sort_keys=True),
            }
            if self.cfg.teacher is not None:
                meta["teacher"] = self.cfg.teacher.name
            save_weights(model, self.paths.final_weights, metadata=meta)
            summary = {
                "status": "completed",
                "reason": reason,
                "step": st.step,
                "epoch": st.epoch,
                **st.metrics,
            }
            atomic_write_json(self.paths.metrics, _finite(summary), indent=2)
            self._emit(
                "done",
                status="completed",
                reason=reason,
                final_weights=self.paths.final_weights,
                checkpoint=self.paths.last,
                metrics_path=self.paths.metrics,
                metrics=st.metrics,
            )
        barrier(self.env)
        return 0


def _finite(obj: Any) -> Any:
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    return obj


def _replace_with_link(src: Path, dst: Path) -> None:
    """Point ``dst`` at the same bytes as ``src`` atomically (hard link, or a copy where links fail)."""
    tmp = dst.with_name(f".{dst.name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)
    try:
        os.link(src, tmp)
    except OSError:
        import shutil

        shutil.copyfile(src, tmp)
    os.replace(tmp, dst)
