"""The peak-choice head on cached backbone outputs (issue 26 item 2(b), ADR 0022): minutes, not hours, on a CPU.

The default student's backbone is frozen, so what the peak head reads is fixed per crop. ``cache`` runs
Lightning's network once over unaugmented crops (and, with ``--flip``, their mirrors) of a COCO file and
stores what the pick needs: the 24 FPN + 17 heatmap channels (float16), each joint's regressed point,
the targets and, with ``--offsets`` (for a measuring split), the offset maps. ``train`` fits the head on that
cache with the pick's cross-entropy (:func:`distilpose.losses.peak_pick_loss`) and writes a whole student:
the given token-head weights plus the trained peak head, loadable by every command. ``--head context``
trains the head with the person in view (ADR 0028, ADR 0034). ``--dev`` reports, on a cache with offsets,
the share of joints far from their labels before and after.

    python -m distilpose.training.recipes.peak_head cache --ann DATA/train/person_keypoints.json \\
        --images DATA/train/images --out CACHE/train --max 8000 --flip
    python -m distilpose.training.recipes.peak_head train --cache CACHE/train --out peak.safetensors \\
        --base resources/models/distilpose-mnv2-lt/model.safetensors --dev CACHE/dev

The trainer (``distilpose train`` with ``model.overrides.peak_head: residual`` and ``loss.peak_pick``) trains
the same head end to end with augmentation; this path is the fast one for choosing its settings.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from distilpose.atomic import atomic_write_text
from distilpose.losses import peak_pick_loss
from distilpose.models.heads import PEAK_HEAD_CLASSES, movenet_regressed, regressed_pick_logits

STUDENT = "distilpose-mnv2-lt"
#: Channels the head reads (FPN features + heatmaps) and where the decode heads start in the backbone output.
TOKEN_CHANNELS = 41
K = 17
GRID = (64, 48)
CROP = (256, 192)
#: A joint this far from its label (crop pixels of the 256x192 crop) is a wrong pick, not an imprecise one.
FAR_PX = 20.0


def _backbone() -> torch.nn.Module:
    from distilpose.models import create_model
    from distilpose.training.trainer import init_backbone_from_zoo

    model = create_model(STUDENT)
    init_backbone_from_zoo(model, "movenet-lightning")
    return model.backbone.eval()


def _arrays(out: Path, n: int, offsets: bool, mode: str) -> dict[str, np.memmap]:
    shapes = {
        "features": ((n, TOKEN_CHANNELS, *GRID), np.float16),
        "regressed": ((n, K, 2), np.float32),
        "targets": ((n, K, 2), np.float32),
        "weights": ((n, K), np.float32),
    }
    if offsets:
        shapes["offsets"] = ((n, 2 * K, *GRID), np.float16)
    return {
        name: np.lib.format.open_memmap(
            out / f"{name}.npy", mode=mode, dtype=dtype, shape=shape if mode == "w+" else None
        )
        for name, (shape, dtype) in shapes.items()
    }


def cache(
    ann: Path, images: Path, out: Path, max_people: int | None, flip: bool, offsets: bool, seed: int
) -> int:
    """Run the frozen backbone over the crops once; resumable (``done.json`` counts the crops written)."""
    from torch.utils.data import DataLoader, Subset
    from tqdm import tqdm

    from distilpose.data import TopDownCocoDataset, train_pipeline

    out.mkdir(parents=True, exist_ok=True)
    no_aug = dict(half_body_prob=0.0, rot_prob=0.0, scale_factor=0.0)
    views = [TopDownCocoDataset.from_coco(ann, images, train_pipeline(flip_prob=0.0, **no_aug), train=True,
                                          center_jitter_prob=0.0)]  # fmt: skip
    if flip:
        views.append(TopDownCocoDataset.from_coco(ann, images, train_pipeline(flip_prob=1.0, **no_aug), train=True,
                                                  center_jitter_prob=0.0))  # fmt: skip
    people = np.random.default_rng(seed).permutation(len(views[0]))[:max_people].tolist()
    n = len(people) * len(views)
    done_file = out / "done.json"
    done = json.loads(done_file.read_text())["done"] if done_file.exists() else 0
    arrays = _arrays(out, n, offsets, "r+" if done else "w+")
    if not done:
        meta = {
            "ann": str(ann),
            "images": str(images),
            "people": len(people),
            "views": len(views),
            "seed": seed,
        }
        atomic_write_text(out / "cache.json", json.dumps(meta, indent=2))
    backbone = _backbone()
    t = TOKEN_CHANNELS
    with tqdm(total=n, initial=done, unit="crop", desc="caching") as bar:
        for v, view in enumerate(views):
            start = v * len(people)
            if done >= start + len(people):
                continue
            skip = max(done - start, 0)
            loader = DataLoader(Subset(view, people[skip:]), batch_size=32, num_workers=1)
            row = start + skip
            for batch in loader:
                with torch.no_grad():
                    y = backbone(batch["image"])
                ry, rx = movenet_regressed(y[:, t : t + 1], y[:, t + 1 : t + 1 + 2 * K])
                b = len(y)
                arrays["features"][row : row + b] = y[:, :t].numpy().astype(np.float16)
                arrays["regressed"][row : row + b] = torch.stack((ry, rx), -1).numpy()
                arrays["targets"][row : row + b] = batch["target_coords"].numpy()
                arrays["weights"][row : row + b] = batch["target_weights"].reshape(b, K).numpy()
                if offsets:
                    arrays["offsets"][row : row + b] = y[:, t + 1 + 2 * K :].numpy().astype(np.float16)
                row += b
                for a in arrays.values():
                    a.flush()
                atomic_write_text(done_file, json.dumps({"done": row, "total": n}))
                bar.update(b)
    return n


def _load(cache_dir: Path) -> dict[str, np.ndarray]:
    """The cached arrays; of a cache stopped early (without ``--flip``), the crops written: a random subset."""
    done = json.loads((cache_dir / "done.json").read_text())
    meta = json.loads((cache_dir / "cache.json").read_text())
    if done["done"] != done["total"]:
        if meta["views"] != 1:
            raise SystemExit(
                f"{cache_dir}: incomplete ({done['done']} of {done['total']} crops); run cache again"
            )
        print(f"{cache_dir}: using the first {done['done']} of {done['total']} crops (cache stopped early)")
    return {p.stem: np.load(p, mmap_mode="r")[: done["done"]] for p in cache_dir.glob("*.npy")}


def _batch(c: dict[str, np.ndarray], rows: np.ndarray) -> dict[str, torch.Tensor]:
    rows = np.sort(rows)
    return {name: torch.from_numpy(np.asarray(c[name][rows], dtype=np.float32)) for name in c}


def _picked(b: dict[str, torch.Tensor], head: torch.nn.Module | None) -> torch.Tensor:
    """(N, K, 2) normalised positions the decode gives (offsets refined) with or without the head."""
    hm = b["features"][:, TOKEN_CHANNELS - K :]
    bias = torch.zeros_like(hm) if head is None else head(b["features"])
    logits = regressed_pick_logits(hm, b["regressed"][..., 0], b["regressed"][..., 1], bias)
    n, k, h, w = logits.shape
    peak = logits.flatten(2).argmax(-1)
    py, px = torch.div(peak, w, rounding_mode="floor"), peak % w
    off = b["offsets"].view(n, k, 2, h * w).gather(-1, peak.view(n, k, 1, 1).expand(n, k, 2, 1)).squeeze(-1)
    return torch.stack(((px + off[..., 1]) / w, (py + off[..., 0]) / h), -1)


def far_share(c: dict[str, np.ndarray], head: torch.nn.Module | None, batch: int = 64) -> tuple[float, float]:
    """Share of labelled joints more than FAR_PX from their label, and the median error (crop pixels)."""
    errors = []
    scale = torch.tensor([CROP[1], CROP[0]], dtype=torch.float32)
    for start in range(0, len(c["targets"]), batch):
        b = _batch(c, np.arange(start, min(start + batch, len(c["targets"]))))
        with torch.no_grad():
            xy = _picked(b, head)
        err = ((xy - b["targets"]) * scale).norm(dim=-1)
        errors.append(err[b["weights"] > 0])
    e = torch.cat(errors)
    return float((e > FAR_PX).float().mean()), float(e.median())


def train_head(
    c: dict[str, np.ndarray],
    steps: int,
    lr: float,
    batch: int,
    sigma: float,
    seed: int,
    log=print,
    kind: str = "residual",
    weight_decay: float = 0.0,
) -> torch.nn.Module:
    """Adam on the pick's cross-entropy, lr cosine-decayed to zero; the head starts at the prior (zero)."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    head = PEAK_HEAD_CLASSES[kind](TOKEN_CHANNELS, K)
    opt = torch.optim.AdamW(head.parameters(), lr=lr, weight_decay=weight_decay)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    n = len(c["targets"])
    t0 = time.perf_counter()
    for step in range(1, steps + 1):
        b = _batch(c, rng.choice(n, size=min(batch, n), replace=False))
        hm = b["features"][:, TOKEN_CHANNELS - K :]
        logits = regressed_pick_logits(
            hm, b["regressed"][..., 0], b["regressed"][..., 1], head(b["features"])
        )
        loss = peak_pick_loss(logits, b["targets"], b["weights"], sigma)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        if step % 100 == 0 or step == steps:
            log(f"step {step}/{steps} loss {loss.item():.4f} ({time.perf_counter() - t0:.0f} s)")
    return head.eval()


def save_student(head: torch.nn.Module, base: Path | None, out: Path, note: dict[str, str], kind: str = "residual") -> None:
    """The whole student: ``base`` (a distilpose-mnv2-lt file; None: the untrained prior) + this peak head."""
    from distilpose.models import create_model
    from distilpose.models.checkpoint import load_model, save_weights
    from distilpose.training.trainer import init_backbone_from_zoo

    model = create_model(STUDENT, peak_head=kind)
    init_backbone_from_zoo(model, "movenet-lightning")
    if base is not None:  # its token head (and backbone); a peak head it may hold gives way to this one
        plain, _ = load_model(base, arch=STUDENT)
        state = {k: v for k, v in plain.state_dict().items() if ".peak." not in k}
        model.load_state_dict(state, strict=False)
    model.keypoint_head.tokenhead.peak.load_state_dict(head.state_dict())
    meta = {"model": STUDENT, "overrides": json.dumps({"peak_head": kind}), **note}
    save_weights(model, out, metadata=meta)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="peak_head", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    pc = sub.add_parser("cache", help="run the frozen backbone once over the crops")
    pc.add_argument("--ann", type=Path, required=True)
    pc.add_argument("--images", type=Path, required=True)
    pc.add_argument("--out", type=Path, required=True)
    pc.add_argument("--max", type=int, default=None, help="at most this many people (a seeded random subset)")
    pc.add_argument("--flip", action="store_true", help="also each crop's mirror")
    pc.add_argument("--offsets", action="store_true", help="also the offset maps (to measure picks)")
    pc.add_argument("--seed", type=int, default=0)
    pt = sub.add_parser("train", help="train the peak head on a cache, write the whole student")
    pt.add_argument("--cache", type=Path, required=True)
    pt.add_argument("--out", type=Path, required=True)
    pt.add_argument("--base", type=Path, default=None, help="the token head's weights (default: the prior)")
    pt.add_argument("--dev", type=Path, default=None, help="a cache with offsets: report far joints on it")
    pt.add_argument("--steps", type=int, default=2000)
    pt.add_argument("--lr", type=float, default=1e-3)
    pt.add_argument("--batch", type=int, default=64)
    pt.add_argument("--sigma", type=float, default=1.0)
    pt.add_argument("--seed", type=int, default=0)
    pt.add_argument("--head", choices=sorted(PEAK_HEAD_CLASSES), default="residual", help="the peak head's kind")
    pt.add_argument("--weight-decay", type=float, default=0.0, help="AdamW's decay, pulling the head to the prior")
    args = p.parse_args(argv)
    torch.set_num_threads(2)
    if args.cmd == "cache":
        n = cache(args.ann, args.images, args.out, args.max, args.flip, args.offsets, args.seed)
        print(f"{n} crops cached in {args.out}")
        return 0
    c = _load(args.cache)
    head = train_head(
        c, args.steps, args.lr, args.batch, args.sigma, args.seed, kind=args.head, weight_decay=args.weight_decay
    )
    note = {"peak_head_recipe": json.dumps({k: str(v) for k, v in vars(args).items()})}
    save_student(head, args.base, args.out, note, kind=args.head)
    if args.dev is not None:
        d = _load(args.dev)
        (pf, pm), (tf, tm) = far_share(d, None), far_share(d, head)
        print(
            f"dev joints > {FAR_PX:.0f} px: prior {pf:.3f} -> {tf:.3f}; median error {pm:.2f} -> {tm:.2f} px"
        )
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
