"""What decides whether a student becomes a default: its accuracy beside its untrained prior, MoveNet
Lightning and Thunder on whole held-out videos and on still images, and its live FPS, written as one table
and one metrics file.

``python -m distilpose.training.recipes.student_metrics --student RUN/final/model.safetensors --data DATA
--out metrics.json`` (``DATA`` made by ``default_student prepare``) measures:

- **video**: OKS AP (pycocotools) on every video under ``DATA/heldout/`` (whole videos kept out of the
  training list, labelled by Thunder with flip test on CenterNet boxes), each model run on the labels' boxes
  without flip, as it runs live;
- **stills**: AP on ``../shared/data`` coco-mini-train and mmpose-coco (annotated boxes, flip test);
- **speed**: live FPS of each model in one ``distilpose bench --pipeline`` run on the sample video (a scene
  the student never saw), so the ratios share the machine's load.

The bars (issue 13, issue 26): the student is the video default when it beats Lightning on every held-out
video, runs at >= 2x Thunder's live FPS, stays within 0.02 AP of Lightning on both still sets, and beats its
untrained prior (``bundled.STUDENT_PRIOR``) on every set, by >= 0.03 AP on the COCO stills: training that
does not lift the student above where it started ships nothing. ``--prior-out`` writes the prior's own
metrics from the same run (the prior as the candidate, without the prior bar): the live default while no
trained student passes (ADR 0030).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

LIGHTNING = "movenet-lightning"
THUNDER = "movenet-thunder"
MIN_SPEEDUP = 2.0
#: The student may be at most this far below Lightning's AP on each still set.
MAX_STILLS_GAP = 0.02
#: A trained student must beat its prior on every set, and on the crowded COCO stills by this much (issue 26).
MIN_PRIOR_GAIN_COCO = 0.03
COCO_STILLS = "coco-mini-train"
#: The sample video the app opens (a held-out scene): the pipeline bench runs on it.
BENCH_VIDEO = Path("resources/samples/sports2d-demo-640.mp4")


def heldout_videos(data: Path) -> dict[str, tuple[Path, Path]]:
    """``DATA/heldout/<video>/``: (annotations, images) of each video kept out of training."""
    root = data / "heldout"
    return {
        d.name: (d / "person_keypoints.json", d / "images")
        for d in sorted(root.iterdir())
        if (d / "person_keypoints.json").is_file()
    }


def table(
    models: dict[str, str], sets: dict[str, tuple[Path, Path]], flip: bool
) -> tuple[dict[str, dict], dict[str, dict], dict[str, dict]]:
    """``{set: {label: AP}}`` for each model (label -> name or checkpoint) on each (annotations, images),
    ``{set: {label: runtime}}``: the runtime ``eval``'s ``auto`` chose for each AP (the one that runs live), and
    ``{set: {label: gain}}``: the first model's AP minus each other's with its paired bootstrap interval
    (:func:`gain_intervals`), so the table says which differences the set can tell apart."""
    import tempfile

    from distilpose.training.recipes.ablation import eval_ap_runtime

    aps: dict[str, dict] = {}
    runtimes: dict[str, dict] = {}
    gains: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="student-metrics-") as tmp:
        for name, (ann, images) in sets.items():
            results = {label: Path(tmp) / f"{name}-{label}.json" for label in models}
            measured = {
                label: eval_ap_runtime(ref, ann, images, flip=flip, results=results[label])
                for label, ref in models.items()
            }
            aps[name] = {label: ap for label, (ap, _) in measured.items()}
            runtimes[name] = {label: runtime for label, (_, runtime) in measured.items()}
            gains[name] = gain_intervals_of(ann, results, of=next(iter(models)))
    return aps, runtimes, gains


def gain_intervals_of(ann: Path, results: dict[str, Path], of: str) -> dict[str, dict]:
    """``of``'s AP gain over each other model whose results file is given, with its interval (as dicts)."""
    from distilpose.ap_interval import gain_intervals
    from distilpose.coco import load_coco, load_keypoint_results

    loaded = {label: load_keypoint_results(path) for label, path in results.items()}
    return {label: g.as_dict() for label, g in gain_intervals(load_coco(ann), loaded, of=of).items()}


def pipeline_fps(models: dict[str, str], video: Path, frames: int = 100) -> dict:
    """Live FPS of each model from one ``distilpose bench --pipeline`` run (same frames, same load)."""
    refs = ",".join(models.values())
    cmd = [sys.executable, "-m", "distilpose.cli", "bench", "--pipeline", str(video), "--models", refs]
    cmd += ["--frames", str(frames), "--json"]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    runs = json.loads(out.strip().splitlines()[-1])["runs"]
    return {
        "video": str(video),
        "frames": frames,
        "fps": {label: run["fps"] for label, run in zip(models, runs, strict=True)},
        "stage_ms": {label: run["stage_ms"] for label, run in zip(models, runs, strict=True)},
        "runtime": {label: run.get("runtime") for label, run in zip(models, runs, strict=True)},
    }


def weights_hash(student: str) -> dict[str, str]:
    """``{WEIGHTS_SHA256: sha256}`` of the weights the student loads (a file, shipped or zoo weights; {} for
    none): the default choice trusts these metrics only for exactly those (``bundled.metrics_match_weights``)."""
    from distilpose.models.bundled import WEIGHTS_SHA256, weights_sha256

    digest = weights_sha256(student)
    return {WEIGHTS_SHA256: digest} if digest is not None else {}


def decide(metrics: dict) -> dict:
    """The bars, from measured numbers (pure: tested without running a model)."""
    video = metrics["video_ap"]
    beats = {v: row["student"] > row["lightning"] for v, row in video.items()}
    fps = metrics["pipeline"]["fps"]
    speedup = fps["student"] / fps["thunder"]
    stills = metrics["stills_ap"]
    gaps = {s: row["lightning"] - row["student"] for s, row in stills.items()}
    video_ok = bool(beats) and all(beats.values()) and speedup >= MIN_SPEEDUP
    stills_ok = bool(gaps) and all(g <= MAX_STILLS_GAP for g in gaps.values())
    bars = {
        "video": {
            "rule": f"AP above Lightning on every held-out video and live FPS >= {MIN_SPEEDUP}x Thunder",
            "beats_lightning": beats,
            "speedup_vs_thunder": speedup,
            "passed": video_ok,
        },
        "stills": {
            "rule": f"AP at most {MAX_STILLS_GAP} below Lightning on every still set (GT boxes, flip)",
            "gap_to_lightning": gaps,
            "passed": stills_ok,
        },
    }
    if "prior" in metrics.get("models", {}):
        gains = {name: row["student"] - row["prior"] for name, row in {**video, **stills}.items()}
        # 1e-9: a gain of exactly the margin passes whatever the float subtraction rounds to
        lifted = {name: g >= MIN_PRIOR_GAIN_COCO - 1e-9 if name == COCO_STILLS else g > 0 for name, g in gains.items()}
        bars["prior"] = {
            "rule": f"AP above its untrained prior on every held-out video and still set, by >= "
            f"{MIN_PRIOR_GAIN_COCO} on {COCO_STILLS}",
            "gain_over_prior": gains,
            "passed": bool(lifted) and all(lifted.values()),
        }
    return bars


def passed(bars: dict) -> bool:
    """Every bar measured is met."""
    return all(bar["passed"] for bar in bars.values())


#: What a run measured (``measure``'s keys): what :func:`as_candidate` carries over, nothing written beside it.
MEASURED = ("video_ap", "video_runtime", "video_labels", "stills_ap", "stills_runtime", "pipeline", "machine")


def as_candidate(metrics: dict, label: str) -> dict:
    """The metrics of the run's model ``label`` (e.g. the prior) as the candidate: its rows become the
    "student" rows, the measured student's are dropped, its own weights hash and bars replace the student's,
    and nothing else written about the student (notes) comes along."""
    needed = ("models", "video_ap", "video_runtime", "stills_ap", "stills_runtime", "pipeline")
    missing = [key for key in needed if key not in metrics]
    if missing or label not in metrics["models"]:
        raise ValueError(f"these metrics lack {', '.join(missing) or label}: re-measure with student_metrics")
    keep = [lab for lab in metrics["models"] if lab not in ("student", label)]

    def rows(per_set: dict) -> dict:
        return {name: {"student": row[label], **{k: row[k] for k in keep}} for name, row in per_set.items()}

    models = {"student": metrics["models"][label], **{k: metrics["models"][k] for k in keep}}
    out = {"models": models, **weights_hash(models["student"])}
    out.update({key: metrics[key] for key in MEASURED if key in metrics})
    for key in ("video_ap", "video_runtime", "stills_ap", "stills_runtime"):
        out[key] = rows(metrics[key])
    pipe = metrics["pipeline"]
    out["pipeline"] = {**pipe, **{k: rows({"_": pipe[k]})["_"] for k in ("fps", "stage_ms", "runtime")}}
    bars = decide(out)
    return {**out, "bars": bars, "meets_default_bar": passed(bars)}


def measure(student: str, data: Path, shared: Path, video: Path = BENCH_VIDEO) -> dict:
    from distilpose.models.bundled import STUDENT_PRIOR
    from distilpose.models.registry import resolve_name
    from distilpose.training.recipes.ablation import heldout_sets

    models = {"student": student, "prior": STUDENT_PRIOR, "lightning": LIGHTNING, "thunder": THUNDER}
    if not Path(student).is_file() and resolve_name(student) == STUDENT_PRIOR:
        del models["prior"]  # the prior measured as the candidate
    video_ap, video_runtime, video_gain = table(models, heldout_videos(data), flip=False)
    stills_ap, stills_runtime, stills_gain = table(models, heldout_sets(shared), flip=True)
    metrics = {
        "models": models,
        **weights_hash(student),
        "video_ap": video_ap,
        "video_runtime": video_runtime,
        "video_labels": "MoveNet Thunder with flip test on CenterNet boxes (distilpose pseudo-label --flip); "
        "OKS AP with pycocotools, every model on the labels' boxes, no flip",
        "stills_ap": stills_ap,
        "stills_runtime": stills_runtime,
        "gain": {**video_gain, **stills_gain},  # the student's AP over each other model, with its interval
        "pipeline": pipeline_fps(models, video),
    }
    bars = decide(metrics)
    return {**metrics, "bars": bars, "meets_default_bar": passed(bars)}


def markdown(metrics: dict) -> str:
    """The table of docs/student.md: one row per model, AP per held-out video and still set, live FPS."""
    videos, stills = list(metrics["video_ap"]), list(metrics["stills_ap"])
    head = ["model", *(f"{v} (video)" for v in videos), *stills, "live FPS"]
    lines = ["| " + " | ".join(head) + " |", "|---" * len(head) + "|"]
    for label, ref in metrics["models"].items():
        cells = [f"{metrics['video_ap'][v][label]:.3f}" for v in videos]
        cells += [f"{metrics['stills_ap'][s][label]:.3f}" for s in stills]
        cells.append(f"{metrics['pipeline']['fps'][label]:.1f}")
        ran = sorted({per[label] for key in ("video_runtime", "stills_runtime")
                      for per in metrics.get(key, {}).values() if label in per})  # fmt: skip
        where = f"; AP on {'/'.join(ran)}" if ran else ""
        lines.append(f"| {label} ({Path(ref).name if '/' in ref else ref}{where}) | " + " | ".join(cells) + " |")
    bars = metrics["bars"]
    lines.append("")
    lines.append(f"video bar ({bars['video']['rule']}): {'passed' if bars['video']['passed'] else 'missed'}; "
                 f"speed {bars['video']['speedup_vs_thunder']:.2f}x Thunder")
    lines.append(f"stills bar ({bars['stills']['rule']}): {'passed' if bars['stills']['passed'] else 'missed'}")
    if "prior" in bars:
        lines.append(f"prior bar ({bars['prior']['rule']}): {'passed' if bars['prior']['passed'] else 'missed'}")
    lines += gain_lines(metrics)
    return "\n".join(lines)


def gain_lines(metrics: dict) -> list[str]:
    """The first model's AP gain over each other one per set, with its 95 % interval ("sure" when the
    interval excludes zero); none for metrics written before the intervals were measured."""
    gains = metrics.get("gain") or {}
    if not gains:
        return []
    first = next(iter(metrics["models"]))
    others = [label for label in metrics["models"] if label != first]
    lines = ["", f"| set | {first} - " + f" | {first} - ".join(others) + " |", "|---" * (len(others) + 1) + "|"]
    for name, per in gains.items():
        cells = []
        for label in others:
            g = per.get(label)
            cells.append("—" if g is None else f"{g['gain']:+.3f} ({g['low']:+.3f} to {g['high']:+.3f})"
                         + (" sure" if g["sure"] else ""))  # fmt: skip
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return lines


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="student_metrics", description=__doc__.split("\n\n")[0])
    p.add_argument("--student", required=True, help="the student: a checkpoint file or a registered name")
    p.add_argument("--data", type=Path, required=True, help="the folder made by default_student prepare")
    p.add_argument("--shared", type=Path, default=Path("../shared"), help="the still evaluation sets")
    p.add_argument("--video", type=Path, default=BENCH_VIDEO, help="the video of the pipeline bench")
    p.add_argument("--out", type=Path, help="write the metrics JSON here")
    p.add_argument("--prior-out", type=Path, help="write the prior's own metrics (same run) here")
    args = p.parse_args(argv)
    metrics = measure(args.student, args.data, args.shared, args.video)
    if args.out:
        args.out.write_text(json.dumps(metrics, indent=2) + "\n")
    print(markdown(metrics))
    if args.prior_out and "prior" in metrics["models"]:
        prior = as_candidate(metrics, "prior")
        args.prior_out.write_text(json.dumps(prior, indent=2) + "\n")
        print("\nthe prior as the candidate:\n" + markdown(prior))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
