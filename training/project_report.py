"""The report at the end of every distillation job on a project (``report.json`` in the job folder).

On the job's val split (the project's labels: verified people, else the teacher's pre-labels) it scores the
new student, the student it started from, MoveNet Lightning (what a user would run at student speed) and the
teacher, with OKS AP from pycocotools on the labels' boxes (:func:`distilpose.compare.compare_models`), and
measures the live FPS of each in one ``distilpose bench --pipeline`` run on a project video (same frames,
same load: the ratios are what to read). ``gain`` holds the new student's AP over each other model with a
paired bootstrap interval over the val images (:mod:`distilpose.ap_interval`): a val split of fifty people
cannot tell 0.01 AP from luck, and the report says so. It ends in one sentence: use the new student or not. The app's
monitor and `distilpose project distil` show the same file. Qt-free.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from distilpose.ap_interval import gain_intervals
from distilpose.atomic import atomic_write_json
from distilpose.coco import load_coco
from distilpose.compare import Comparison, ComparisonRow, ModelEntry, compare_models
from distilpose.errors import DistilPoseError

NEW = "new student"
START = "started from"
LIGHTNING = "movenet-lightning"
TEACHER = "teacher"
#: Frames of the project video timed per model by the report's `bench --pipeline` run.
BENCH_FRAMES = 100
NO_VAL = "no validation split"


def report_models(config_path: Path, new_weights: Path) -> tuple[list[ModelEntry], Any]:
    """The four rows (new student, its start, Lightning, the teacher) and the loaded config."""
    from distilpose.training.config import load_config

    cfg = load_config(config_path)
    start = str(cfg.model.init_weights) if cfg.model.init_weights else cfg.model.name
    models = [ModelEntry(NEW, str(new_weights)), ModelEntry(START, start), ModelEntry(LIGHTNING, LIGHTNING)]
    if cfg.teacher is not None:
        models.append(ModelEntry(TEACHER, str(cfg.teacher.weights or cfg.teacher.name)))
    return models, cfg


def _start_name(start: str) -> str:
    """A shipped student's weights file is reported by the student's name (it loads by name everywhere)."""
    from distilpose.models.bundled import bundled_weights

    path = Path(start)
    if path.name == "model.safetensors" and bundled_weights(path.parent.name) == path:
        return path.parent.name
    return start


def make_report(
    config_path: Path,
    new_weights: Path,
    out: Path,
    *,
    video: str | None,
    name: str = "",
    frames: int = BENCH_FRAMES,
    progress: Callable[[str, int, int], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    bench: Callable[[dict[str, str], Path, int], dict] | None = None,
) -> dict[str, Any]:
    """Score, time, decide and write ``out`` (atomically); returns the report. ``bench(models, video,
    frames)`` is the pipeline measurement (default: one ``distilpose bench --pipeline`` subprocess)."""
    models, cfg = report_models(config_path, new_weights)
    models = [ModelEntry(m.label, _start_name(str(m.model))) if m.label == START else m for m in models]
    report: dict[str, Any] = {
        "name": name,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "weights": str(new_weights),
        "models": {m.label: str(m.model) for m in models},
        "val_ann": str(cfg.data.val_ann) if cfg.data.val_ann else None,
        "ap": {},
        "fps": {},
        "pipeline": None,
    }
    rows: list[ComparisonRow] = []
    if cfg.data.val_ann is None or cfg.data.val_images is None:
        report["note"] = f"{NO_VAL}: {config_path} has no data.val_ann"
    else:
        results: dict[str, list] = {}
        rows = compare_models(
            models,
            cfg.data.val_ann,
            cfg.data.val_images,
            progress=progress,
            should_stop=should_stop,
            iters=1,
            results_out=results,
        )
        report["ap"] = {r.label: r.ap for r in rows}
        report["people"] = max((r.instances for r in rows), default=0)
        report["errors"] = {r.label: r.error for r in rows if r.error}
        intervals = gain_intervals(load_coco(cfg.data.val_ann), results, of=NEW)
        report["gain"] = {label: interval.as_dict() for label, interval in intervals.items()}
    if video:
        if should_stop is not None and should_stop():
            raise DistilPoseError("report cancelled")
        refs = {m.label: str(m.model) for m in models}
        try:
            pipeline = (bench or _bench_pipeline)(refs, Path(video), frames)
        except Exception as exc:  # the AP is still worth having; say why there is no FPS
            report["pipeline"] = {"video": video, "error": f"{type(exc).__name__}: {exc}"}
        else:
            report["pipeline"] = pipeline
            report["fps"] = dict(pipeline.get("fps") or {})
    else:
        report["pipeline"] = {"error": "the project has no video to measure live FPS on"}
    for row in rows:  # the table's FPS column is the live FPS
        row.fps = report["fps"].get(row.label)
        row.latency_ms = None
    report["rows"] = [vars(r) for r in rows]
    report["use_new_student"], report["verdict"] = verdict(report)
    atomic_write_json(out, _finite(report), indent=1)
    return report


def _bench_pipeline(models: dict[str, str], video: Path, frames: int) -> dict:
    """One ``distilpose bench --pipeline`` subprocess over every model; a model that fails there has no FPS
    (its error is kept), the others are still measured."""
    import subprocess
    import sys

    cmd = [sys.executable, "-m", "distilpose.cli", "bench", "--pipeline", str(video)]
    cmd += ["--models", ",".join(models.values()), "--frames", str(frames), "--json"]
    done = subprocess.run(cmd, capture_output=True, text=True)
    try:
        doc = json.loads(done.stdout.strip().splitlines()[-1])
    except (IndexError, json.JSONDecodeError):
        tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
        raise DistilPoseError(f"bench --pipeline failed (exit code {done.returncode}): {tail[0]}") from None
    failed = {f["model"]: f["error"] for f in doc.get("failed") or []}
    measured = [label for label, ref in models.items() if ref not in failed]
    runs = dict(zip(measured, doc.get("runs") or [], strict=False))
    return {
        "video": str(video),
        "frames": frames,
        "threads": doc.get("threads"),
        "fps": {label: run["fps"] for label, run in runs.items()},
        "runtime": {label: run.get("runtime") for label, run in runs.items()},
        "failed": {label: failed[ref] for label, ref in models.items() if ref in failed},
    }


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def _gain_clause(report: dict[str, Any], label: str) -> str:
    """'; new student +0.010 AP, 95 % interval -0.012 to +0.031: 50 people cannot tell them apart' (the new
    student's gain over ``label`` from the report's bootstrap, :mod:`distilpose.ap_interval`); '' without one."""
    g = (report.get("gain") or {}).get(label)
    if not g:
        return ""
    text = f"; new student {g['gain']:+.3f} AP, {g['level'] * 100:.0f} % interval {g['low']:+.3f} to {g['high']:+.3f}"
    if g["sure"]:
        return text
    people = report.get("people")
    who = "the val people" if not people else "1 person" if people == 1 else f"{people} people"
    return f"{text}: {who} cannot tell them apart"


def verdict(report: dict[str, Any]) -> tuple[bool, str]:
    """(use the new student?, one sentence why), from the report's numbers alone. The answer follows the AP
    on the val split; the sentence says when the split is too small for the difference to be more than luck."""
    ap, fps = report.get("ap") or {}, report.get("fps") or {}
    new, start, light = ap.get(NEW), ap.get(START), ap.get(LIGHTNING)
    if new is None:
        why = report.get("note") or (report.get("errors") or {}).get(NEW) or "the new student was not scored"
        return False, f"Cannot say whether to use the new student: {why}."
    speed = ""
    if fps.get(NEW) and fps.get(TEACHER):
        speed = f", at {fps[NEW]:.1f} FPS live ({fps[NEW] / fps[TEACHER]:.1f}x the teacher's)"
    over_start, over_light = _gain_clause(report, START), _gain_clause(report, LIGHTNING)
    base = f"{start:.3f}" if start is not None else "—"
    if start is not None and new <= start:
        return False, (
            f"Keep the student it started from: on the val split the new student scores {new:.3f} AP, "
            f"not above {start:.3f}{over_start}."
        )
    if light is not None and new < light:
        return True, (
            f"Use the new student over the one it started from ({new:.3f} vs {base} AP on the val split"
            f"{over_start}), but MoveNet Lightning scores higher here ({light:.3f}{over_light}){speed}."
        )
    return True, (
        f"Use the new student: on the val split it scores {new:.3f} AP, above the student it started from "
        f"({base}{over_start}) and MoveNet Lightning ({'—' if light is None else f'{light:.3f}'}{over_light})"
        f"{speed}."
    )


def load_report(path: Path) -> dict[str, Any]:
    """A report written by :func:`make_report`; a damaged one raises naming the file."""
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DistilPoseError(f"{path}: cannot read the job report ({exc})") from exc
    if not isinstance(doc, dict) or not isinstance(doc.get("rows"), list):
        raise DistilPoseError(f"{path}: expected a job report with a 'rows' list")
    return doc


def report_comparison(report: dict[str, Any]) -> Comparison:
    """The report's rows as the monitor's comparison table."""
    from dataclasses import fields

    known = {f.name for f in fields(ComparisonRow)}
    rows = [ComparisonRow(**{k: v for k, v in r.items() if k in known}) for r in report.get("rows") or []]
    return Comparison(rows, ann=report.get("val_ann"), note=str(report.get("note") or ""))
