"""Parameter and multiply-add counts, both as the paper reports them and in full.

Two conventions, measured in ONE forward pass on a dummy (1, 3, H, W) input:

* ``gmacs`` (total): every multiply-add of convolutions, Linear layers and the two attention matmuls,
  counted by ``torch.utils.flop_counter.FlopCounterMode`` (FLOPs / 2) with attention switched to explicit
  matmuls so the counter sees them whatever SDPA kernel the platform would pick.
* ``gmacs_paper``: what the official ``tools/get_flops.py`` (mmcv ``get_model_complexity_info``) reports
  as "GFLOPs": per-module forward-hook rules on exact module types -- conv/linear MACs (+ conv bias),
  one op per element for BN/LN (two when affine), ReLU, pooling and upsampling outputs -- and nothing for
  functional ops. So attention matmuls (einsum in the official code), softmax, GELU and the position
  embedding add are not counted. This reproduces 2.38 / 10.33 / 17.03 G for S / L / teacher.

Parameters follow mmcv too: the paper's figure counts ``requires_grad`` parameters only, so the fixed
sine position embedding (a frozen Parameter in the official checkpoints) is in ``total`` but not in
``trainable``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torch.utils.flop_counter import FlopCounterMode

from distilpose.models.tokens import Attention


def count_params(model: nn.Module) -> tuple[int, int]:
    """(total, trainable) parameter counts; the paper reports ``trainable``."""
    params = list(model.parameters())
    return sum(p.numel() for p in params), sum(p.numel() for p in params if p.requires_grad)


def _numel(t: Tensor) -> int:
    return int(t.numel())


def _conv_rule(m: nn.Module, inputs: tuple[Tensor, ...], out: Tensor) -> int:
    per_position = int(torch.tensor(m.kernel_size).prod()) * m.in_channels * (m.out_channels // m.groups)
    positions = out.shape[0] * int(torch.tensor(out.shape[2:]).prod())
    bias = m.out_channels * positions if m.bias is not None else 0
    return per_position * positions + bias


def _linear_rule(m: nn.Module, inputs: tuple[Tensor, ...], out: Tensor) -> int:
    return _numel(inputs[0]) * out.shape[-1]


def _norm_rule(m: nn.Module, inputs: tuple[Tensor, ...], out: Tensor) -> int:
    affine = getattr(m, "affine", False) or getattr(m, "elementwise_affine", False)
    return _numel(inputs[0]) * (2 if affine else 1)


def _input_rule(m: nn.Module, inputs: tuple[Tensor, ...], out: Tensor) -> int:
    return _numel(inputs[0])


def _output_rule(m: nn.Module, inputs: tuple[Tensor, ...], out: Tensor) -> int:
    return _numel(out)


#: mmcv's counted module types (matched exactly, not by subclass) and their per-call rule.
PAPER_RULES: dict[type[nn.Module], Callable[[nn.Module, tuple[Tensor, ...], Tensor], int]] = {
    nn.Conv1d: _conv_rule,
    nn.Conv2d: _conv_rule,
    nn.Conv3d: _conv_rule,
    nn.Linear: _linear_rule,
    nn.BatchNorm1d: _norm_rule,
    nn.BatchNorm2d: _norm_rule,
    nn.BatchNorm3d: _norm_rule,
    nn.GroupNorm: _norm_rule,
    nn.InstanceNorm1d: _norm_rule,
    nn.InstanceNorm2d: _norm_rule,
    nn.InstanceNorm3d: _norm_rule,
    nn.LayerNorm: _norm_rule,
    nn.ReLU: _output_rule,
    nn.ReLU6: _output_rule,
    nn.PReLU: _output_rule,
    nn.ELU: _output_rule,
    nn.LeakyReLU: _output_rule,
    nn.Upsample: _output_rule,
    nn.MaxPool1d: _input_rule,
    nn.MaxPool2d: _input_rule,
    nn.MaxPool3d: _input_rule,
    nn.AvgPool1d: _input_rule,
    nn.AvgPool2d: _input_rule,
    nn.AvgPool3d: _input_rule,
    nn.AdaptiveAvgPool1d: _input_rule,
    nn.AdaptiveAvgPool2d: _input_rule,
    nn.AdaptiveAvgPool3d: _input_rule,
    nn.AdaptiveMaxPool1d: _input_rule,
    nn.AdaptiveMaxPool2d: _input_rule,
    nn.AdaptiveMaxPool3d: _input_rule,
}


@dataclass(frozen=True)
class Complexity:
    params: int
    params_trainable: int
    gmacs: float  # all multiply-adds incl. attention matmuls
    gmacs_paper: float  # the paper's convention (mmcv counter)
    input_size: tuple[int, int]


@contextlib.contextmanager
def _explicit_attention(model: nn.Module) -> Iterator[None]:
    attns = [m for m in model.modules() if isinstance(m, Attention)]
    saved = [a.use_sdpa for a in attns]
    for a in attns:
        a.use_sdpa = False
    try:
        yield
    finally:
        for a, flag in zip(attns, saved, strict=True):
            a.use_sdpa = flag


def _param_device_dtype(model: nn.Module) -> tuple[torch.device, torch.dtype]:
    for p in model.parameters():
        return p.device, p.dtype
    return torch.device("cpu"), torch.float32


def measure(model: nn.Module, input_size: tuple[int, int] | None = None) -> Complexity:
    """Count params and both MAC conventions with one batch-1 forward (works on the meta device too)."""
    if input_size is None:
        spec = getattr(model, "spec", None)
        if spec is None:
            raise ValueError("model has no .spec: pass input_size=(H, W)")
        input_size = tuple(spec.input_size)
    device, dtype = _param_device_dtype(model)
    x = torch.zeros(1, 3, *input_size, device=device, dtype=dtype)

    paper_total = 0

    def hook(m: nn.Module, inputs: tuple[Tensor, ...], out: Tensor) -> None:
        nonlocal paper_total
        paper_total += PAPER_RULES[type(m)](m, inputs, out)

    handles = [m.register_forward_hook(hook) for m in model.modules() if type(m) in PAPER_RULES]
    was_training = model.training
    model.eval()
    counter = FlopCounterMode(display=False)
    try:
        with torch.no_grad(), _explicit_attention(model), counter:
            model(x)
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    total, trainable = count_params(model)
    return Complexity(
        params=total,
        params_trainable=trainable,
        gmacs=counter.get_total_flops() / 2 / 1e9,
        gmacs_paper=paper_total / 1e9,
        input_size=(int(input_size[0]), int(input_size[1])),
    )


def count_macs(model: nn.Module, input_size: tuple[int, int] | None = None) -> tuple[float, float]:
    """(gmacs_total, gmacs_paper) in units of 1e9 multiply-adds; see the module docstring."""
    c = measure(model, input_size)
    return c.gmacs, c.gmacs_paper


def attention_gmacs(model: nn.Module, batch: int = 1) -> float:
    """Analytic MACs of the two attention matmuls (QK^T and AV) of every token encoder, in G."""
    from distilpose.models.tokens import TokenEncoder

    total = 0
    for enc in (m for m in model.modules() if isinstance(m, TokenEncoder)):
        tokens = enc.num_keypoints + enc.num_patches
        total += len(enc.transformer.layers) * 2 * batch * tokens * tokens * enc.dim
    return total / 1e9
