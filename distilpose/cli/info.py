"""`distilpose info`: a model's parameters, multiply-adds (full and as the paper counts) and geometry."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

from distilpose.errors import CheckpointError

if TYPE_CHECKING:
    from distilpose.models.registry import ModelSpec


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "info",
        help="show a model's parameters and GMACs, or list the registered models",
        description="Show parameters and multiply-adds of a registered model or a saved checkpoint. "
        "'gmacs' counts every multiply-add (attention matmuls included); 'gmacs_paper' counts as the "
        "DistilPose paper does (mmcv counter: no attention matmuls). 'params' includes the fixed position "
        "embedding; 'params_trainable' (the paper's figure) does not.",
    )
    parser.add_argument("model", nargs="?", help="registered model name or checkpoint path (omit to list)")
    parser.add_argument("--list", action="store_true", help="list the registered models")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--arch", help="architecture of an official .pth checkpoint that does not name it")
    parser.set_defaults(func=run)


def _spec_fields(spec: ModelSpec) -> dict:
    return {
        "name": spec.name,
        "family": spec.family,
        "kind": spec.kind,
        "description": spec.description,
        "input_size": list(spec.input_size),
        "heatmap_size": list(spec.heatmap_size),
        "num_keypoints": spec.num_keypoints,
        "paper_params_m": spec.paper_params_m,
        "paper_gflops": spec.paper_gflops,
        "paper_ap": spec.paper_ap,
    }


def model_info(name_or_path: str, arch: str | None = None) -> dict:
    """Everything `info` prints, as a JSON-ready dict."""
    import torch  # lazily: `distilpose --help` should not pay for torch

    from distilpose.models import model_spec
    from distilpose.models.checkpoint import load_model, shipped_overrides
    from distilpose.models.complexity import attention_gmacs, measure
    from distilpose.models.registry import create_model

    path = Path(name_or_path)
    if path.is_file():
        model, spec = load_model(path, arch=arch)
    elif os.sep in name_or_path or path.suffix:
        raise CheckpointError(f"{path}: no such checkpoint file")
    else:
        spec = model_spec(name_or_path)  # UnknownModelError lists the names
        overrides = shipped_overrides(spec.name)  # e.g. a shipped peak head
        if spec.pretrained == "zoo":  # the builder reads the zoo's weights: real tensors, not meta ones
            model = create_model(name_or_path, **overrides)
        else:
            with torch.device("meta"):  # shapes only: instant, no memory for weights
                model = create_model(name_or_path, **overrides)
    c = measure(model, spec.input_size)
    info = _spec_fields(spec)
    info.update(
        params=c.params,
        params_trainable=c.params_trainable,
        gmacs=round(c.gmacs, 6),
        gmacs_paper=round(c.gmacs_paper, 6),
        gmacs_attention=round(attention_gmacs(model), 6),
    )
    return info


def _print_table(info: dict) -> None:
    def paper(value: float | None, unit: str) -> str:
        return f"  (paper: {value}{unit})" if value is not None else ""

    h, w = info["input_size"]
    rows = [
        ("model", info["name"]),
        ("family / kind", f"{info['family']} / {info['kind']}"),
        ("description", info["description"]),
        ("input (H x W)", f"{h} x {w}"),
        ("keypoints", str(info["num_keypoints"])),
        ("params", f"{info['params'] / 1e6:.3f} M"),
        ("params trainable", f"{info['params_trainable'] / 1e6:.3f} M" + paper(info["paper_params_m"], " M")),
        ("GMACs (all)", f"{info['gmacs']:.3f} G  (attention matmuls: {info['gmacs_attention']:.3f} G)"),
        ("GMACs (paper)", f"{info['gmacs_paper']:.3f} G" + paper(info["paper_gflops"], " G")),
    ]
    if info["paper_ap"] is not None:
        rows.append(("COCO val AP (paper)", str(info["paper_ap"])))
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        print(f"{key:<{width}}  {value}")


def _list(as_json: bool) -> int:
    from distilpose.models import list_models, model_spec

    specs = [model_spec(n) for n in list_models()]
    if as_json:
        print(json.dumps([_spec_fields(s) for s in specs], indent=2))
        return 0
    width = max(len(s.name) for s in specs)
    for s in specs:
        print(f"{s.name:<{width}}  {s.kind:<10}  {s.description}")
    return 0


def run(args: argparse.Namespace) -> int:
    if args.list or not args.model:
        return _list(args.json)
    info = model_info(args.model, args.arch)
    if args.json:
        print(json.dumps(info, indent=2))
    else:
        _print_table(info)
    return 0
