"""Varied people (issue 26): public photos of people, labelled by MoveNet Thunder with flip test.

``python -m distilpose.training.recipes.varied_people prepare --sources [NAME=]DIR... --out DATA
[--val2017-list FILE]``, then ``STUDENT_DATA=DATA distilpose train <config>``:

1. recognises each source folder's layout (LSP-extended ``joints.mat``, MPII ``*_joints.csv``, coco128 YOLO
   boxes, or a plain folder of images) and hashes every image: exact duplicates (sha256) and near duplicates
   (a 64-bit difference hash within 3 bits) are dropped, and so is every COCO val2017 image by id (the list the
   user passes; an image named like a COCO id without the list is refused: val2017 is for evaluation only);
2. labels every person with Thunder + flip test: on a box from the source's joints (or boxes) where it has
   them, else on CenterNet's boxes. Each image's result is appended to ``DATA/labels.jsonl`` as soon as it is
   done, so Ctrl-C keeps the work and re-running continues where it stopped;
3. writes ``DATA/train`` and ``DATA/dev`` (``person_keypoints.json`` + ``images/``, the format
   ``distilpose pseudo-label`` writes and the trainer reads; the split is a seeded hash of each image's
   sha256, so it never moves when sources are added) and ``DATA/sources.json``, the data list: each source's
   repository, commit, path and licence and every image's sha256 with what became of it.

Where a source has joints (LSP 14, MPII 16) its 12 body joints are mapped to COCO's and kept beside Thunder's;
``--fusion`` chooses how they combine (``teacher``: Thunder only; ``fill``: the source's joint where Thunder is
unsure; ``gt``: the source's joint wherever labelled) and ``measure`` reports Thunder's agreement with them
(docs/student.md, ADR 0021). ``build`` rewrites the COCO files from ``labels.jsonl`` with another rule.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import re
import signal
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from distilpose.atomic import atomic_write_text
from distilpose.errors import DistilPoseError
from distilpose.hashing import sha256_file

IMAGE_EXTS = {".jpg", ".jpeg", ".png", ".bmp", ".webp"}
MAX_SIDE = 960
FUSIONS = ("fill", "teacher", "gt")
#: Chosen by ``measure`` on LSP-extended and MPII (docs/student.md "Varied people").
DEFAULT_FUSION = "fill"
#: Same picture: 64-bit dHashes within NEAR_BITS (found through bands) and 256-bit ones within FINE_BITS. The
#: 64-bit hash alone paired different pictures on plain white or black backgrounds across sources (24-90 of
#: 256 fine bits apart), while resized or re-encoded copies are 0-16 apart.
NEAR_BITS, FINE_BITS = 3, 16
DHASH_VERSION = 3  # bump when dhash() changes, so cached hashes are recomputed

#: Where each known source comes from (``fetch`` snapshots of public GitHub repositories).
KNOWN: dict[str, dict[str, str]] = {
    "lsp": {
        "repo": "axelcarlier/lsp",
        "commit": "8fabf3183516b1be5f9d44bd1c516609637e983e",
        "path": "images/, joints.mat",
        "licence": "LSP-extended (Johnson & Everingham, Flickr images): research use",
    },
    "mpii": {
        "repo": "DomChey/ORIU_Project + YuliangXiu/MobilePose",
        "commit": "aaee82f03c63e2a76f99ce9b69dad09d625a38f7 + f9a34bce1dba83d21fa5ee459999e39c2cb2ab35",
        "path": "images/ + pose_dataset/mpii/{train,test}_joints.csv",
        "licence": "MPII Human Pose (annotations Simplified BSD; YouTube frames): research use",
    },
    "ccp": {
        "repo": "bearpaw/clothing-co-parsing",
        "commit": "fe34fb77721a9973fbae92c05f7f12b664d10110",
        "path": "photos/",
        "licence": "repository LICENSE Apache-2.0; the photos are street-fashion web photos (Chictopia)",
    },
    "yoga": {
        "repo": "vriveraq/Yoga-Pose-Image-Classification",
        "commit": "b85337a77d6592220be7b816d58b024d2bfd1f63",
        "path": "data/",
        "licence": "no licence file; Bing image search results (see the README): research use",
    },
    "har": {
        "repo": "umareddy123/Human_activity_recognition",
        "commit": "520a0158744420e06448c3dcb285f8ed9e7e5030",
        "path": "train/, test/",
        "licence": "no licence file; Kaggle Human Action Recognition data: research use",
    },
    "coco128": {
        "repo": "lightly-ai/coco128_yolo",
        "commit": "6d6f7a059ea63efffdbe48aca2d52c04d4c510e9",
        "path": "images/train2017, object_detection/labels/train2017 (never images/val2017)",
        "licence": "COCO: annotations CC BY 4.0; images under their Flickr licences",
    },
}

# Source joint index -> COCO keypoint index, for the 12 body joints (person's left/right in both).
LSP_TO_COCO = {0: 16, 1: 14, 2: 12, 3: 11, 4: 13, 5: 15, 6: 10, 7: 8, 8: 6, 9: 5, 10: 7, 11: 9}
MPII_TO_COCO = {0: 16, 1: 14, 2: 12, 3: 11, 4: 13, 5: 15, 10: 10, 11: 8, 12: 6, 13: 5, 14: 7, 15: 9}
BODY = np.array(sorted(LSP_TO_COCO.values()))


@dataclass
class Item:
    """One image of a source: where it is and the people its labels give (COCO-ordered joints or boxes)."""

    path: Path
    rel: str
    joints: list[np.ndarray] = field(default_factory=list)  # (17, 3) x, y, v per labelled person
    boxes: np.ndarray | None = None  # (N, 4) xywh where the source gives boxes (None: use the detector)


@dataclass
class Source:
    name: str
    root: Path
    layout: str
    items: list[Item]


# -- layouts -----------------------------------------------------------------------------------------------


def _images_under(folder: Path) -> list[Path]:
    return sorted(
        p
        for p in folder.rglob("*")
        if p.suffix.lower() in IMAGE_EXTS and p.is_file() and "val2017" not in p.relative_to(folder).parts
    )


def _to_coco(native: np.ndarray, mapping: dict[int, int]) -> np.ndarray:
    """(J, 3) native joints (x, y, labelled) -> (17, 3) COCO keypoints; unmapped and unlabelled: v = 0."""
    out = np.zeros((17, 3))
    for src, dst in mapping.items():
        x, y, ok = native[src]
        if ok > 0:
            out[dst] = (x, y, 2.0)
    return out


def _box_of(native: np.ndarray, pad: float = 0.1) -> np.ndarray | None:
    """Tight box of a person's labelled native joints (head top and neck included), padded on each side."""
    pts = native[native[:, 2] > 0, :2]
    if len(pts) < 2:
        return None
    (x0, y0), (x1, y1) = pts.min(axis=0), pts.max(axis=0)
    w, h = max(x1 - x0, 1.0), max(y1 - y0, 1.0)
    return np.array([x0 - pad * w, y0 - pad * h, w * (1 + 2 * pad), h * (1 + 2 * pad)])


def _joint_items(images: list[Path], root: Path, people: dict[str, list[np.ndarray]], mapping) -> list[Item]:
    items = []
    for p in images:
        native = people.get(p.name, [])
        boxes = [b for b in (_box_of(n) for n in native) if b is not None]
        joints = [_to_coco(n, mapping) for n in native if _box_of(n) is not None]
        items.append(Item(p, str(p.relative_to(root)), joints, np.array(boxes) if boxes else None))
    return items


def _lsp(root: Path) -> list[Item]:
    try:
        from scipy.io import loadmat  # joints.mat is a MATLAB 5 file
        from scipy.io.matlab import MatReadError
    except ImportError as exc:
        raise DistilPoseError(
            f"{root / 'joints.mat'}: reading it needs scipy (pip install 'distilpose-studio[train]')"
        ) from exc

    try:
        joints = np.asarray(loadmat(str(root / "joints.mat"))["joints"])
    except (MatReadError, ValueError, KeyError, OSError) as exc:
        raise DistilPoseError(f"{root / 'joints.mat'}: not an LSP joints file ({exc})") from exc
    if joints.shape[:2] == (3, 14):  # the original LSP stores 3 x 14 x N with an inverted visibility flag
        joints = np.transpose(joints, (1, 0, 2)).copy()
        joints[:, 2] = 1 - joints[:, 2]
    if joints.shape[:2] != (14, 3):
        raise DistilPoseError(
            f"{root / 'joints.mat'}: expected joints of shape (14, 3, N), got {joints.shape}"
        )
    images = sorted((root / "images").glob("im*.jpg"))
    people = {}
    for p in images:
        k = int(p.stem[2:]) - 1
        if 0 <= k < joints.shape[2]:
            j = joints[:, :, k].astype(np.float64)
            j[:, 2] = (j[:, 2] > 0) & (j[:, 0] >= 0) & (j[:, 1] >= 0)
            people[p.name] = [j]
    return _joint_items(images, root, people, LSP_TO_COCO)


def _mpii(root: Path, csvs: list[Path]) -> list[Item]:
    people: dict[str, list[np.ndarray]] = {}
    for path in csvs:
        with open(path, newline="") as f:
            for n, row in enumerate(csv.reader(f), 1):
                if not row:
                    continue
                if len(row) != 33:
                    raise DistilPoseError(
                        f"{path}:{n}: expected a file name and 16 x,y pairs, got {len(row)} fields"
                    )
                try:
                    xy = np.asarray(row[1:], dtype=np.float64).reshape(16, 2)
                except ValueError as exc:
                    raise DistilPoseError(f"{path}:{n}: a joint coordinate is not a number ({exc})") from exc
                ok = (xy[:, 0] >= 0) & (xy[:, 1] >= 0)
                people.setdefault(row[0], []).append(np.column_stack([xy, ok]))
    return _joint_items(_images_under(root), root, people, MPII_TO_COCO)


def _coco128(root: Path, images_dir: Path, labels_dir: Path) -> list[Item]:
    """YOLO labels (class cx cy w h, normalised); class 0 is person. Images without a person are skipped."""
    import imagesize

    items = []
    for p in sorted(images_dir.glob("*")):
        if p.suffix.lower() not in IMAGE_EXTS:
            continue
        label = labels_dir / f"{p.stem}.txt"
        rows = [r.split() for r in label.read_text().splitlines() if r.strip()] if label.exists() else []
        people = [list(map(float, r[1:5])) for r in rows if r and r[0] == "0"]
        if not people:
            continue
        w, h = imagesize.get(str(p))
        boxes = np.array(
            [[(cx - bw / 2) * w, (cy - bh / 2) * h, bw * w, bh * h] for cx, cy, bw, bh in people]
        )
        items.append(Item(p, str(p.relative_to(root)), [], boxes))
    return items


def recognise(name: str, root: Path) -> Source:
    """The layout of a source folder, and its images with whatever labels it carries."""
    if not root.is_dir():
        raise DistilPoseError(f"{root}: not a folder")
    if (root / "joints.mat").exists() and (root / "images").is_dir():
        return Source(name, root, "lsp-joints", _lsp(root))
    csvs = sorted(p for p in root.rglob("*_joints.csv") if "convert" not in p.name)
    if csvs:
        return Source(name, root, "mpii-joints-csv", _mpii(root, csvs))
    train = root / "images" / "train2017"
    labels = next(
        (
            d
            for d in (root / "labels" / "train2017", root / "object_detection" / "labels" / "train2017")
            if d.is_dir()
        ),
        None,
    )
    if train.is_dir() and labels is not None:
        return Source(name, root, "coco128-boxes", _coco128(root, train, labels))
    items = [Item(p, str(p.relative_to(root))) for p in _images_under(root)]
    if not items:
        raise DistilPoseError(f"{root}: no images found (looked for {', '.join(sorted(IMAGE_EXTS))})")
    return Source(name, root, "plain-images", items)


# -- hashing, duplicates, val2017 ----------------------------------------------------------------------------


def read_val2017_ids(path: Path) -> set[int]:
    """COCO val2017 image ids from any text naming the files (e.g. yolox's ``data/coco/val2017.txt``)."""
    ids = {int(m) for m in re.findall(r"(\d{12})\.jpg", path.read_text(errors="replace"))}
    if not ids:
        raise DistilPoseError(f"{path}: no COCO image names (000000NNNNNN.jpg) found")
    return ids


def coco_id(path: Path) -> int | None:
    m = re.fullmatch(r"(?:COCO_\w+_)?(\d{12})", path.stem)
    return int(m.group(1)) if m else None


def dhash(path: Path) -> tuple[int, int] | None:
    """64- and 256-bit difference hashes (9x8 and 17x16 grey thumbnails): a few bits apart for resized or
    recompressed copies of one picture. None for an unreadable file."""
    import cv2

    grey = cv2.imread(str(path), cv2.IMREAD_REDUCED_GRAYSCALE_2)  # /4 already moves small pictures' bits
    if grey is None:
        return None

    def bits(w: int, h: int) -> int:
        small = cv2.resize(grey, (w, h), interpolation=cv2.INTER_AREA).astype(np.int16)
        return int("".join("1" if b else "0" for b in (small[:, 1:] > small[:, :-1]).flatten()), 2)

    return bits(9, 8), bits(17, 16)


class _Hashes:
    """sha256 and dHash per file, cached in ``DATA/hashes.json`` (keyed by path, size and mtime) for resumes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.cache: dict = json.loads(path.read_text()) if path.exists() else {}

    def __call__(self, p: Path) -> tuple[str, tuple[int, int] | None]:
        st = p.stat()
        key = f"{p.resolve()}|{st.st_size}|{st.st_mtime_ns}|{DHASH_VERSION}"
        if key not in self.cache:
            self.cache[key] = [sha256_file(p), dhash(p)]
        sha, dh = self.cache[key]
        return sha, tuple(dh) if dh is not None else None

    def save(self) -> None:
        atomic_write_text(self.path, json.dumps(self.cache))


@dataclass
class Planned:
    source: str
    item: Item
    sha256: str


def plan(
    sources: list[Source],
    hashes: Callable[[Path], tuple[str, tuple[int, int] | None]],
    val_ids: set[int] | None,
):
    """-> (images to label in order, per-source file list with each file's sha256 and fate)."""
    kept: list[Planned] = []
    by_sha: dict[str, str] = {}
    bands: list[dict[int, list[tuple[int, str]]]] = [{} for _ in range(64 // 16)]
    files: dict[str, list[dict]] = {}
    for src in sources:
        listing = files.setdefault(src.name, [])
        for item in src.items:
            cid = coco_id(item.path)
            if cid is not None and val_ids is None:
                raise DistilPoseError(
                    f"{item.path}: named like a COCO image; pass --val2017-list so val2017 images can be dropped"
                )
            sha, dh = hashes(item.path)
            entry = {"file": item.rel, "sha256": sha}
            listing.append(entry)
            if cid is not None and cid in val_ids:  # type: ignore[operator]
                entry["status"] = "dropped: COCO val2017"
                continue
            if dh is None:
                entry["status"] = "dropped: unreadable image"
                continue
            if sha in by_sha:
                entry["status"] = f"dropped: same sha256 as {by_sha[sha]}"
                continue
            near = _near(bands, dh)
            if near is not None:
                entry["status"] = f"dropped: near duplicate of {near}"
                continue
            where = f"{src.name}/{item.rel}"
            by_sha[sha] = where
            for b, table in enumerate(bands):
                table.setdefault((dh[0] >> (16 * b)) & 0xFFFF, []).append((dh, where))
            entry["status"] = "kept"
            kept.append(Planned(src.name, item, sha))
    return kept, files


def _near(bands: list[dict], dh: tuple[int, int]) -> str | None:
    """An earlier image within NEAR_BITS / FINE_BITS of ``dh``: any pair within NEAR_BITS of the 64-bit hash
    shares one of its four 16-bit bands exactly, so only those are compared."""
    for b, table in enumerate(bands):
        for other, where in table.get((dh[0] >> (16 * b)) & 0xFFFF, ()):
            if (
                bin(other[0] ^ dh[0]).count("1") <= NEAR_BITS
                and bin(other[1] ^ dh[1]).count("1") <= FINE_BITS
            ):
                return where
    return None


def interleave(todo: list[Planned]) -> list[Planned]:
    """Round-robin over sources, so a run stopped early has labelled some of every source."""
    queues: dict[str, list[Planned]] = {}
    for p in todo:
        queues.setdefault(p.source, []).append(p)
    longest = max((len(q) for q in queues.values()), default=0)
    return [q[i] for i in range(longest) for q in queues.values() if i < len(q)]


def split_of(sha: str, dev_fraction: float, seed: int) -> str:
    """'dev' for a fixed, seeded fraction of images (by content, so order and other sources never move it)."""
    h = int(hashlib.sha256(f"{seed}:{sha}".encode()).hexdigest()[:8], 16)
    return "dev" if h < dev_fraction * 0x100000000 else "train"


# -- labelling -----------------------------------------------------------------------------------------------


def done_records(log: Path) -> dict[str, dict]:
    """Records already in ``labels.jsonl`` by sha256; a line cut short by a kill is ignored (redone)."""
    out: dict[str, dict] = {}
    if log.exists():
        for line in log.read_text().splitlines():
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                continue
            out[rec["sha256"]] = rec
    return out


def label(
    todo: list[Planned],
    out: Path,
    *,
    predict: Callable,
    detect: Callable,
    dev_fraction: float,
    seed: int,
    max_side: int = MAX_SIDE,
    limit: int | None = None,
) -> int:
    """Label the images of ``todo`` not yet in ``out/labels.jsonl``, appending one line per image; -> how many."""
    import cv2
    from tqdm import tqdm

    from distilpose.pseudolabel import _write_jpeg

    log_path = out / "labels.jsonl"
    done = done_records(log_path)
    pending = [p for p in todo if p.sha256 not in done][:limit]
    for split in ("train", "dev"):
        (out / split / "images").mkdir(parents=True, exist_ok=True)
    n = 0
    with open(log_path, "a") as log, tqdm(pending, unit="image", desc="labelling", initial=0) as bar:
        for p in bar:
            bgr = cv2.imread(str(p.item.path), cv2.IMREAD_COLOR)
            if bgr is None:
                raise DistilPoseError(f"{p.item.path}: cannot read the image")
            image = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
            if p.item.boxes is not None:
                boxes, scores, box_from = p.item.boxes, np.ones(len(p.item.boxes)), "source"
            else:
                boxes, scores = detect(image)
                box_from = "detector"
            instances = predict(image, boxes, scores) if len(boxes) else []
            factor = min(1.0, max_side / max(image.shape[:2]))
            split = split_of(p.sha256, dev_fraction, seed)
            name = f"{p.source}_{p.sha256[:16]}.jpg"
            if instances:
                _write_jpeg(image, factor, out / split / "images" / name, 92)
            people = []
            for i, inst in enumerate(instances):
                teacher = np.column_stack([inst.keypoints[:, :2], inst.scores])
                people.append(
                    {
                        "box": [round(float(v), 2) for v in inst.bbox],
                        "box_from": box_from,
                        "box_score": round(float(scores[i]), 4),
                        "teacher": np.round(teacher, 3).tolist(),
                        "gt": p.item.joints[i].tolist() if box_from == "source" and p.item.joints else None,
                    }
                )
            rec = {
                "sha256": p.sha256,
                "source": p.source,
                "file": p.item.rel,
                "split": split,
                "image": name if instances else None,
                "width": image.shape[1],
                "height": image.shape[0],
                "factor": factor,
                "people": people,
            }
            log.write(json.dumps(rec) + "\n")
            log.flush()
            n += 1
    return n


# -- fusion, COCO files, measurement -------------------------------------------------------------------------


def fuse(
    teacher: np.ndarray, gt: np.ndarray | None, rule: str, threshold: float
) -> tuple[np.ndarray, np.ndarray]:
    """(17, 3) teacher x, y, score and (17, 3) source joints -> (keypoints (17, 3) with v = 2, scores (17,)).

    ``teacher``: Thunder only. ``fill``: the source's joint (score 1) where Thunder scores below
    ``threshold``. ``gt``: the source's joint wherever it is labelled. Face joints are always Thunder's."""
    if rule not in FUSIONS:
        raise DistilPoseError(f"unknown fusion {rule!r}; choose from {', '.join(FUSIONS)}")
    xy, scores = teacher[:, :2].copy(), teacher[:, 2].copy()
    if gt is not None and rule != "teacher":
        use = gt[:, 2] > 0
        if rule == "fill":
            use &= scores < threshold
        xy[use], scores[use] = gt[use, :2], 1.0
    return np.column_stack([xy, np.full(17, 2.0)]), scores


def build(
    out: Path,
    *,
    fusion: str = DEFAULT_FUSION,
    keypoint_threshold: float = 0.3,
    min_keypoints: int = 6,
) -> dict[str, dict[str, int]]:
    """Write ``out/{train,dev}/person_keypoints.json`` from ``labels.jsonl``; -> images/people per split.

    Only images the data list (``sources.json``, written by the last ``prepare``) keeps are used, so a record
    of a source no longer given, or of an image since found to be a duplicate, never reaches training."""
    from distilpose.coco import CocoDataset, CocoImage, save_coco
    from distilpose.pseudolabel import _confident_annotations
    from distilpose.types import Instance

    meta = json.loads((out / "prepare.json").read_text()) if (out / "prepare.json").exists() else {}
    teacher_name = meta.get("teacher", "movenet-thunder (flip)")
    counts = {}
    records = list(done_records(out / "labels.jsonl").values())
    if (out / "sources.json").exists():
        listed = json.loads((out / "sources.json").read_text())["sources"]
        kept = {f["sha256"] for s in listed for f in s["files"] if f["status"] == "kept"}
        records = [r for r in records if r["sha256"] in kept]
    for split in ("train", "dev"):
        images, annotations = [], []
        for rec in records:
            if (
                rec["split"] != split
                or not rec["image"]
                or not (out / split / "images" / rec["image"]).exists()
            ):
                continue
            instances = []
            for person in rec["people"]:
                gt = np.asarray(person["gt"]) if person["gt"] is not None else None
                kp, scores = fuse(np.asarray(person["teacher"]), gt, fusion, keypoint_threshold)
                instances.append(Instance(kp, bbox=tuple(person["box"]), scores=scores, source="teacher"))
            image_id = len(images) + 1
            good, _ = _confident_annotations(
                instances,
                image_id=image_id,
                first_id=len(annotations) + 1,
                factor=rec["factor"],
                threshold=keypoint_threshold,
                min_keypoints=min_keypoints,
                teacher_name=teacher_name,
            )
            if not good:
                continue
            w, h = (round(v * rec["factor"]) for v in (rec["width"], rec["height"]))
            extra = {"source": rec["source"], "file": rec["file"], "sha256": rec["sha256"]}
            images.append(CocoImage(id=image_id, file_name=rec["image"], width=w, height=h, extra=extra))
            annotations.extend(good)
        target = out / split / "person_keypoints.json"
        if not images:
            target.unlink(missing_ok=True)  # a stale file from an earlier build would not match the data list
        else:
            save_coco(CocoDataset(images=images, annotations=annotations), target)
        counts[split] = {"images": len(images), "people": len(annotations)}
    return counts


def measure(out: Path, threshold: float = 0.3, sample: int | None = None) -> dict[str, dict]:
    """Thunder's agreement with each source's own joints (12 body joints), on people with both.

    OKS uses COCO's body sigmas and the area of the person's joint box. A joint "agrees" when its own OKS
    term exp(-d^2 / 2 s^2 k^2) is at least 0.5. Split by Thunder's score (confident: >= ``threshold``)."""
    from distilpose.keypoints import OKS_SIGMAS, flip_permutation

    mirror = flip_permutation()
    k2 = (2 * OKS_SIGMAS[BODY]) ** 2
    rows: dict[str, dict] = {}
    per: dict[str, list] = {}
    for rec in done_records(out / "labels.jsonl").values():
        for person in rec["people"]:
            if person["gt"] is not None:
                per.setdefault(rec["source"], []).append(person)
    for source, people in sorted(per.items()):
        people = people[:sample]
        oks_all, agree, swaps = [], {True: [0, 0], False: [0, 0]}, 0
        labelled = {rule: [] for rule in FUSIONS}
        for person in people:
            t, g = np.asarray(person["teacher"])[BODY], np.asarray(person["gt"])[BODY]
            lab = g[:, 2] > 0
            if not lab.any():
                continue
            area = float(np.prod(np.asarray(person["box"])[2:]))
            ks = np.exp(-((t[:, :2] - g[:, :2]) ** 2).sum(1) / k2 / (area + 1e-9) / 2.0)
            oks_all.append(float(ks[lab].mean()))
            for conf in (True, False):
                m = lab & ((t[:, 2] >= threshold) == conf)
                agree[conf][0] += int((ks[m] >= 0.5).sum())
                agree[conf][1] += int(m.sum())
            # left/right: Thunder's confident joint disagrees, and sits at the source's mirrored joint
            g_m = np.asarray(person["gt"])[mirror[BODY]]
            d_own = np.linalg.norm(t[:, :2] - g[:, :2], axis=1)
            d_mir = np.linalg.norm(t[:, :2] - g_m[:, :2], axis=1)
            swaps += int(
                (lab & (g_m[:, 2] > 0) & (t[:, 2] >= threshold) & (ks < 0.5) & (d_mir < 0.5 * d_own)).sum()
            )
            for rule in FUSIONS:
                _, s = fuse(np.asarray(person["teacher"]), np.asarray(person["gt"]), rule, threshold)
                labelled[rule].append(int((s[BODY] >= threshold).sum()))
        oks_arr = np.asarray(oks_all)
        rows[source] = {
            "people": len(oks_arr),
            "mean_oks": round(float(oks_arr.mean()), 3) if len(oks_arr) else None,
            "share_oks_ge_0.5": round(float((oks_arr >= 0.5).mean()), 3) if len(oks_arr) else None,
            "confident_joints": agree[True][1],
            "confident_agree": round(agree[True][0] / max(agree[True][1], 1), 3),
            "confident_swapped_left_right": swaps,
            "unsure_joints": agree[False][1],
            "unsure_agree": round(agree[False][0] / max(agree[False][1], 1), 3),
            "body_joints_labelled": {
                r: round(float(np.mean(v)), 2) if v else None for r, v in labelled.items()
            },
        }
    return rows


# -- the command ---------------------------------------------------------------------------------------------


def _parse_sources(specs: list[str]) -> list[tuple[str, Path]]:
    out = []
    for spec in specs:
        name, _, path = spec.rpartition("=") if "=" in spec else ("", "", spec)
        root = Path(path)
        out.append((name or root.name, root))
    names = [n for n, _ in out]
    if len(set(names)) != len(names):
        raise DistilPoseError(f"two sources share a name: {names}; name them NAME=DIR")
    return out


def data_list(sources: list[Source], files: dict[str, list[dict]], val_list: Path | None) -> dict:
    listed = []
    for src in sources:
        known = KNOWN.get(src.name, {})
        listed.append(
            {
                "name": src.name,
                "folder": str(src.root),
                "layout": src.layout,
                "repo": known.get("repo", "unrecorded (a local folder)"),
                "commit": known.get("commit", "unrecorded"),
                "path": known.get("path", "."),
                "licence": known.get("licence", "unrecorded: record it before training on it"),
                "images": len(files[src.name]),
                "kept": sum(f["status"] == "kept" for f in files[src.name]),
                "files": files[src.name],
            }
        )
    val = {"file": str(val_list), "sha256": sha256_file(val_list)} if val_list else None
    return {"val2017_list": val, "sources": listed}


def _stop(signum, frame) -> None:
    raise KeyboardInterrupt


def prepare(
    specs: list[str],
    out: Path,
    *,
    val_list: Path | None,
    fusion: str = DEFAULT_FUSION,
    dev_fraction: float = 0.05,
    seed: int = 26,
    limit: int | None = None,
    predict: Callable | None = None,
    detect: Callable | None = None,
) -> dict:
    """Recognise, de-duplicate, label (resumably) and write the COCO files and the data list; -> the counts.

    ``predict``/``detect`` default to MoveNet Thunder with flip test and CenterNet (tests pass fakes)."""
    out.mkdir(parents=True, exist_ok=True)
    sources = [recognise(name, root) for name, root in _parse_sources(specs)]
    val_ids = read_val2017_ids(val_list) if val_list else None
    hashes = _Hashes(out / "hashes.json")
    try:
        todo, files = plan(sources, hashes, val_ids)
        todo = interleave(todo)
    finally:
        hashes.save()
    atomic_write_text(out / "sources.json", json.dumps(data_list(sources, files, val_list), indent=1) + "\n")
    teacher = "test fake"
    if predict is None:
        from distilpose.inference.loading import load_predictor

        # ONNX Runtime on one thread: equal to PyTorch within 1e-4 px here, and fair to a shared CPU
        loaded = load_predictor("movenet-thunder", runtime="onnx", flip=True, threads=1)
        predict, teacher = loaded.predictor.predict, f"{loaded.name} (flip, {loaded.runtime})"
    if detect is None:
        from distilpose.detection import make_detector

        detect = make_detector("centernet").detect
    meta = {"teacher": teacher, "dev_fraction": dev_fraction, "seed": seed, "max_side": MAX_SIDE}
    atomic_write_text(out / "prepare.json", json.dumps(meta, indent=1) + "\n")
    interrupted = False
    previous = signal.signal(signal.SIGTERM, _stop)  # `kill PID` of a background run stops as Ctrl-C does
    try:
        label(todo, out, predict=predict, detect=detect, dev_fraction=dev_fraction, seed=seed, limit=limit)
    except KeyboardInterrupt:
        interrupted = True
        print(
            "interrupted: keeping what is labelled; run the same command again to continue", file=sys.stderr
        )
    finally:
        signal.signal(signal.SIGTERM, previous)
    counts = build(out, fusion=fusion)
    counts["planned"] = {"images": len(todo), "labelled": len(done_records(out / "labels.jsonl"))}
    counts["interrupted"] = interrupted  # type: ignore[assignment]
    return counts


def _table(rows: dict[str, dict]) -> Iterator[str]:
    yield (
        "| source | people | mean OKS | OKS >= 0.5 | confident joints agree | of them left/right swapped "
        "| unsure joints agree | body joints labelled teacher / fill / gt |"
    )
    yield "|---|---|---|---|---|---|---|---|"
    for s, r in rows.items():
        lab = r["body_joints_labelled"]
        yield (
            f"| {s} | {r['people']} | {r['mean_oks']} | {r['share_oks_ge_0.5']} | {r['confident_agree']} "
            f"({r['confident_joints']}) | {r['confident_swapped_left_right']} | {r['unsure_agree']} "
            f"({r['unsure_joints']}) | "
            f"{lab['teacher']} / {lab['fill']} / {lab['gt']} |"
        )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="varied_people", description=__doc__.split("\n\n")[0])
    p.add_argument("action", choices=["prepare", "build", "measure"])
    p.add_argument("--sources", nargs="+", default=[], help="prepare: source folders, [NAME=]DIR (see KNOWN)")
    p.add_argument("--out", type=Path, required=True, help="the data folder (outside the repository)")
    p.add_argument(
        "--val2017-list", type=Path, help="prepare: text naming COCO val2017 files (dropped by id)"
    )
    p.add_argument(
        "--fusion", choices=FUSIONS, default=DEFAULT_FUSION, help="prepare/build: joints + Thunder"
    )
    p.add_argument(
        "--dev-fraction", type=float, default=0.05, help="prepare: share of images held apart as dev"
    )
    p.add_argument("--seed", type=int, default=26, help="prepare: seed of the dev split")
    p.add_argument("--limit", type=int, help="prepare: label at most this many more images this run")
    p.add_argument("--sample", type=int, help="measure: at most this many people per source")
    args = p.parse_args(argv)
    try:
        if args.action == "prepare":
            if not args.sources:
                p.error("prepare needs --sources")
            counts = prepare(
                args.sources,
                args.out,
                val_list=args.val2017_list,
                fusion=args.fusion,
                dev_fraction=args.dev_fraction,
                seed=args.seed,
                limit=args.limit,
            )
            print(json.dumps(counts))
            return 130 if counts["interrupted"] else 0
        if args.action == "build":
            print(json.dumps(build(args.out, fusion=args.fusion)))
            return 0
        print("\n".join(_table(measure(args.out, sample=args.sample))))
        return 0
    except DistilPoseError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
