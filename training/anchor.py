"""L2-SP: a pull of the backbone's weights towards where they started (Li, Grandvalet & Davoine, ICML 2018).

Why: a pretrained backbone fine-tuned on a few thousand crops drifts from what it learnt on COCO (ADR 0008:
AP fell from 0.259 to 0.192 over four more epochs), and the prior student's decoding reads its maps through
an argmax, so a small drift picks wrong peaks (issue 26). Weight decay pulls towards zero, which is not the
pretrained solution; L2-SP pulls towards the starting weights, so the backbone learns what the labels add
and keeps the rest.
"""

from __future__ import annotations

from torch import Tensor, nn

from distilpose.training.objectives import Objective


class StartingPointAnchor:
    """``weight * sum((p - p_start)^2)`` over a module's trainable parameters, ``p_start`` captured once.

    The starting point is part of a checkpoint (:meth:`state_dict`): a resumed run anchors to the weights the
    run started from, not to those it resumed."""

    def __init__(self, module: nn.Module, weight: float) -> None:
        self.weight = float(weight)
        self.params = {name: p for name, p in module.named_parameters() if p.requires_grad}
        self.start = {name: p.detach().clone() for name, p in self.params.items()}

    def __call__(self) -> Tensor:
        total = sum((p - self.start[name]).pow(2).sum() for name, p in self.params.items())
        return self.weight * total  # type: ignore[return-value]

    def state_dict(self) -> dict[str, Tensor]:
        return dict(self.start)

    def load_state_dict(self, state: dict[str, Tensor]) -> None:
        missing = set(self.start) - set(state)
        if missing:
            raise ValueError(f"the anchor's starting point lacks {sorted(missing)[:3]}")
        self.start = {name: state[name].detach().clone().to(self.start[name].device) for name in self.start}


class AnchoredObjective:
    """An objective plus the anchor's term (``l2sp``, in ``total``): what one step minimises stays one call."""

    def __init__(self, objective: Objective, anchor: StartingPointAnchor) -> None:
        self.objective = objective
        self.anchor = anchor

    def __call__(self, model: nn.Module, batch: dict[str, Tensor]) -> dict[str, Tensor]:
        losses = self.objective(model, batch)
        losses["l2sp"] = self.anchor()
        losses["total"] = losses["total"] + losses["l2sp"]
        return losses
