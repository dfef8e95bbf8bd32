"""COCO person-keypoint files: load with a full list of problems, save atomically, results and detections.

A COCO file is usually made by another tool and often broken in small ways. Loading collects *every*
problem (naming the image/annotation id, the field and what is wrong) before raising one
:class:`~distilpose.errors.CocoFormatError`, so a user can fix a file in one pass. Saving runs the same
checks on what it is about to write, so this module never writes a file it would refuse to read.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from distilpose.atomic import atomic_write_json
from distilpose.errors import CocoFormatError
from distilpose.keypoints import NAMES, NUM_KEYPOINTS, coco_category
from distilpose.types import Instance

PathLike = str | os.PathLike

_FLAT_LEN = 3 * NUM_KEYPOINTS
_IMAGE_FIELDS = ("id", "file_name", "width", "height")
_ANN_FIELDS = (
    "id", "image_id", "category_id", "keypoints", "num_keypoints", "bbox", "area", "iscrowd", "score", "track_id",
)  # fmt: skip
_TOP_FIELDS = ("info", "licenses", "images", "annotations", "categories")
_BBOX_PARTS = ("x", "y", "w", "h")


# --------------------------------------------------------------------------------------------- records


@dataclass
class CocoImage:
    """One ``images`` entry. ``extra`` keeps fields this tool does not use (licence, urls) for round trips."""

    id: int
    file_name: str
    width: int
    height: int
    extra: dict = field(default_factory=dict)

    def to_json_dict(self) -> dict:
        out: dict[str, Any] = {
            "id": _num(self.id),
            "file_name": self.file_name,
            "width": _num(self.width),
            "height": _num(self.height),
        }
        out.update({k: _jsonable(v) for k, v in self.extra.items() if k not in _IMAGE_FIELDS})
        return out


@dataclass(eq=False)
class CocoAnnotation:
    """One ``annotations`` entry: a person's 17 keypoints (x, y, v) in image pixels plus box and area.

    ``extra`` keeps unknown fields (``segmentation`` and friends) so that a load/save round trip loses nothing.
    """

    id: int
    image_id: int
    category_id: int
    keypoints: np.ndarray  # (17, 3) float64: x, y, v
    bbox: tuple[float, float, float, float]  # x, y, w, h
    area: float
    iscrowd: int
    num_keypoints: int
    score: float | None = None
    track_id: int | None = None
    extra: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        kp = np.asarray(self.keypoints, dtype=np.float64)
        self.keypoints = kp.reshape(NUM_KEYPOINTS, 3) if kp.size == _FLAT_LEN else kp
        self.bbox = tuple(float(v) for v in self.bbox)  # type: ignore[assignment]

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CocoAnnotation):
            return NotImplemented
        return (
            (self.id, self.image_id, self.category_id, self.bbox, self.area, self.iscrowd)
            == (other.id, other.image_id, other.category_id, other.bbox, other.area, other.iscrowd)
            and (self.num_keypoints, self.score, self.track_id, self.extra)
            == (other.num_keypoints, other.score, other.track_id, other.extra)
            and np.array_equal(self.keypoints, other.keypoints)
        )

    __hash__ = None  # type: ignore[assignment]  # mutable record

    def to_instance(self) -> Instance:
        """An editable :class:`Instance`; ``extras['coco']`` remembers what :meth:`from_instance` should keep."""
        return Instance(
            keypoints=self.keypoints.copy(),
            bbox=tuple(self.bbox),  # type: ignore[arg-type]
            score=self.score,
            source="import",
            track_id=self.track_id,
            extras={
                "coco": {
                    "id": self.id,
                    "image_id": self.image_id,
                    "category_id": self.category_id,
                    "area": self.area,
                    "iscrowd": self.iscrowd,
                    "extra": dict(self.extra),
                }
            },
        )

    @classmethod
    def from_instance(
        cls, instance: Instance, *, image_id: int, id: int | None = None, category_id: int | None = None
    ) -> CocoAnnotation:
        """Build the annotation to export for ``instance``.

        An instance that came from :meth:`to_instance` keeps its id, area, crowd flag and unknown fields (stable
        ids across save/load); a new one needs ``id``. The box is the instance's, else the padded keypoint box.
        """
        coco = instance.extras.get("coco", {}) if isinstance(instance.extras, dict) else {}
        ann_id = id if id is not None else coco.get("id")
        if ann_id is None:
            raise ValueError("a new instance needs an annotation id (pass id=...)")
        bbox = instance.bbox if instance.bbox is not None else instance.bbox_from_keypoints()
        if bbox is None:
            raise ValueError(f"annotation {ann_id}: the instance has neither a box nor labelled keypoints")
        area = coco.get("area")
        if area is None:
            area = float(bbox[2]) * float(bbox[3])
        kp = np.asarray(instance.keypoints, dtype=np.float64).copy()
        return cls(
            id=int(ann_id),
            image_id=int(image_id),
            category_id=int(category_id if category_id is not None else coco.get("category_id", 1)),
            keypoints=kp,
            bbox=tuple(float(v) for v in bbox),  # type: ignore[arg-type]
            area=float(area),
            iscrowd=int(coco.get("iscrowd", 0)),
            num_keypoints=int((kp[:, 2] > 0).sum()),
            score=None if instance.score is None else float(instance.score),
            track_id=instance.track_id,
            extra=dict(coco.get("extra", {})),
        )

    def to_json_dict(self) -> dict:
        """The export form: flat ``[x, y, v] * 17`` with int ``v``, x = y = 0 where v = 0, recounted."""
        keypoints, num = _export_keypoints(self.keypoints)
        out: dict[str, Any] = {
            "id": _num(self.id),
            "image_id": _num(self.image_id),
            "category_id": _num(self.category_id),
            "keypoints": keypoints,
            "num_keypoints": num,
            "bbox": [_num(v) for v in self.bbox],
            "area": _num(self.area),
            "iscrowd": _num(self.iscrowd),
        }
        if self.score is not None:
            out["score"] = _num(self.score)
        if self.track_id is not None:
            out["track_id"] = _num(self.track_id)
        out.update({k: _jsonable(v) for k, v in self.extra.items() if k not in _ANN_FIELDS})
        return out


@dataclass
class CocoDataset:
    """A whole COCO file. Lookups use an index rebuilt when the lists change length or identity; call
    :meth:`reindex` after changing ids of records in place."""

    images: list[CocoImage] = field(default_factory=list)
    annotations: list[CocoAnnotation] = field(default_factory=list)
    categories: list[dict] = field(default_factory=lambda: [coco_category()])
    info: dict = field(default_factory=dict)
    licenses: list = field(default_factory=list)
    path: Path | None = field(default=None, compare=False)
    extra: dict = field(default_factory=dict)  # unknown top-level fields
    _index_key: tuple | None = field(default=None, init=False, repr=False, compare=False)
    _images_by_id: dict = field(default_factory=dict, init=False, repr=False, compare=False)
    _images_by_name: dict = field(default_factory=dict, init=False, repr=False, compare=False)
    _anns_by_image: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    def reindex(self) -> None:
        self._images_by_id = {}
        self._images_by_name = {}
        for img in self.images:
            self._images_by_id.setdefault(img.id, img)
            self._images_by_name.setdefault(img.file_name, img)
            self._images_by_name.setdefault(Path(img.file_name).name, img)
        self._anns_by_image = {}
        for ann in self.annotations:
            self._anns_by_image.setdefault(ann.image_id, []).append(ann)
        self._index_key = self._current_key()

    def _current_key(self) -> tuple:
        return (id(self.images), len(self.images), id(self.annotations), len(self.annotations))

    def _ensure_index(self) -> None:
        if self._index_key != self._current_key():
            self.reindex()

    def image(self, image_id: int) -> CocoImage:
        """The image with this id; KeyError names the id when there is none."""
        self._ensure_index()
        img = self._images_by_id.get(image_id)
        if img is None or img.id != image_id:
            self.reindex()
            img = self._images_by_id.get(image_id)
        if img is None:
            raise KeyError(f"no image with id {image_id}")
        return img

    def image_by_file_name(self, name: str | os.PathLike) -> CocoImage | None:
        """The image whose ``file_name`` is ``name`` (or whose base name matches it), else None."""
        self._ensure_index()
        name = os.fspath(name)
        for key in (name, Path(name).name):
            img = self._images_by_name.get(key)
            if img is not None and key in (img.file_name, Path(img.file_name).name):
                return img
        return None

    def annotations_for_image(self, image_id: int) -> list[CocoAnnotation]:
        self._ensure_index()
        anns = self._anns_by_image.get(image_id, [])
        if any(a.image_id != image_id for a in anns):
            self.reindex()
            anns = self._anns_by_image.get(image_id, [])
        return list(anns)

    def next_image_id(self) -> int:
        return max((img.id for img in self.images), default=0) + 1

    def next_annotation_id(self) -> int:
        return max((ann.id for ann in self.annotations), default=0) + 1

    def person_category_id(self) -> int:
        """The id of the ``person`` category (1 when the dataset has none yet: export adds it)."""
        for cat in self.categories:
            if isinstance(cat, dict) and cat.get("name") == "person":
                return cat.get("id", 1)
        return 1

    def to_json_dict(self) -> dict:
        """The file content: the person category always carries the COCO-17 names and 1-based skeleton."""
        out: dict[str, Any] = {
            "info": _jsonable(self.info),
            "licenses": _jsonable(self.licenses),
            "images": [img.to_json_dict() for img in self.images],
            "annotations": [ann.to_json_dict() for ann in self.annotations],
            "categories": _export_categories(self.categories),
        }
        out.update({k: _jsonable(v) for k, v in self.extra.items() if k not in _TOP_FIELDS})
        return out


# --------------------------------------------------------------------------------------------- public I/O


def load_coco(path: PathLike) -> CocoDataset:
    """Read and validate a COCO keypoint file; raises CocoFormatError listing every problem."""
    doc = _read_json(path)
    dataset = parse_coco(doc, source=path)
    dataset.path = Path(path)
    return dataset


def parse_coco(doc: Any, source: PathLike = "<memory>") -> CocoDataset:
    """Validate an already-parsed COCO document; ``source`` names it in the error."""
    problems: list[str] = []
    try:
        dataset = _Parser(problems).document(doc)
    except RecursionError:  # only reachable from memory: a file this deep fails to parse first
        problems.append("the document is nested too deeply")
    if problems:
        raise CocoFormatError(str(source), problems)
    assert dataset is not None
    return dataset


def save_coco(dataset: CocoDataset, path: PathLike) -> None:
    """Write ``dataset`` atomically, after checking the exact content would load again (else nothing is written)."""
    doc = dataset.to_json_dict()
    parse_coco(doc, source=path)
    atomic_write_json(path, doc)


# --------------------------------------------------------------------------------------------- results


@dataclass(eq=False)
class KeypointResult:
    """One entry of a COCO keypoint results file: x, y and a per-keypoint score, plus the instance score."""

    image_id: int
    keypoints: np.ndarray  # (17, 3) float64: x, y, score
    score: float
    category_id: int = 1

    def __post_init__(self) -> None:
        kp = np.asarray(self.keypoints, dtype=np.float64)
        self.keypoints = kp.reshape(NUM_KEYPOINTS, 3) if kp.size == _FLAT_LEN else kp

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, KeypointResult):
            return NotImplemented
        return (self.image_id, self.score, self.category_id) == (
            other.image_id,
            other.score,
            other.category_id,
        ) and np.array_equal(self.keypoints, other.keypoints)

    __hash__ = None  # type: ignore[assignment]

    @classmethod
    def from_instance(cls, instance: Instance, image_id: int, category_id: int = 1) -> KeypointResult:
        """A model prediction as a result: the third column is the keypoint score (v when there is none)."""
        kp = np.asarray(instance.keypoints, dtype=np.float64).copy()
        if instance.scores is not None:
            kp[:, 2] = np.asarray(instance.scores, dtype=np.float64).reshape(NUM_KEYPOINTS)
        score = instance.score if instance.score is not None else float(kp[:, 2].mean())
        return cls(image_id=int(image_id), keypoints=kp, score=float(score), category_id=int(category_id))

    def to_json_dict(self) -> dict:
        kp = np.asarray(self.keypoints)
        flat = [_num(v) for v in kp.reshape(-1)] if kp.dtype.kind in "fiu" else _jsonable(self.keypoints)
        return {
            "image_id": _num(self.image_id),
            "category_id": _num(self.category_id),
            "keypoints": flat,
            "score": _num(self.score),
        }


@dataclass
class Detection:
    """One person box from a detector, COCO results format."""

    image_id: int
    bbox: tuple[float, float, float, float]  # x, y, w, h
    score: float
    category_id: int = 1

    def __post_init__(self) -> None:
        self.bbox = tuple(float(v) for v in self.bbox)  # type: ignore[assignment]

    def to_json_dict(self) -> dict:
        return {
            "image_id": _num(self.image_id),
            "category_id": _num(self.category_id),
            "bbox": [_num(v) for v in self.bbox],
            "score": _num(self.score),
        }


def save_keypoint_results(results: Iterable[KeypointResult], path: PathLike) -> None:
    doc = [r.to_json_dict() for r in results]
    parse_keypoint_results(doc, source=path)
    atomic_write_json(path, doc)


def load_keypoint_results(path: PathLike) -> list[KeypointResult]:
    return parse_keypoint_results(_read_json(path), source=path)


def parse_keypoint_results(doc: Any, source: PathLike = "<memory>") -> list[KeypointResult]:
    problems: list[str] = []
    out: list[KeypointResult] = []
    for _i, where, entry in _result_entries(doc, problems, "keypoint results"):
        image_id = where.int_field(entry, "image_id")
        category_id = where.int_field(entry, "category_id", required=False, default=1)
        score = where.number_field(entry, "score")
        kp = where.keypoints(entry, "keypoints", third="score")
        if None not in (image_id, category_id, score) and kp is not None:
            out.append(KeypointResult(image_id=image_id, keypoints=kp, score=score, category_id=category_id))
    if problems:
        raise CocoFormatError(str(source), problems)
    return out


def save_detections(detections: Iterable[Detection], path: PathLike) -> None:
    doc = [d.to_json_dict() for d in detections]
    parse_detections(doc, source=path)
    atomic_write_json(path, doc)


def load_detections(path: PathLike, category_id: int | None = 1, min_score: float = 0.0) -> list[Detection]:
    """Boxes of ``category_id`` (all when None) scoring at least ``min_score``; every entry is validated."""
    dets = parse_detections(_read_json(path), source=path)
    return [d for d in dets if (category_id is None or d.category_id == category_id) and d.score >= min_score]


def parse_detections(doc: Any, source: PathLike = "<memory>") -> list[Detection]:
    problems: list[str] = []
    out: list[Detection] = []
    for _i, where, entry in _result_entries(doc, problems, "detections"):
        image_id = where.int_field(entry, "image_id")
        category_id = where.int_field(entry, "category_id", required=False, default=1)
        score = where.number_field(entry, "score")
        bbox = where.bbox(entry, "bbox")
        if None not in (image_id, category_id, score, bbox):
            out.append(Detection(image_id=image_id, bbox=bbox, score=score, category_id=category_id))
    if problems:
        raise CocoFormatError(str(source), problems)
    return out


# --------------------------------------------------------------------------------------------- reading


def _read_json(path: PathLike) -> Any:
    """Parse a JSON file, turning every way it can fail into a CocoFormatError with line/column."""
    p = Path(path)
    try:
        raw = p.read_bytes()
    except FileNotFoundError:
        raise CocoFormatError(str(p), ["file not found"]) from None
    except IsADirectoryError:
        raise CocoFormatError(str(p), ["is a folder, not a JSON file"]) from None
    except OSError as exc:
        raise CocoFormatError(str(p), [f"cannot read file: {exc.strerror or exc}"]) from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CocoFormatError(
            str(p), [f"not UTF-8 text (bad byte at offset {exc.start}): not a JSON file"]
        ) from None
    if not text.strip():
        raise CocoFormatError(str(p), ["file is empty"])
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise CocoFormatError(str(p), [_json_error_message(text, exc)]) from None
    except RecursionError:
        raise CocoFormatError(str(p), ["JSON nested too deeply"]) from None
    except ValueError as exc:  # an integer literal longer than Python's int conversion limit (4300 digits)
        raise CocoFormatError(str(p), [f"not usable JSON: {exc}"]) from None


def _json_error_message(text: str, exc: json.JSONDecodeError) -> str:
    """Where the JSON breaks; a document cut short (a string or value running into the end) says so."""
    at = f"line {exc.lineno}, column {exc.colno}"
    if exc.pos < len(text.rstrip()) and not exc.msg.startswith("Unterminated string"):
        return f"not valid JSON at {at}: {exc.msg}"
    end = f"line {text.count(chr(10)) + 1}, column {len(text) - text.rfind(chr(10))}"
    detail = exc.msg if at == end else f"{exc.msg} {at}" if exc.msg.endswith(" at") else f"{exc.msg} ({at})"
    return f"JSON ends early at {end} (file truncated?): {detail}"


def _result_entries(doc: Any, problems: list[str], what: str):
    if not isinstance(doc, list):
        hint = " (this looks like an annotation file)" if isinstance(doc, dict) and "images" in doc else ""
        problems.append(f"{what} must be a JSON list of objects, got {_describe(doc)}{hint}")
        return
    for i, entry in enumerate(doc):
        label = f"[{i}]"
        if isinstance(entry, dict) and _is_int(entry.get("image_id")):
            label += f" (image_id {_short(entry['image_id'])})"
        where = _Where(problems, label)
        if not isinstance(entry, dict):
            where.add(f"must be an object, got {_describe(entry)}")
            continue
        yield i, where, entry


class _Where:
    """Field checks for one record; each failed check appends one message prefixed with the record's label."""

    def __init__(self, problems: list[str], label: str):
        self.problems = problems
        self.label = label

    def add(self, message: str) -> None:
        self.problems.append(f"{self.label}: {message}")

    def _get(self, obj: dict, key: str, required: bool) -> tuple[bool, Any]:
        if key not in obj:
            if required:
                self.add(f"missing required field '{key}'")
            return False, None
        return True, obj[key]

    def int_field(
        self, obj: dict, key: str, *, required: bool = True, default: Any = None, minimum: int | None = None,
        nullable: bool = False, choices: tuple[int, ...] | None = None,
    ) -> Any:  # fmt: skip
        present, value = self._get(obj, key, required)
        if not present or (nullable and value is None):
            return default
        if not _is_number(value):
            self.add(f"'{key}' must be an integer, got {_describe(value)}")
            return None
        if not _is_finite(value):
            self.add(f"'{key}' is {_nonfinite_name(value)}, must be an integer")
            return None
        if value != int(value):
            self.add(f"'{key}' must be an integer, got {value!r}")
            return None
        value = int(value)
        if not _INT64_MIN <= value <= _INT64_MAX:
            self.add(f"'{key}' is {value}, outside the 64-bit integer range")
            return None
        if choices is not None and value not in choices:
            self.add(f"'{key}' must be one of {', '.join(map(str, choices))}, got {value}")
            return None
        if minimum is not None and value < minimum:
            self.add(f"'{key}' must be {'> 0' if minimum == 1 else f'>= {minimum}'}, got {value}")
            return None
        return value

    def number_field(
        self, obj: dict, key: str, *, required: bool = True, default: Any = None, minimum: float | None = None,
        nullable: bool = False,
    ) -> Any:  # fmt: skip
        present, value = self._get(obj, key, required)
        if not present or (nullable and value is None):
            return default
        if not _is_number(value):
            self.add(f"'{key}' must be a number, got {_describe(value)}")
            return None
        if not _is_finite(value):
            self.add(f"'{key}' is {_nonfinite_name(value)}, must be a finite number")
            return None
        if minimum is not None and value < minimum:
            self.add(f"'{key}' must be >= {minimum}, got {value!r}")
            return None
        return float(value)

    def str_field(self, obj: dict, key: str) -> str | None:
        present, value = self._get(obj, key, True)
        if not present:
            return None
        if not isinstance(value, str):
            self.add(f"'{key}' must be a string, got {_describe(value)}")
            return None
        if not value:
            self.add(f"'{key}' is empty")
            return None
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:  # JSON's "\ud800" escapes give Python strings no file system takes
            self.add(
                f"'{key}' {shorten(value)} is not valid Unicode text (a lone surrogate "
                f"\\u{ord(value[exc.start]):04x} at character {exc.start})"
            )
            return None
        return value

    def bbox(self, obj: dict, key: str, required: bool = True) -> tuple[float, float, float, float] | None:
        present, value = self._get(obj, key, required)
        if not present:
            return None
        if not isinstance(value, list):
            self.add(f"'{key}' must be a list [x, y, w, h], got {_describe(value)}")
            return None
        if len(value) != 4:
            self.add(f"'{key}' must have 4 values [x, y, w, h], got {len(value)}")
            return None
        ok = True
        for part, v in zip(_BBOX_PARTS, value, strict=True):
            if not _is_number(v):
                self.add(f"'{key}' {part} must be a number, got {_describe(v)}")
                ok = False
            elif not _is_finite(v):
                self.add(f"'{key}' {part} is {_nonfinite_name(v)}")
                ok = False
            elif part in ("w", "h") and v < 0:
                self.add(f"'{key}' has negative {'width' if part == 'w' else 'height'} {v!r}")
                ok = False
        return tuple(float(v) for v in value) if ok else None  # type: ignore[return-value]

    def keypoints(self, obj: dict, key: str, third: str) -> np.ndarray | None:
        """A flat list of 17 (x, y, ``third``) triples as a (17, 3) array. For GT, ``third`` is 'v' in {0,1,2}."""
        present, value = self._get(obj, key, True)
        if not present:
            return None
        if not isinstance(value, list):
            self.add(f"'{key}' must be a list of {_FLAT_LEN} numbers, got {_describe(value)}")
            return None
        if len(value) != _FLAT_LEN:
            self.add(
                f"'{key}' has {len(value)} values, expected {_FLAT_LEN} ({NUM_KEYPOINTS} keypoints x [x, y, {third}])"
            )
            return None
        if set(map(type, value)) <= {int, float}:  # fast path: plain numbers, the usual case
            with contextlib.suppress(OverflowError):  # an int beyond float range: the slow path names it
                arr = np.asarray(value, dtype=np.float64).reshape(NUM_KEYPOINTS, 3)
                if np.isfinite(arr).all() and (third != "v" or np.isin(arr[:, 2], (0, 1, 2)).all()):
                    return arr
        ok = True
        for idx, v in enumerate(value):
            k, c = divmod(idx, 3)
            what = f"'{key}'[{idx}] ({NAMES[k]} {('x', 'y', third)[c]})"
            if not _is_number(v):
                self.add(f"{what} must be a number, got {_describe(v)}")
                ok = False
            elif not _is_finite(v):
                self.add(f"{what} is {_nonfinite_name(v)}")
                ok = False
            elif c == 2 and third == "v" and v not in (0, 1, 2):
                self.add(f"{what} is {v!r}, must be 0 (not labelled), 1 (occluded) or 2 (visible)")
                ok = False
        if not ok:
            return None
        return np.asarray(value, dtype=np.float64).reshape(NUM_KEYPOINTS, 3)

    def claim_id(self, seen: dict[int, int], kind: str, item_id: int | None, index: int) -> bool:
        """Record that entry ``index`` uses ``item_id``; False, with one problem naming the earlier entry, when
        another entry has it already. An unknown id (None) claims nothing."""
        if item_id is None:
            return True
        if item_id in seen:
            plural = "categories" if kind == "category" else f"{kind}s"
            self.add(f"duplicate {kind} id {item_id}, already used by {plural}[{seen[item_id]}]")
            return False
        seen[item_id] = index
        return True

    def no_bad_numbers(self, value: Any, path: str) -> None:
        """Report NaN/Infinity and non-JSON values anywhere inside a free-form field (segmentation, info...)."""
        for where, bad in _bad_values(value, path):
            if bad is _TOO_DEEP:
                self.add(f"{where or 'a field'} is nested more than {MAX_NESTING} levels deep")
                return
            if isinstance(bad, float):
                self.add(f"{where} is {_nonfinite_name(bad)}")
            else:
                self.add(f"{where} holds a {type(bad).__name__}, which JSON cannot store")


class _Parser:
    """Turns a parsed JSON document into a CocoDataset, recording every problem on the way."""

    def __init__(self, problems: list[str]):
        self.problems = problems

    def document(self, doc: Any) -> CocoDataset | None:
        if not isinstance(doc, dict):
            hint = " (this looks like a results file, not annotations)" if isinstance(doc, list) else ""
            self.problems.append(
                f"the top level must be an object with 'images', 'annotations' and 'categories', "
                f"got {_describe(doc)}{hint}"
            )
            return None
        top = _Where(self.problems, "top level")
        for key in ("images", "annotations", "categories"):
            if key not in doc:
                top.add(f"missing required field '{key}'")
            elif not isinstance(doc[key], list):
                top.add(f"'{key}' must be a list, got {_describe(doc[key])}")
        info = doc.get("info", {})
        if not isinstance(info, dict):
            top.add(f"'info' must be an object, got {_describe(info)}")
            info = {}
        licenses = doc.get("licenses", [])
        if not isinstance(licenses, list):
            top.add(f"'licenses' must be a list, got {_describe(licenses)}")
            licenses = []
        extra = {k: v for k, v in doc.items() if k not in _TOP_FIELDS}
        for name, value in (("info", info), ("licenses", licenses), *extra.items()):
            top.no_bad_numbers(value, f"'{name}'")

        # Ids of records with other problems still count, so one bad image does not cascade into its annotations.
        categories, cat_ids = self._categories(doc.get("categories"))
        images, image_ids = self._images(doc.get("images"))
        annotations = self._annotations(doc.get("annotations"), image_ids, cat_ids)
        return CocoDataset(
            images=images,
            annotations=annotations,
            categories=categories,
            info=info,
            licenses=licenses,
            extra=extra,
        )

    def _entry(self, plural: str, kind: str, i: int, entry: Any) -> _Where | None:
        """The checker of entry ``i`` of the ``plural`` list, labelled by its id when it has one; None (one
        problem recorded) when the entry is not an object."""
        where = _Where(self.problems, f"{plural}[{i}]")
        if not isinstance(entry, dict):
            where.add(f"must be an object, got {_describe(entry)}")
            return None
        if _is_int(entry.get("id")):
            where.label = f"{kind} id {_short(entry['id'])} ({plural}[{i}])"
        return where

    def _categories(self, cats: Any) -> tuple[list[dict], set[int] | None]:
        if not isinstance(cats, list):
            return [], None
        seen: dict[int, int] = {}
        out = []
        for i, cat in enumerate(cats):
            where = self._entry("categories", "category", i, cat)
            if where is None:
                continue
            cid = where.int_field(cat, "id")
            name = where.str_field(cat, "name")
            where.no_bad_numbers({k: v for k, v in cat.items() if k not in ("keypoints", "skeleton")}, "")
            where.claim_id(seen, "category", cid, i)  # a duplicate category is reported, and still listed
            if name == "person":
                self._person_schema(where, cat)
            out.append(cat)
        return out, set(seen)

    def _person_schema(self, where: _Where, cat: dict) -> None:
        if "keypoints" in cat:
            names = cat["keypoints"]
            if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
                where.add(f"'keypoints' must be a list of keypoint names, got {_describe(names)}")
            elif len(names) != NUM_KEYPOINTS:
                where.add(
                    f"'keypoints' lists {len(names)} names, but the COCO-17 person schema has {NUM_KEYPOINTS}"
                )
            else:
                for k, (got, want) in enumerate(zip(names, NAMES, strict=True)):
                    if got != want:
                        where.add(f"'keypoints'[{k}] is {got!r}, the COCO-17 schema has {want!r} there")
        if "skeleton" in cat:
            skel = cat["skeleton"]
            if not isinstance(skel, list):
                where.add(f"'skeleton' must be a list of [a, b] pairs, got {_describe(skel)}")
                return
            for j, limb in enumerate(skel):
                if not (
                    isinstance(limb, list)
                    and len(limb) == 2
                    and all(_is_int(v) and 1 <= v <= NUM_KEYPOINTS for v in limb)
                ):
                    where.add(
                        f"'skeleton'[{j}] must be a pair of 1-based keypoint numbers 1..{NUM_KEYPOINTS}, "
                        f"got {_short(limb)}"
                    )

    def _images(self, images: Any) -> tuple[list[CocoImage], set[int] | None]:
        if not isinstance(images, list):
            return [], None
        seen: dict[int, int] = {}
        out = []
        for i, img in enumerate(images):
            where = self._entry("images", "image", i, img)
            if where is None:
                continue
            iid = where.int_field(img, "id")
            file_name = where.str_field(img, "file_name")
            width = where.int_field(img, "width", minimum=1)
            height = where.int_field(img, "height", minimum=1)
            extra = {k: v for k, v in img.items() if k not in _IMAGE_FIELDS}
            for k, v in extra.items():
                where.no_bad_numbers(v, f"'{k}'")
            if not where.claim_id(seen, "image", iid, i):
                continue
            if None not in (iid, file_name, width, height):
                out.append(CocoImage(id=iid, file_name=file_name, width=width, height=height, extra=extra))
        return out, set(seen)

    def _annotations(
        self, anns: Any, image_ids: set[int] | None, cat_ids: set[int] | None
    ) -> list[CocoAnnotation]:
        if not isinstance(anns, list):
            return []
        seen: dict[int, int] = {}
        out = []
        for i, ann in enumerate(anns):
            where = self._entry("annotations", "annotation", i, ann)
            if where is None:
                continue
            parsed = self._annotation(where, ann, image_ids, cat_ids)
            aid = parsed.id if parsed is not None else (ann["id"] if _is_int(ann.get("id")) else None)
            if not where.claim_id(seen, "annotation", aid, i):
                continue
            if parsed is not None:
                out.append(parsed)
        return out

    def _annotation(
        self, where: _Where, ann: dict, image_ids: set[int] | None, cat_ids: set[int] | None
    ) -> CocoAnnotation | None:
        n_before = len(self.problems)
        aid = where.int_field(ann, "id")
        image_id = where.int_field(ann, "image_id")
        category_id = where.int_field(ann, "category_id")
        if image_id is not None and image_ids is not None and image_id not in image_ids:
            where.add(f"'image_id' {image_id} is not the id of any image")
        if category_id is not None and cat_ids is not None and category_id not in cat_ids:
            where.add(f"'category_id' {category_id} is not the id of any category")
        iscrowd = where.int_field(ann, "iscrowd", required=False, default=0, choices=(0, 1))
        bbox = where.bbox(ann, "bbox", required=False)
        if "keypoints" in ann:
            kp = where.keypoints(ann, "keypoints", third="v")
        else:  # a box-only or crowd region: no labelled keypoints
            kp = np.zeros((NUM_KEYPOINTS, 3))
        labelled = int((kp[:, 2] > 0).sum()) if kp is not None else None
        num = where.int_field(ann, "num_keypoints", required=False, default=labelled, minimum=0)
        if num is not None and labelled is not None and num != labelled:
            where.add(f"'num_keypoints' is {num} but {labelled} keypoints have v > 0")
        if bbox is None and "bbox" not in ann and kp is not None:
            if labelled:
                pts = kp[kp[:, 2] > 0, :2]
                (x0, y0), (x1, y1) = pts.min(axis=0), pts.max(axis=0)
                bbox = (float(x0), float(y0), float(x1 - x0), float(y1 - y0))
            else:
                where.add("has neither a 'bbox' nor any labelled keypoints")
        area = where.number_field(ann, "area", required=False, minimum=0.0)
        if area is None and "area" not in ann and bbox is not None:
            area = bbox[2] * bbox[3]
        score = where.number_field(ann, "score", required=False, nullable=True)
        track_id = where.int_field(ann, "track_id", required=False, nullable=True)
        extra = {k: v for k, v in ann.items() if k not in _ANN_FIELDS}
        for k, v in extra.items():
            where.no_bad_numbers(v, f"'{k}'")
        if len(self.problems) != n_before:
            return None
        kp = kp.copy()
        kp[kp[:, 2] == 0, :2] = 0.0  # not labelled means no position
        return CocoAnnotation(
            id=aid,
            image_id=image_id,
            category_id=category_id,
            keypoints=kp,
            bbox=bbox,  # type: ignore[arg-type]
            area=float(area),  # type: ignore[arg-type]
            iscrowd=iscrowd,
            num_keypoints=labelled,  # type: ignore[arg-type]
            score=score,
            track_id=track_id,
            extra=extra,
        )


# --------------------------------------------------------------------------------------------- helpers


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


def _is_finite(value: int | float) -> bool:
    """math.isfinite that does not raise for an int too large for a float (a valid JSON number)."""
    try:
        return math.isfinite(value)
    except OverflowError:
        return False


def _nonfinite_name(value: float) -> str:
    if isinstance(value, int):
        return f"a {value.bit_length()}-bit integer, too large for a number"
    if math.isnan(value):
        return "NaN"
    return "Infinity" if value > 0 else "-Infinity"


def _short(value: Any, limit: int = 40) -> str:
    try:
        text = json.dumps(value) if isinstance(value, (str, list, dict, bool, type(None))) else repr(value)
    except (ValueError, TypeError, RecursionError):  # ints past the 4300-digit str limit, deep nesting
        text = f"<{type(value).__name__} too large to show>"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def shorten(text: str, limit: int = 60) -> str:
    """A string for a message: JSON-quoted (control characters and lone surrogates escaped), a long one cut
    in the middle with its length, so a 5,000-character file name does not flood the terminal."""
    quoted = json.dumps(text)
    if len(quoted) <= limit:
        return quoted
    half = (limit - 3) // 2
    return f"{quoted[:half]}...{quoted[-half:]} ({len(text)} characters)"


def _describe(value: Any) -> str:
    """How a JSON value reads in an error: its JSON type and a short excerpt."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    kind = {str: "a string", list: "a list", dict: "an object", int: "an integer", float: "a number"}.get(
        type(value), f"a {type(value).__name__}"
    )
    if isinstance(value, (list, dict)):
        return f"{kind} of {len(value)} item(s)"
    return f"{kind} ({_short(value)})"


#: Deepest nesting accepted inside a free-form field (segmentation, info, unknown fields): real COCO files
#: nest 3 levels; a list nested hundreds deep passes ``json.loads`` but breaks every recursive tool after it.
MAX_NESTING = 64
_TOO_DEEP = object()


def _bad_values(value: Any, path: str) -> Iterable[tuple[str, Any]]:
    """(path, value) for every non-finite float or non-JSON value inside ``value``, and (path, _TOO_DEEP) for
    a container nested deeper than :data:`MAX_NESTING`. Iterative: no recursion however deep the value."""
    stack: list[tuple[Any, str, int]] = [(value, path, 0)]
    while stack:
        item, where, depth = stack.pop()
        if isinstance(item, float):
            if not math.isfinite(item):
                yield where, item
        elif isinstance(item, (dict, list)):
            if depth >= MAX_NESTING:
                yield where, _TOO_DEEP
                continue
            if isinstance(item, dict):
                children = [(v, f"{where}.{k}" if where else f"'{k}'") for k, v in item.items()]
            else:
                with contextlib.suppress(TypeError, OverflowError):  # fast path: long number lists (polygons)
                    if set(map(type, item)) <= {int, float} and math.isfinite(sum(item)):
                        continue
                children = [(v, f"{where}[{i}]") for i, v in enumerate(item)]
            stack.extend((v, w, depth + 1) for v, w in reversed(children))
        elif not isinstance(item, (str, int, type(None))):  # bool is an int
            yield where, item


def _num(value: Any) -> Any:
    """A JSON number: ints stay ints, integral floats are written as ints (files stay compact and round-trip)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        f = float(value)
        return int(f) if math.isfinite(f) and f.is_integer() and abs(f) < 2**53 else f
    return value


_PLAIN = {int, float, str, bool, type(None)}


def _jsonable(value: Any) -> Any:
    """A deep copy with numpy values turned into plain Python ones; anything else is left for validation."""
    if type(value) in _PLAIN:
        return value
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        if set(map(type, value)) <= _PLAIN:  # fast path: polygons and other flat lists
            return list(value)
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return value


def _export_keypoints(keypoints: Any) -> tuple[list, int]:
    try:
        arr = np.asarray(keypoints, dtype=np.float64)
    except (TypeError, ValueError):
        return _jsonable(keypoints), 0
    if arr.size != _FLAT_LEN:
        return [_num(v) for v in arr.reshape(-1)], 0
    arr = arr.reshape(NUM_KEYPOINTS, 3).copy()
    arr[arr[:, 2] == 0, :2] = 0.0
    flat = [int(v) if v.is_integer() else v for v in arr.reshape(-1).tolist()]  # NaN/inf stay floats
    return flat, int((arr[:, 2] > 0).sum())


def _export_categories(categories: list[dict]) -> list[dict]:
    """Categories as written: the person one gets the schema's names and skeleton; added if missing."""
    ref = coco_category()
    out = []
    has_person = False
    for cat in categories:
        cat = _jsonable(cat)
        if isinstance(cat, dict) and cat.get("name") == "person":
            has_person = True
            cat = {**cat, "keypoints": ref["keypoints"], "skeleton": ref["skeleton"]}
        out.append(cat)
    if not has_person:
        used = {c.get("id") for c in out if isinstance(c, dict)}
        ref["id"] = 1 if 1 not in used else max(i for i in used if _is_int(i)) + 1
        out.insert(0, ref)
    return out
