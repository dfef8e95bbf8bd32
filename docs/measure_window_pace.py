"""The window against the bench, in one session: `bench --pipeline`, then the app's unpaced `--play` offscreen
and in a real X window (Xvfb), on each clip, round after round (ADR 0020 has the results).

    .venv/bin/python docs/measure_window_pace.py CLIP [CLIP ...] [--rounds 3] [--out DIR] [--commit NAME=REV ...]

Each round runs, per clip and per tree, the three commands back to back and notes the 1-minute load before
each (`/proc/loadavg`). Xvfb is started here (`Xvfb -displayfd`, 1920x1080x24, the app's 1280x800 window) so the
X server's own CPU time per shown frame is measured too. `--commit NAME=REV` runs the code of a git revision
(laid out under DIR as installed, imported through `PYTHONPATH`, the same venv) in the same rounds, beside
the installed code ("this"): an A/B inside one session; with `--commit` only, "this" is left out unless
named (`--commit this=`). The table gives, per
clip and tree, the medians over the rounds of each figure and of each app-minus-bench difference (taken
within a round), then how many rounds met the goal (FPS within 10 %, p99 within 10 ms of the bench's);
`--rows` also prints every round.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

WINDOWS = ("offscreen", "xvfb")
#: What the window does per shown frame (`--stats-json` stage_ms), beside the worker's pose.
STAGES = ("decode", "pose", "starved", "hop", "image", "overlay", "views", "paint", "draw")
GOAL_FPS, GOAL_P99_MS = 0.10, 10.0
TUNABLES = "glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=4294967296"


def load1() -> float:
    return float(Path("/proc/loadavg").read_text().split()[0])


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (for the X server)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def environment(tree: str | None, platform: str | None, display: str | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("QT_QPA_PLATFORM", "DISPLAY", "WAYLAND_DISPLAY")}
    env["GLIBC_TUNABLES"] = TUNABLES
    if tree:
        env["PYTHONPATH"] = tree
    if platform:
        env["QT_QPA_PLATFORM"] = platform
    if display:
        env["DISPLAY"] = display
    return env


def run_json(cmd: list[str], env: dict[str, str], out: Path, log: Path, stdout: bool = False) -> dict | None:
    """Run ``cmd``; its JSON is ``out`` (written by it, or its standard output when ``stdout``)."""
    with log.open("w") as stderr, out.open("w") if stdout else open(os.devnull, "w") as sink:
        done = subprocess.run(cmd, env=env, stdout=sink, stderr=stderr, timeout=900)
    if done.returncode != 0 or not out.is_file():
        print(f"  failed ({done.returncode}): {' '.join(cmd)}; see {log}", file=sys.stderr)
        return None
    return json.loads(out.read_text())


class Xvfb:
    """An X server of our own: its display name and its CPU time."""

    def __init__(self) -> None:
        read, write = os.pipe()
        self.proc = subprocess.Popen(
            ["Xvfb", "-displayfd", str(write), "-screen", "0", "1920x1080x24", "-nolisten", "tcp"],
            pass_fds=(write,),
            stderr=subprocess.DEVNULL,
        )
        os.close(write)
        with os.fdopen(read) as f:
            self.display = ":" + f.readline().strip()

    def cpu(self) -> float:
        return cpu_seconds(self.proc.pid)

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)


def measure(python: str, clip: str, tree: str | None, args: argparse.Namespace, tag: Path) -> dict:
    """bench, offscreen, xvfb: one round of one clip with one tree."""
    result: dict = {"load": load1(), "time": time.strftime("%H:%M:%S", time.gmtime())}
    bench = run_json(
        [python, "-m", "distilpose.cli", "bench", "--pipeline", clip, "--frames", str(args.frames),
         "--runtime", args.runtime, "--json"],
        environment(tree, None), tag.parent / (tag.name + ".bench.json"), tag.parent / (tag.name + ".bench.log"), stdout=True,
    )  # fmt: skip
    result["bench"] = bench["runs"][0] if bench and bench.get("runs") else None
    play = [python, "-m", "distilpose.app.main", clip, "--model", "default", "--runtime", args.runtime,
            "--play", "--play-rate", "0"]  # fmt: skip
    for window in WINDOWS:
        out = tag.parent / (tag.name + f".{window}.json")
        result[f"load_{window}"] = load1()
        if window == "offscreen":
            result[window] = run_json([*play, "--stats-json", str(out)], environment(tree, "offscreen"), out,
                                      tag.parent / (tag.name + f".{window}.log"))  # fmt: skip
            continue
        server = Xvfb()
        try:
            before = server.cpu()
            stats = run_json([*play, "--stats-json", str(out)], environment(tree, "xcb", server.display), out,
                             tag.parent / (tag.name + f".{window}.log"))  # fmt: skip
            if stats and stats.get("shown"):
                stats["x_server_cpu_ms_per_frame"] = (server.cpu() - before) * 1000.0 / stats["shown"]
            result[window] = stats
        finally:
            server.close()
    return result


def lay_out(rev: str, folder: Path) -> str:
    """The code of git revision ``rev`` as the installed package (``distilpose``, with ``app`` and ``training``
    inside it, as setup.py maps them) under ``folder``; returns the folder for ``PYTHONPATH``."""
    source, package = folder / "source", folder / "pkg" / "distilpose"
    if not package.is_dir():
        source.mkdir(parents=True, exist_ok=True)
        archive = subprocess.run(["git", "archive", rev], capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", str(source)], input=archive, check=True)
        shutil.copytree(source / "distilpose", package)
        for part in ("app", "training"):
            (package / part).symlink_to((source / part).resolve())
    return str(package.parent)


def median(values: list[float]) -> float | None:
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def fmt(value: float | None, spec: str = ".1f", sign: bool = False) -> str:
    if value is None:
        return "-"
    return f"{value:+{spec}}" if sign else f"{value:{spec}}"


def summary(rounds: list[dict], rows: bool) -> str:
    """The medians table, the per-stage table and (``rows``) every round."""
    keys = sorted({(r["clip"], r["tree"]) for r in rounds}, key=lambda k: (k[0], k[1]))
    head = ("| clip | code | rounds | load 1-min (min-max) | bench FPS | bench p99 ms | offscreen FPS (vs bench) | "
            "offscreen p99 ms (- bench) | Xvfb FPS (vs bench) | Xvfb p99 ms (- bench) | CPU ms/frame bench / off / "
            "Xvfb (+ X server) | goal met off / Xvfb |")  # fmt: skip
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for clip, tree in keys:
        rs = [r for r in rounds if (r["clip"], r["tree"]) == (clip, tree) and r["bench"]]
        if not rs:
            continue
        loads = [r["load"] for r in rs]
        cells = [Path(clip).name, tree, str(len(rs)), f"{median(loads):.1f} ({min(loads):.1f}-{max(loads):.1f})",
                 fmt(median([r["bench"]["fps"] for r in rs])), fmt(median([r["bench"]["frame_ms_p99"] for r in rs]))]  # fmt: skip
        met = []
        for window in WINDOWS:
            ws = [r for r in rs if r.get(window)]
            ratio = median([r[window]["fps"] / r["bench"]["fps"] - 1.0 for r in ws])
            d99 = median([r[window]["frame_ms_p99"] - r["bench"]["frame_ms_p99"] for r in ws])
            cells += [f"{fmt(median([r[window]['fps'] for r in ws]))} ({fmt(None if ratio is None else 100 * ratio, '.0f', True)} %)",
                      f"{fmt(median([r[window]['frame_ms_p99'] for r in ws]))} ({fmt(d99, '.1f', True)})"]  # fmt: skip
            met.append(sum(1 for r in ws if goal_met(r["bench"], r[window])))
        cpu = [median([r[w]["cpu_ms_per_frame"] for r in rs if r.get(w)]) for w in WINDOWS]
        xs = median([r["xvfb"].get("x_server_cpu_ms_per_frame") for r in rs if r.get("xvfb")])
        cells.append(
            f"{fmt(median([r['bench']['cpu_ms_per_frame'] for r in rs]))} / {fmt(cpu[0])} / {fmt(cpu[1])} (+ {fmt(xs)})"
        )
        cells.append(f"{met[0]} / {met[1]} of {len(rs)}")
        lines.append("| " + " | ".join(cells) + " |")
    lines += [
        "",
        "Per stage inside the window (`stage_ms`, medians over the rounds of each run's p50 / p99 ms):",
        "",
    ]
    lines.append("| clip | code | window | " + " | ".join(STAGES) + " |")
    lines.append("|" + "---|" * (3 + len(STAGES)))
    for clip, tree in keys:
        for window in WINDOWS:
            ws = [r[window] for r in rounds if (r["clip"], r["tree"]) == (clip, tree) and r.get(window)]
            if not ws:
                continue
            cells = [Path(clip).name, tree, window]
            for stage in STAGES:
                p50 = median([w["stage_ms"][stage]["p50"] for w in ws if stage in w.get("stage_ms", {})])
                p99 = median([w["stage_ms"][stage]["p99"] for w in ws if stage in w.get("stage_ms", {})])
                cells.append(f"{fmt(p50)} / {fmt(p99, '.0f')}")
            lines.append("| " + " | ".join(cells) + " |")
    if rows:
        lines += [
            "",
            "| round | clip | code | UTC | load | bench FPS / p99 | offscreen FPS / p99 | Xvfb FPS / p99 |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for r in rounds:

            def pair(d):
                return "-" if not d else f"{d['fps']:.1f} / {d['frame_ms_p99']:.1f}"

            lines.append(f"| {r['round']} | {Path(r['clip']).name} | {r['tree']} | {r['time']} | {r['load']:.2f} | "
                         f"{pair(r['bench'])} | {pair(r.get('offscreen'))} | {pair(r.get('xvfb'))} |")  # fmt: skip
    return "\n".join(lines)


def goal_met(bench: dict, app: dict) -> bool:
    return (
        app["fps"] >= (1.0 - GOAL_FPS) * bench["fps"]
        and app["frame_ms_p99"] - bench["frame_ms_p99"] <= GOAL_P99_MS
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("clips", nargs="+")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--frames", type=int, default=200, help="bench frames (the app plays the whole clip)")
    parser.add_argument("--runtime", default="onnx-int8", help="named, not auto: auto may re-time under load")
    parser.add_argument(
        "--commit",
        action="append",
        default=[],
        metavar="NAME=REV",
        help="a git revision (A/B); REV empty: this",
    )
    parser.add_argument("--out", default="window-pace", help="folder for every run's JSON and log")
    parser.add_argument("--rows", action="store_true", help="also print every round")
    parser.add_argument("--table", action="store_true", help="only print the table of an earlier --out")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    record = out / "rounds.jsonl"
    if not args.table:
        named = [tuple(c.split("=", 1)) for c in args.commit] or [("this", "")]
        trees = [(name, lay_out(rev, out / "trees" / name) if rev else None) for name, rev in named]
        for n in range(1, args.rounds + 1):
            for clip in args.clips:
                for name, path in trees:
                    tag = out / f"{Path(clip).stem}.{name}.round{n}"
                    print(
                        f"{time.strftime('%H:%M:%S')} load {load1():.2f} round {n} {Path(clip).name} {name}",
                        flush=True,
                    )
                    result = measure(sys.executable, clip, path, args, tag)
                    result.update(round=n, clip=str(clip), tree=name)
                    with record.open("a") as f:
                        f.write(json.dumps(result) + "\n")
    rounds = [json.loads(line) for line in record.read_text().splitlines() if line.strip()]
    print(summary(rounds, args.rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
