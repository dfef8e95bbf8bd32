"""A job's curves and progress, accumulated from its events (no Qt: the monitor dock only draws them)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

#: The validation metric plotted, in order of preference (COCO keypoint AP first).
VAL_METRICS = ("AP", "PCK", "EPE")


@dataclass
class JobProgress:
    """Everything the monitor plots for one job: loss terms, lr, images/s and the validation metric."""

    steps: list[int] = field(default_factory=list)
    losses: dict[str, list[tuple[int, float]]] = field(default_factory=dict)
    lr: list[tuple[int, float]] = field(default_factory=list)
    images_per_s: list[tuple[int, float]] = field(default_factory=list)
    val: list[tuple[int, float]] = field(default_factory=list)
    #: The epoch each validation point ended (same order as ``val``).
    val_epochs: list[int] = field(default_factory=list)
    val_name: str | None = None
    total_steps: int | None = None
    step: int = 0
    eta_s: float | None = None
    last: dict[str, Any] | None = None
    error: str | None = None
    done: dict[str, Any] | None = None
    #: A run bounded by time alone: its budget (s), start time and the share of it used so far.
    time_budget_s: float | None = None
    started: float | None = None
    budget_used: float = 0.0

    def add(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        step = int(event.get("step") or 0)
        self.last = event
        if kind == "start":
            self.total_steps = event.get("total_steps")
            run = ((event.get("config") or {}).get("run")) or {}
            # A time budget alone: the step count is unknown (the engine's epoch bound is not an estimate),
            # so progress is the time spent of the budget.
            self.time_budget_s = run.get("time_budget_s") if not run.get("max_steps") else None
            if self.time_budget_s:
                self.total_steps = None
                self.started = event.get("time")
            self.done = None
            self.error = None
        elif kind == "step":
            self.step = step
            self.steps.append(step)
            for name, value in (event.get("losses") or {}).items():
                if value is not None:
                    self.losses.setdefault(name, []).append((step, float(value)))
            if event.get("loss") is not None:
                self.losses.setdefault("total", []).append((step, float(event["loss"])))
            for key, series in (("lr", self.lr), ("images_per_s", self.images_per_s)):
                if event.get(key) is not None:
                    series.append((step, float(event[key])))
            self.eta_s = event.get("eta_s")
            if self.time_budget_s and self.started is not None and event.get("time") is not None:
                self.budget_used = (float(event["time"]) - float(self.started)) / float(self.time_budget_s)
        elif kind == "eval":
            metrics = event.get("metrics") or {}
            name = self.val_name or next((m for m in VAL_METRICS if m in metrics), None)
            if name is None and metrics:
                name = next(iter(metrics))
            if name is not None and metrics.get(name) is not None:
                self.val_name = name
                self.val.append((step, float(metrics[name])))
                self.val_epochs.append(int(event.get("epoch") or 0))
        elif kind == "done":
            self.done = event
            self.step = max(self.step, step)
            if event.get("status") == "completed" and self.total_steps is None:
                self.total_steps = self.step  # a time-budgeted run's length is known once it ends
            # a cancelled or failed run has no time left to show: not the last estimate made while it ran
            self.eta_s = 0.0 if event.get("status") == "completed" else None
        elif kind == "error":
            self.error = str(event.get("message") or "training failed")
            self.eta_s = None

    @property
    def fraction(self) -> float:
        if not self.total_steps:
            return min(1.0, self.budget_used) if self.time_budget_s else 0.0
        return min(1.0, self.step / self.total_steps)

    def summary(self) -> dict[str, Any]:
        """The last metrics stored in the project's job row (small: no curves)."""
        out: dict[str, Any] = {"step": self.step, "total_steps": self.total_steps}
        for name, series in self.losses.items():
            out[f"loss/{name}"] = series[-1][1]
        if self.val:
            out[f"val/{self.val_name}"] = self.val[-1][1]
        return out
