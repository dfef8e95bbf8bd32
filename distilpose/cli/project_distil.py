"""`distilpose project distil PROJECT`: distil a student for the project's footage, headless.

The same job as the app's Training > Distil a Student (:mod:`distilpose.training.project_job` builds it,
:mod:`distilpose.training.project_report` reports it): checked before anything starts, recorded in the
project's jobs (the app's Training Monitor lists it), trained by `distilpose train` as a child process with
tqdm on stderr. Ctrl-C writes a final checkpoint and leaves the job folder resumable (``--resume JOB``); the
project itself only ever gets whole job rows. ``--json`` prints one JSON object on the last line of stdout.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from distilpose.inference.options import DEFAULT_TEACHER

#: The job's recipes, the default first (``distilpose.training.project_job.JOB_RECIPES``; a test keeps them equal).
RECIPES = ("peak", "distilpose")


def register_distil(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "distil",
        help="distil a student for the project's footage (the app's Distil a Student, headless)",
        description="Trains on the train split: verified people as labels and, on frames with nothing "
        "verified, the teacher's stored pre-labels as distillation targets (people you corrected weigh "
        "more). Ends with report.json in the job folder: OKS AP on the val split of the new student, the "
        "student it started from, MoveNet Lightning and the teacher, and their live FPS from one bench "
        "--pipeline run on a project video. Ctrl-C keeps the last checkpoint: --resume JOB continues it.",
    )
    p.add_argument("project", metavar="PROJECT")
    p.add_argument("--teacher", metavar="T", help=f"teacher name or checkpoint (default {DEFAULT_TEACHER})")
    p.add_argument(
        "--student", metavar="S", help="student to start from: name or checkpoint (default the shipped one)"
    )
    budget = p.add_mutually_exclusive_group()
    budget.add_argument("--minutes", type=float, metavar="N", help="time budget (default 10 on a CPU)")
    budget.add_argument("--steps", type=int, metavar="N", help="step budget instead of a time budget")
    p.add_argument(
        "--recipe",
        choices=RECIPES,
        default=RECIPES[0],
        help="peak (default): a peak-choice head learns from the labels alone which peak to pick, the rest of "
        "the student stays as it was and the teacher is not run again; distilpose: the paper's recipe, the "
        "teacher online (simulated heatmaps, score)",
    )
    p.add_argument("--batch", type=int, metavar="B", help="batch size (default: the job default)")
    p.add_argument("--workers", type=int, metavar="W", help="data-loading processes (default 1)")
    p.add_argument("--out", metavar="DIR", help="job folder (default: <project folder>/jobs/<job id>)")
    p.add_argument("--resume", metavar="JOB", help="continue a stopped job: its id or its folder")
    p.add_argument(
        "--report-frames",
        type=int,
        default=None,
        metavar="N",
        help="video frames the report's bench --pipeline run times per model (default 100)",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object on the last line")
    p.set_defaults(func=_distil)


def _distil(args: argparse.Namespace) -> int:
    # Lazy: the library never imports the training package at import time (tests/unit/test_layers.py).
    from distilpose.errors import DistilPoseError
    from distilpose.project.store import ProjectStore
    from distilpose.training.project_job import (
        DistilSpec,
        check_project,
        job_name,
        job_paths,
        new_job,
        prepare_job,
        teacher_problem,
    )

    with ProjectStore.open(args.project) as store:
        data = check_project(store)
        if args.resume:
            job_id, paths = _find_job(store, args.resume)
        else:
            spec = DistilSpec.for_budget(
                teacher=args.teacher,
                student=args.student,
                steps=args.steps,
                minutes=args.minutes,
                recipe=args.recipe,
            )
            if args.batch:
                spec.batch_size = args.batch
            if args.workers is not None:
                spec.workers = args.workers
            problem = teacher_problem(spec.teacher)
            if problem:
                raise DistilPoseError(problem)
            _say(data.learns_from())
            for warning in data.warnings(teacher=spec.teacher):
                _say(f"warning: {warning}")
            job_id, paths = new_job(store, {"spec": spec.to_dict(), "device": spec.device, "cli": True})
            if args.out:
                paths = job_paths(Path(args.out).absolute())
                store.job_records.update(job_id, paths=paths)
            try:
                prepare_job(store, spec, Path(paths["dir"]))
            except BaseException as exc:
                error = {"error": str(exc) or type(exc).__name__}
                store.job_records.update(job_id, status="failed", metrics=error)
                raise
        name = job_name(store.path, job_id)
        code = _train(store, job_id, paths, resume=bool(args.resume))
        if code != 0:
            how = f"distilpose project distil {args.project} --resume {job_id}"
            _say(f"job {job_id} stopped (exit code {code}); its folder {paths['dir']} resumes with: {how}")
            return code
        report = _report(store, job_id, paths, data.video, name, args.report_frames)
    _print_result(job_id, name, paths, report, args.json)
    return 0


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _find_job(store, ref: str) -> tuple[int, dict[str, str]]:
    from distilpose.errors import DistilPoseError

    jobs = store.job_records.all()
    for job in jobs:
        if ref == str(job.id) or (job.paths.get("dir") and Path(ref).absolute() == Path(job.paths["dir"])):
            if not Path(job.paths.get("config", "")).is_file():
                raise DistilPoseError(f"job {job.id}: {job.paths.get('config')}: no config, it never started")
            return job.id, dict(job.paths)
    raise DistilPoseError(f"{store.path}: no job {ref!r} (ids: {', '.join(str(j.id) for j in jobs) or 'none'})")


def _train(store, job_id: int, paths: dict[str, str], resume: bool) -> int:
    """Run `distilpose train` on the job's config as a child in this terminal's process group (its tqdm bar
    on stderr; Ctrl-C reaches it and it writes a final checkpoint). The job row holds the child's pid, whose
    command line names the config, so a window opening the project meanwhile follows the same process."""
    import signal
    import subprocess

    argv = [sys.executable, "-m", "distilpose.cli", "train", paths["config"], "--out", paths["out"]]
    argv += ["--events", paths["events"], *(["--resume"] if resume else [])]
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL)
    store.job_records.update(
        job_id, status="running", pid=proc.pid, metrics={"error": None, "exit_code": None}
    )
    interrupted = False
    try:
        code = proc.wait()
    except KeyboardInterrupt:  # a terminal's Ctrl-C reached the child too; a signal to us alone did not
        interrupted = True
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)  # a stop request, never a second SIGINT (that aborts)
        code = proc.wait()
    if interrupted or code in (130, 143):
        store.job_records.update(job_id, status="cancelled", pid=None, metrics={"exit_code": code})
        return 130
    status = "done" if code == 0 else "failed"
    error = None if code == 0 else f"the trainer ended with exit code {code}"
    store.job_records.update(job_id, status=status, pid=None, metrics={"exit_code": code, "error": error})
    return code


def _report(store, job_id: int, paths: dict[str, str], video, name: str, frames: int | None) -> dict:
    from distilpose.training.project_report import BENCH_FRAMES, make_report

    _say("report: scoring the new student, the student it started from, Lightning and the teacher…")
    report = make_report(
        Path(paths["config"]),
        Path(paths["out"]) / "final" / "model.safetensors",
        Path(paths["report"]),
        video=video,
        name=name,
        frames=frames or BENCH_FRAMES,
    )
    store.job_records.update(job_id, metrics={"report": paths["report"], "verdict": report["verdict"]})
    return report


def _print_result(job_id: int, name: str, paths: dict[str, str], report: dict, as_json: bool) -> None:
    weights = report["weights"]
    if as_json:
        doc = {
            "job": job_id,
            "name": name,
            "folder": paths["dir"],
            "weights": weights,
            "report": paths["report"],
            "ap": report["ap"],
            "fps": report["fps"],
            "gain": report.get("gain") or {},
            "models": report["models"],
            "use_new_student": report["use_new_student"],
            "verdict": report["verdict"],
        }
        print(json.dumps(doc))
        return
    print(f"job {job_id} ({name}): {paths['dir']}")
    for label, ap in report["ap"].items():
        fps = report["fps"].get(label)
        ap_text = "—" if ap is None else f"{ap:.3f}"
        print(f"  {label:<18} AP {ap_text}  live FPS {'—' if fps is None else f'{fps:.1f}'}")
    print(report["verdict"])
    print(f"weights: {weights}  (use with --model)")
    print(f"report: {paths['report']}")
