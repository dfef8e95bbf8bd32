"""`distilpose export`: a model or checkpoint to ONNX (optionally int8), checked against PyTorch."""

from __future__ import annotations

import argparse

from distilpose.inference.onnx_service import export_onnx


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export", help="export a model to ONNX and check it against PyTorch")
    p.add_argument("model", help="registered model name or checkpoint path")
    p.add_argument("--onnx", required=True, help="output .onnx path")
    p.add_argument("--int8", action="store_true", help="also write a dynamic int8 (MatMul/Gemm) variant")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from distilpose.models.checkpoint import load_model

    model, _ = load_model(args.model)
    report = export_onnx(model, args.onnx, int8=args.int8)
    print("\n".join(report.lines()))
    return 0
