"""Person boxes for top-down pose models: a detector from the zoo, the whole frame, the user's boxes, or
boxes tracked from the previous frame's keypoints.

Every source implements :class:`PersonDetector` (``detect(image_rgb) -> (boxes_xywh, scores)``), so the live
pipeline, the bench and batch export treat them alike and a new detector is just another entry.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from typing import Protocol

import cv2
import numpy as np

from distilpose.errors import DistilPoseError
from distilpose.inference.options import DETECTORS
from distilpose.similarity import box_iou
from distilpose.types import Instance

Boxes = tuple[np.ndarray, np.ndarray]  # (M, 4) xywh float64, (M,) scores


class PersonDetector(Protocol):
    name: str

    def detect(self, image_rgb: np.ndarray) -> Boxes:
        """Person boxes (x, y, w, h in image pixels) and their scores, best first."""
        ...


def _empty() -> Boxes:
    return np.zeros((0, 4)), np.zeros(0)


class FullFrame:
    """The whole image as one person box: the fallback when no detector is available (single-person clips)."""

    name = "full-frame"

    def detect(self, image_rgb: np.ndarray) -> Boxes:
        h, w = image_rgb.shape[:2]
        return np.array([[0.0, 0.0, float(w), float(h)]]), np.ones(1)


class FixedBoxes:
    """Boxes the user drew; the same for every frame until changed."""

    name = "user-boxes"

    def __init__(self, boxes_xywh: Sequence[Sequence[float]] | np.ndarray = ()) -> None:
        self.set_boxes(boxes_xywh)

    def set_boxes(self, boxes_xywh: Sequence[Sequence[float]] | np.ndarray) -> None:
        boxes = np.asarray(boxes_xywh, dtype=np.float64).reshape(-1, 4)
        if (boxes[:, 2:] <= 0).any():
            raise DistilPoseError(f"user boxes must have positive width and height, got {boxes.tolist()}")
        self.boxes = boxes

    def detect(self, image_rgb: np.ndarray) -> Boxes:
        return self.boxes.copy(), np.ones(len(self.boxes))


def nms(boxes_xywh: np.ndarray, scores: np.ndarray, iou_threshold: float) -> np.ndarray:
    """Indices of the boxes kept by greedy non-maximum suppression, best first (cv2: no torchvision here)."""
    if len(boxes_xywh) == 0:
        return np.zeros(0, dtype=int)
    keep = cv2.dnn.NMSBoxes(
        [list(map(float, b)) for b in boxes_xywh], [float(s) for s in scores], 0.0, float(iou_threshold)
    )
    keep = np.asarray(keep, dtype=int).reshape(-1)
    return keep[np.argsort(-np.asarray(scores)[keep], kind="stable")]


def square_tiles(width: int, height: int, min_aspect: float = 1.3) -> list[tuple[int, int, int]]:
    """(x0, y0, side) of two squares covering a wide (or tall) image end to end; none for a squarish one."""
    if max(width, height) < min_aspect * min(width, height):
        return []
    side = min(width, height)
    if width >= height:
        return [(0, 0, side), (width - side, 0, side)]
    return [(0, 0, side), (0, height - side, side)]


class CenterNetDetector:
    """The zoo's CenterNet-MobileNetV3 (COCO-80, :mod:`distilpose.zoo.centernet`), person class only, plus NMS.

    Build with :meth:`from_cache` once ``distilpose models fetch centernet`` has been run; ``model`` is
    anything with ``detect_people(image_rgb, min_score) -> (K, 5) [x1, y1, x2, y2, score]`` in image pixels.
    When no box reaches ``score_threshold`` (backlit or mid-jump people score low), the single best box above
    ``fallback_threshold`` that is at least ``fallback_min_height`` of the image tall is kept, so a clip with
    one hard frame does not lose its person.

    ``tiles``: also run on two overlapping squares of a wide frame (each seen at 512 px instead of the whole
    width), so small or backlit people get more pixels; boxes cut by a tile's inner edge are dropped (the
    whole-frame pass sees those people). ``flip``: also run on the mirrored frame. Both add passes, all
    merged by NMS (measured in docs/adr/0010).
    """

    name = "centernet"
    #: Finds a person in any part of a frame (a crop around a track in trouble: :class:`TrackFromKeypoints`).
    local_ok = True

    def __init__(
        self,
        model,
        score_threshold: float = 0.3,
        nms_iou: float = 0.5,
        fallback_threshold: float = 0.1,
        fallback_min_height: float = 0.1,
        tiles: bool = False,
        flip: bool = False,
    ) -> None:
        self.model = model
        self.score_threshold = score_threshold
        self.nms_iou = nms_iou
        self.fallback_threshold = fallback_threshold
        self.fallback_min_height = fallback_min_height
        self.tiles = tiles
        self.flip = flip
        self.name = "centernet" + ("-tiles" if tiles else "") + ("-flip" if flip else "")

    @staticmethod
    def available() -> bool:
        """Whether the model files are in the cache (cheap: sizes only)."""
        try:
            from distilpose.zoo import is_cached

            return is_cached("centernet")
        except (ImportError, DistilPoseError):
            return False

    @classmethod
    def from_cache(cls, **kwargs) -> CenterNetDetector:
        """Load the cached model (checksums verified); DistilPoseError says how to fetch it when missing.
        It runs on ONNX Runtime when its export agrees with the PyTorch import (see :class:`OnnxCenterNet`)."""
        from distilpose.zoo.centernet import load_centernet

        return cls(OnnxCenterNet.from_model(load_centernet()), **kwargs)

    def detect(self, image_rgb: np.ndarray) -> Boxes:
        *_, boxes = self.detect_passes(image_rgb)
        return boxes

    def detect_passes(self, image_rgb: np.ndarray, extra: bool = True) -> Iterator[Boxes]:
        """The boxes found so far, once after the whole-frame pass when tiles or flip follow, then all of
        them (what :meth:`detect` returns): a background detection hands the first on at once, so a person
        who entered is tracked a pass earlier instead of after all three (ADR 0020). ``extra=False``: the
        whole-frame pass alone (a schedule that runs the tiles and flip only now and then)."""
        floor = min(self.fallback_threshold, self.score_threshold)
        h, w = image_rgb.shape[:2]
        passes = [np.asarray(self.model.detect_people(image_rgb, min_score=floor), dtype=np.float64).reshape(-1, 5)]
        tiles, flip = self.tiles and extra, self.flip and extra
        if (tiles and square_tiles(w, h)) or flip:
            yield self.select(passes[0], h)
        if tiles:
            for x0, y0, side in square_tiles(w, h):
                tile = np.ascontiguousarray(image_rgb[y0 : y0 + side, x0 : x0 + side])
                dets = np.asarray(self.model.detect_people(tile, min_score=floor), dtype=np.float64).reshape(-1, 5)
                cut = np.zeros(len(dets), dtype=bool)
                for column, coord, inner in _inner_edges(x0, y0, side, w, h):
                    if inner:
                        cut |= np.abs(dets[:, column] - coord) < 2.0
                dets = dets[~cut]
                dets[:, [0, 2]] += x0
                dets[:, [1, 3]] += y0
                passes.append(_outside(dets, passes[0], self.score_threshold))
        if flip:
            mirrored = np.ascontiguousarray(image_rgb[:, ::-1])
            dets = np.asarray(self.model.detect_people(mirrored, min_score=floor), dtype=np.float64).reshape(-1, 5)
            dets[:, [0, 2]] = w - dets[:, [2, 0]]
            passes.append(dets)
        yield self.select(np.concatenate(passes), h)

    def select(self, dets_xyxys: np.ndarray, image_height: int) -> Boxes:
        """(K, 5) person boxes [x1, y1, x2, y2, score] -> confident boxes after NMS, or the fallback box."""
        if len(dets_xyxys) == 0:
            return _empty()
        xyxy, scores = dets_xyxys[:, :4], dets_xyxys[:, 4].astype(np.float64)
        boxes = np.concatenate([xyxy[:, :2], xyxy[:, 2:] - xyxy[:, :2]], axis=1)
        ok = (boxes[:, 2] > 1) & (boxes[:, 3] > 1)
        boxes, scores = boxes[ok], scores[ok]
        confident = scores >= self.score_threshold
        if confident.any():
            boxes, scores = boxes[confident], scores[confident]
            keep = nms(boxes, scores, self.nms_iou)
            return boxes[keep], scores[keep]
        tall = np.flatnonzero(
            (boxes[:, 3] >= self.fallback_min_height * image_height) & (scores >= self.fallback_threshold)
        )
        if len(tall) == 0:
            return _empty()
        best = tall[np.argmax(scores[tall])]
        return boxes[best : best + 1], scores[best : best + 1]


def _outside(dets_xyxys: np.ndarray, whole_xyxys: np.ndarray, min_score: float, within: float = 0.8) -> np.ndarray:
    """Tile boxes not lying mostly (``within`` of their area) inside a confident whole-frame box: a tile sees
    part of a large person as a person of its own, which NMS alone (IoU) does not remove."""
    whole = whole_xyxys[whole_xyxys[:, 4] >= min_score]
    if len(dets_xyxys) == 0 or len(whole) == 0:
        return dets_xyxys
    x1 = np.maximum(dets_xyxys[:, None, 0], whole[None, :, 0])
    y1 = np.maximum(dets_xyxys[:, None, 1], whole[None, :, 1])
    x2 = np.minimum(dets_xyxys[:, None, 2], whole[None, :, 2])
    y2 = np.minimum(dets_xyxys[:, None, 3], whole[None, :, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area = np.maximum((dets_xyxys[:, 2] - dets_xyxys[:, 0]) * (dets_xyxys[:, 3] - dets_xyxys[:, 1]), 1e-9)
    return dets_xyxys[(inter / area[:, None]).max(axis=1) < within]


class OnnxCenterNet:
    """The zoo's CenterNet exported once to ONNX (cached under a name keyed to its weights, checked against
    the PyTorch import on a real photo) and run by ONNX Runtime on one thread. Same speed as the importer,
    but one native call that releases the GIL for the whole pass, so a background detection never holds up
    the Python work of the frame path. :meth:`from_model` returns the PyTorch model when the check fails."""

    #: Largest disagreement allowed with the PyTorch import: box corners (input pixels) and scores.
    PIXEL_TOLERANCE = 0.5
    SCORE_TOLERANCE = 1e-3

    def __init__(self, path) -> None:
        from distilpose.inference.onnx_service import open_session

        self.session = open_session(path, threads=1)
        self.input_name = self.session.get_inputs()[0].name

    def raw(self, prepared: np.ndarray) -> np.ndarray:
        return self.session.run(None, {self.input_name: np.ascontiguousarray(prepared[None], np.float32)})[0]

    def detect_people(self, image: np.ndarray, min_score: float = 0.3) -> np.ndarray:
        from distilpose.zoo.centernet import letterbox, person_boxes

        prepared, transform = letterbox(image)
        h, w = np.asarray(image).shape[:2]
        return person_boxes(self.raw(prepared), transform, (w, h), min_score)

    @classmethod
    def from_model(cls, model):
        import torch

        from distilpose.inference.onnx_service import (
            cached_path,
            export_checked,
            weights_digest,
            write_torch_onnx,
        )
        from distilpose.resources import resources_root
        from distilpose.video import read_image
        from distilpose.zoo.centernet import INPUT_SIZE, letterbox

        path = cached_path("centernet", weights_digest(model))

        def write(tmp: str) -> None:
            write_torch_onnx(tmp, model, torch.zeros(1, INPUT_SIZE, INPUT_SIZE, 3), ["images"])

        def check(path) -> None:
            sample = resources_root() / "samples" / "astronaut.jpg"
            image = read_image(sample) if sample.is_file() else np.full((480, 640, 3), 128, np.uint8)
            prepared, _ = letterbox(image)
            with torch.inference_mode():
                reference = model(torch.from_numpy(prepared)[None]).numpy()
            got = cls(path).raw(prepared)
            same_class = np.array_equal(got[..., 5], reference[..., 5])
            boxes = float(np.abs(got[..., :4] - reference[..., :4]).max())
            scores = float(np.abs(got[..., 4] - reference[..., 4]).max())
            if not same_class or boxes > cls.PIXEL_TOLERANCE or scores > cls.SCORE_TOLERANCE:
                raise DistilPoseError(f"{path}: the detector's ONNX export disagrees with PyTorch")

        try:
            if not path.is_file():
                export_checked(path, write, check)
            return cls(path)
        except Exception:  # no ONNX for the detector: the PyTorch import is just as exact
            path.unlink(missing_ok=True)
            return model


def _inner_edges(x0: int, y0: int, side: int, width: int, height: int) -> list[tuple[int, float, bool]]:
    """(column of [x1, y1, x2, y2], coordinate in tile pixels, is inner) for a tile's four edges: an edge is
    inner when the tile does not reach the image border there."""
    return [
        (0, 0.0, x0 > 0),
        (1, 0.0, y0 > 0),
        (2, float(side), x0 + side < width),
        (3, float(side), y0 + side < height),
    ]


def box_from_keypoints(
    instance: Instance, min_score: float, min_points: int, pad: float, image_wh: tuple[int, int] | None
) -> tuple[np.ndarray, float] | None:
    """A box around the keypoints scoring at least ``min_score`` (None when fewer than ``min_points``),
    padded by ``pad`` of its size on each side and clipped to the image; with the mean score of those points."""
    scores = instance.scores if instance.scores is not None else np.ones(len(instance.keypoints))
    ok = (scores >= min_score) & (instance.keypoints[:, 2] > 0)
    if ok.sum() < min_points:
        return None
    pts = instance.keypoints[ok, :2]
    x0, y0 = pts.min(axis=0)
    x1, y1 = pts.max(axis=0)
    w, h = x1 - x0, y1 - y0
    x0, x1 = x0 - pad * w, x1 + pad * w
    y0, y1 = y0 - pad * h, y1 + pad * h
    if image_wh is not None:
        x0, x1 = max(0.0, x0), min(float(image_wh[0]), x1)
        y0, y1 = max(0.0, y0), min(float(image_wh[1]), y1)
    if x1 - x0 < 2 or y1 - y0 < 2:
        return None
    return np.array([x0, y0, x1 - x0, y1 - y0]), float(scores[ok].mean())


def multipose_people(graph, image_rgb: np.ndarray, size: int = 256) -> np.ndarray:
    """MoveNet MultiPose's raw ``(6, 56)`` output on ``image_rgb``: per slot 17 x (y, x, score), then ymin,
    xmin, ymax, xmax and the person score, all in 0..1 of the frame. The frame is resized so its longer side
    is ``size`` (both sides multiples of 32); the normalised coordinates undo the resize."""
    import torch

    h, w = image_rgb.shape[:2]
    scale = size / max(h, w)
    iw, ih = (max(32, int(round(v * scale / 32)) * 32) for v in (w, h))
    resized = cv2.resize(image_rgb, (iw, ih), interpolation=cv2.INTER_LINEAR).astype(np.int32)
    with torch.inference_mode():
        return graph(torch.from_numpy(resized)[None], outputs="Identity")[0].numpy()


class MultiPoseDetector:
    """Person boxes from the zoo's MoveNet MultiPose (up to 6 people, with their own box and score), as an
    alternative detector. The frame is resized so its longer side is ``size`` (both sides multiples of 32)."""

    name = "multipose"

    def __init__(self, graph, size: int = 256, score_threshold: float = 0.2) -> None:
        self.graph = graph
        self.size = size
        self.score_threshold = score_threshold

    @classmethod
    def from_cache(cls, **kwargs) -> MultiPoseDetector:
        from distilpose.zoo import load_graph

        return cls(load_graph("movenet-multipose").eval(), **kwargs)

    def detect(self, image_rgb: np.ndarray) -> Boxes:
        h, w = image_rgb.shape[:2]
        people = multipose_people(self.graph, image_rgb, self.size)
        boxes = people[:, 51:56].astype(np.float64)  # ymin, xmin, ymax, xmax (0..1 of the frame), score
        keep = boxes[:, 4] >= self.score_threshold
        ymin, xmin, ymax, xmax, score = (boxes[keep, i] for i in range(5))
        xywh = np.stack([xmin * w, ymin * h, (xmax - xmin) * w, (ymax - ymin) * h], axis=1)
        ok = (xywh[:, 2] > 1) & (xywh[:, 3] > 1)
        order = np.argsort(-score[ok], kind="stable")
        return xywh[ok][order], score[ok][order]


def merge_detections(
    tracked: Boxes, detected: Boxes, match_iou: float = 0.3, keep: np.ndarray | None = None
) -> tuple[Boxes, np.ndarray]:
    """Tracked people plus a detector's boxes, for the next pose pass.

    A detection overlapping a tracked box (IoU >= ``match_iou``) is that person: the detector's box replaces
    the tracked one (it resets drift), unless ``keep`` marks that tracked box as sound: a background detection
    was made on a frame some frames old, and a person tracked well since then is where the keypoints say, not
    where the detector saw them (a jumping man's box was pulled back to where he took off). A detection
    matching nobody is a person who entered. A tracked person the detector missed stays tracked (it dies when
    its keypoints are lost, see :class:`TrackFromKeypoints`). Returns the merged boxes and scores, and for each
    merged box the index of the tracked box it continues (-1: a new person), so an identity tracker can carry
    its ids over.
    """
    t_boxes, t_scores = (np.asarray(x, dtype=np.float64) for x in tracked)
    d_boxes, d_scores = (np.asarray(x, dtype=np.float64) for x in detected)
    t_boxes, d_boxes = t_boxes.reshape(-1, 4), d_boxes.reshape(-1, 4)
    origin = np.full(len(d_boxes), -1, dtype=int)
    if len(t_boxes) and len(d_boxes):
        iou = box_iou(d_boxes, t_boxes)
        for flat in np.argsort(-iou, axis=None, kind="stable"):  # greedy: best overlaps first
            d, t = divmod(int(flat), len(t_boxes))
            if iou[d, t] < match_iou:
                break
            if origin[d] < 0 and t not in origin:
                origin[d] = t
    missed = [t for t in range(len(t_boxes)) if t not in origin]
    if keep is not None and len(t_boxes):
        sound = (origin >= 0) & np.asarray(keep, dtype=bool)[np.maximum(origin, 0)]
        d_boxes, d_scores = d_boxes.copy(), d_scores.copy()
        d_boxes[sound], d_scores[sound] = t_boxes[origin[sound]], t_scores[origin[sound]]
    boxes = np.concatenate([d_boxes, t_boxes[missed]])
    scores = np.concatenate([d_scores, t_scores[missed]])
    return (boxes, scores), np.concatenate([origin, np.asarray(missed, dtype=int)])


def detection_passes(detector: PersonDetector, image_rgb: np.ndarray, extra: bool = True) -> Iterator[Boxes]:
    """The detector's boxes found so far after each of its passes (``detect_passes``), the last being all of
    them; a detector without passes yields its one result. ``extra=False``: its first pass alone."""
    passes = getattr(detector, "detect_passes", None)
    if passes is None:
        yield detector.detect(image_rgb)
    else:
        yield from (passes(image_rgb) if extra else passes(image_rgb, extra=False))


#: What a background detection hands over: its token, the boxes found so far, and whether they are final.
Finished = tuple[int, Boxes, bool]


class DetectionWorker:
    """Runs a detector on one frame at a time in a daemon thread, off the pose model's critical path.

    :meth:`submit` hands over a frame when the worker is idle; :meth:`take` returns the newest result not taken
    yet: the boxes of each pass as it ends (:func:`detection_passes`; a later one holds the earlier ones), the
    last marked final. The worker is busy until the last pass ends.
    Detectors here spend their time in PyTorch or ONNX Runtime kernels, which release the GIL.
    """

    def __init__(self, detector: PersonDetector) -> None:
        self.detector = detector
        self._cond = threading.Condition()
        self._job: tuple[int, np.ndarray, bool] | None = None
        self._done: tuple[int, Boxes | BaseException, bool] | None = None
        self._busy = False
        self._closed = False
        self.runs = 0
        self.last_ms = 0.0  # how long the last detection took (off the critical path)
        self._thread = threading.Thread(target=self._loop, name="person-detector", daemon=True)
        self._thread.start()

    @property
    def busy(self) -> bool:
        with self._cond:
            return self._busy

    def submit(self, image_rgb: np.ndarray, token: int, extra: bool = True) -> bool:
        """Detect on ``image_rgb`` in the background (``extra``: all the detector's passes, else its first);
        False (nothing queued) while a detection runs."""
        with self._cond:
            if self._busy or self._closed:
                return False
            self._busy = True
            self._job = (token, image_rgb, extra)
            self._cond.notify()
            return True

    def take(self) -> Finished | None:
        """The newest result not taken yet (token, boxes, final); re-raises a detector error here."""
        with self._cond:
            done, self._done = self._done, None
        if done is None:
            return None
        token, out, final = done
        if isinstance(out, BaseException):
            raise out
        return token, out, final

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the running detection finished (tests, warm-up); True when idle."""
        with self._cond:
            return self._cond.wait_for(lambda: not self._busy, timeout)

    def close(self, timeout: float = 10.0) -> None:
        """Stop the thread, letting a running detection finish (a thread killed mid-kernel aborts at exit)."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        if self._thread is not threading.current_thread():
            self._thread.join(timeout)

    def _loop(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._job is not None or self._closed)
                if self._closed:
                    return
                assert self._job is not None
                token, image, extra = self._job
                self._job = None
            start = time.perf_counter()
            out: Boxes | BaseException | None = None
            try:
                for out in detection_passes(self.detector, image, extra):
                    with self._cond:  # a pass ended: its boxes may be taken while the next one runs
                        self._done = (token, out, False)
            except BaseException as exc:  # handed to the pipeline's thread, which reports it
                out = exc
            with self._cond:
                self.runs += 1
                self.last_ms = (time.perf_counter() - start) * 1000.0
                self._done = (token, out if out is not None else _empty(), True)
                self._busy = False
                self._cond.notify_all()


class SteppedDetectionWorker:
    """:class:`DetectionWorker`'s schedule on a clock of processed frames instead of a thread: a detection
    runs when submitted, and each pass's boxes are handed over exactly ``pass_frames`` processed frames (calls
    of :meth:`take`, one a frame) after the previous pass's. The live schedule is then measured, and tested in
    the app, without the machine's load deciding when a detection lands (ADR 0020)."""

    def __init__(self, detector: PersonDetector, pass_frames: float) -> None:
        if pass_frames <= 0:
            raise ValueError("pass_frames must be > 0")
        self.detector = detector
        self.pass_frames = float(pass_frames)
        self.runs = 0
        self.last_ms = 0.0
        self._token = 0
        self._passes: list[Boxes] = []
        self._handed = 0  # passes taken so far
        self._frames = 0  # take() calls since the submit

    @property
    def busy(self) -> bool:
        return self._handed < len(self._passes)

    def submit(self, image_rgb: np.ndarray, token: int, extra: bool = True) -> bool:
        if self.busy:
            return False
        start = time.perf_counter()
        self._passes = list(detection_passes(self.detector, image_rgb, extra))
        self.last_ms = (time.perf_counter() - start) * 1000.0
        self._token, self._handed, self._frames = token, 0, 0
        return True

    def take(self) -> Finished | None:
        if not self.busy:
            return None
        self._frames += 1
        due = min(int(self._frames / self.pass_frames + 1e-9), len(self._passes))
        if due <= self._handed:
            return None
        self._handed = due
        final = due == len(self._passes)
        self.runs += final
        return self._token, self._passes[due - 1], final

    def wait(self, timeout: float | None = None) -> bool:
        return not self.busy

    def close(self) -> None:
        self._passes, self._handed = [], 0


class TrackFromKeypoints:
    """The live detection schedule: boxes from the previous frame's keypoints, merged with a detector's boxes
    every ``redetect_every`` processed frames (frames never shown to the model do not count), and as soon as
    a track is in trouble (:attr:`alarm`).

    Call :meth:`update` with each frame's predictions. A person is lost when fewer than ``min_points``
    keypoints score ``min_score``; when every person is lost, the next frame is detected again. A track is in
    trouble, and the next frame asks for a detection, when a person was lost, when its mean keypoint score
    falls below ``weak_score``, when its keypoints reach the frame's border (within ``edge`` of the image
    size: a person leaving or cut off), or when the box around its keypoints overlaps the box the pose ran
    on by less than ``drift_iou`` (the person moved fast, or the crop drifted off them). A box shrinks by at
    most ``min_shrink`` a frame: keypoints fading at the feet must not cut the next crop to a torso.

    ``tiles_every``: a periodic detection (not one asked for by trouble, nor the first of a stream) runs the
    detector's extra passes (the tiles of ``centernet-tiles``, the mirror of ``-flip``) only on every N-th
    time, its whole-frame pass always (ADR 0033): the tiles find small people who entered, which a
    whole-frame pass misses, at twice its cost.

    ``background=True`` (the app and ``bench --pipeline``) runs the periodic detections in a
    :class:`DetectionWorker`: the frame that triggers one is posed on its tracked boxes, and the detections
    are merged (:func:`merge_detections`) into the first frame processed after they finish, so no frame waits
    for the detector; a tiled detection's whole-frame pass is merged as soon as it ends, before its tiles.
    Only the first frame of a stream (after :meth:`reset`) is detected in line: a paused or sought frame has
    nothing to track from and must show its people. ``pass_frames`` (measurements and tests) puts the
    background detections on a clock of processed frames (:class:`SteppedDetectionWorker`).
    """

    def __init__(
        self,
        detector: PersonDetector,
        redetect_every: int = 10,
        pad: float = 0.15,
        min_score: float = 0.2,
        min_points: int = 4,
        background: bool = False,
        match_iou: float = 0.3,
        dedupe_iou: float = 0.6,
        weak_score: float = 0.4,
        edge: float = 0.01,
        drift_iou: float = 0.5,
        min_shrink: float = 0.85,
        pass_frames: float | None = None,
        tiles_every: int = 1,
    ) -> None:
        if redetect_every < 1 or tiles_every < 1:
            raise ValueError("redetect_every and tiles_every must be >= 1")
        self.tiles_every = tiles_every
        self.detector = detector
        self.name = f"tracking+{detector.name}"
        self.redetect_every = redetect_every
        self.pad = pad
        self.min_score = min_score
        self.min_points = min_points
        self.match_iou = match_iou
        self.dedupe_iou = dedupe_iou
        self.weak_score = weak_score
        self.edge = edge
        self.drift_iou = drift_iou
        self.min_shrink = min_shrink
        self.alarms: dict[str, int] = {}  # detections asked for early, by reason (stats, tests)
        self.detections = 0  # how many times the inner detector ran (for tests and stats)
        self.detection_ms: list[float] = []  # how long each of those detections took
        self.last_detected = False  # this frame's boxes include a detection
        self.last_origin: np.ndarray = np.zeros(0, dtype=int)  # see merge_detections; -1 everywhere on a fresh detection
        self._worker: DetectionWorker | SteppedDetectionWorker | None = None
        if background:
            self._worker = DetectionWorker(detector) if pass_frames is None else SteppedDetectionWorker(detector, pass_frames)
        self._generation = 0  # detections from before a reset are dropped
        self.reset()

    def reset(self) -> None:
        """Forget the tracks: the next frame is detected (call after a seek)."""
        self._boxes: np.ndarray | None = None
        self._scores: np.ndarray | None = None
        self._trouble: list[str | None] = []  # per tracked box: the trouble its person had on the last frame
        self._region: np.ndarray | None = None  # x0, y0, x1, y1 around the tracks that raised the alarm
        self._offset = (0, 0)  # where the running background detection's image sits in the frame
        self._given: list[str | None] = []  # per box handed out by detect(): that box's previous trouble
        #: Why a detection is due before the interval (a track in trouble); None when none is. Stays set
        #: until a detection is asked for, so a trouble seen while the detector is busy is not forgotten.
        self.alarm: str | None = None
        self._since = 0
        self._image_wh: tuple[int, int] | None = None
        self._fresh = True
        self._taken: Boxes | None = None  # the running detection's boxes merged as a pass's (not merged twice)
        self._periodic = 0  # periodic detections submitted since the reset (tiles_every counts them)
        self._generation += 1

    @property
    def worker(self) -> DetectionWorker | SteppedDetectionWorker | None:
        """The background detection thread (None when detections run in line)."""
        return self._worker

    def close(self) -> None:
        if self._worker is not None:
            self._worker.close()

    def _tracked(self) -> Boxes:
        if self._boxes is None:
            return _empty()
        assert self._scores is not None
        return self._boxes.copy(), self._scores.copy()

    def _merge(self, detected: Boxes) -> Boxes:
        sound = np.array([t is None for t in self._trouble], dtype=bool)
        merged, self.last_origin = merge_detections(self._tracked(), detected, self.match_iou, sound)
        self.last_detected = True
        self._boxes, self._scores = merged
        self._given = [self._trouble[o] if o >= 0 else None for o in self.last_origin]
        self._trouble = list(self._given)
        return merged[0].copy(), merged[1].copy()

    def detect(self, image_rgb: np.ndarray) -> Boxes:
        h, w = image_rgb.shape[:2]
        self._image_wh = (w, h)
        self.last_detected = False
        self.last_origin = np.arange(0 if self._boxes is None else len(self._boxes))
        self._given = list(self._trouble)
        lost = self._boxes is None or len(self._boxes) == 0
        due = lost or self._since >= self.redetect_every or self.alarm is not None
        worker = self._worker
        if worker is None or self._fresh:
            self._fresh = False
            if not due:
                self._since += 1
                return self._tracked()
            start = time.perf_counter()
            self._count_alarm()
            boxes, scores = self.detector.detect(image_rgb)
            self.detection_ms.append((time.perf_counter() - start) * 1000.0)
            self.detections += 1
            self._since = 1
            if lost:
                self.last_origin = np.full(len(boxes), -1, dtype=int)
                self.last_detected = True
                self._boxes, self._scores = np.asarray(boxes, np.float64), np.asarray(scores, np.float64)
                self._trouble = self._given = [None] * len(boxes)
                return self._tracked()
            return self._merge((boxes, scores))
        self._since += 1
        finished = worker.take()
        boxes = None
        if finished is not None and finished[0] == self._generation:
            _, found_scores, final = finished
            if final:  # the last pass: one detection done (the first pass's boxes may have come before)
                self.detections += 1
                self.detection_ms.append(worker.last_ms)
            if found_scores is not self._taken:  # boxes taken as a pass's are not merged again as the last's
                found, scores = found_scores
                found = np.asarray(found, dtype=np.float64).reshape(-1, 4) + [*self._offset, 0, 0]
                boxes = self._merge((found, scores))
                # A trouble seen before these boxes is judged again on this frame's poses (the alarm stays).
                due = self._since >= self.redetect_every
            self._taken = None if final else found_scores
        if due:
            # Late in the interval, a trouble brings the whole-frame detection forward instead: a local one
            # would hold the detector while the interval's (the only one that finds newcomers) falls due.
            whole = lost or 2 * self._since >= self.redetect_every or self._region is None
            if whole or not getattr(self.detector, "local_ok", False):
                image, offset = image_rgb, (0, 0)
            else:
                image, offset = _square_around(image_rgb, self._region)
            periodic = image is image_rgb and not lost and self.alarm is None
            extra = not periodic or self._periodic % self.tiles_every == 0
            if worker.submit(image, self._generation, extra):
                self._periodic += periodic
                self._offset = offset
                if image is image_rgb:
                    self._since = 1  # a local detection does not replace the interval's (newcomers elsewhere)
                self._count_alarm()
        return boxes if boxes is not None else self._tracked()

    def _count_alarm(self) -> None:
        if self.alarm is not None:
            self.alarms[self.alarm] = self.alarms.get(self.alarm, 0) + 1
        self.alarm = None
        self._region = None

    def _raise(self, reason: str, box) -> None:
        """Ask for a detection, around ``box`` (xywh: where the person in trouble was)."""
        self.alarm = self.alarm or reason
        if box is None:
            return
        x0, y0, w, h = (float(v) for v in box)
        r = np.array([x0, y0, x0 + w, y0 + h])
        if self._region is not None:
            r = np.r_[np.minimum(self._region[:2], r[:2]), np.maximum(self._region[2:], r[2:])]
        self._region = r

    def _trouble_of(self, inst: Instance, tight: np.ndarray, padded: np.ndarray) -> str | None:
        """Why this person's track needs the detector now (see the class docstring), or None."""
        scores = inst.scores if inst.scores is not None else np.ones(len(inst.keypoints))
        if float(np.mean(scores)) < self.weak_score:
            return "weak keypoints"
        if self._image_wh is not None:
            w, h = self._image_wh
            mx, my = self.edge * w, self.edge * h
            x0, y0, bw, bh = tight
            if x0 <= mx or y0 <= my or x0 + bw >= w - mx or y0 + bh >= h - my:
                return "at the border"
        if inst.bbox is not None and box_iou(padded, np.asarray(inst.bbox))[0, 0] < self.drift_iou:
            return "drift"
        return None

    def update(self, instances: Sequence[Instance]) -> None:
        """Take this frame's predictions as next frame's boxes; lost people are dropped, and of two tracks
        that converged on one person (IoU >= ``dedupe_iou``) the better scored stays. A track that gets into
        trouble raises :attr:`alarm`; one that stays in the same trouble (a person standing at the border,
        or always faint) does not ask again, the interval's detections cover it."""
        kept, troubles = [], []
        for i, inst in enumerate(instances):
            found = box_from_keypoints(inst, self.min_score, self.min_points, 0.0, None)
            if found is None:
                self._raise("lost", inst.bbox)
                continue
            tight, score = found
            padded = tight + self.pad * np.array([-tight[2], -tight[3], 2 * tight[2], 2 * tight[3]])
            trouble = self._trouble_of(inst, tight, padded)
            if trouble is not None and trouble != (self._given[i] if i < len(self._given) else None):
                self._raise(trouble, inst.bbox if inst.bbox is not None else padded)
            box = self._clip(self._no_collapse(padded, inst.bbox))
            if box is None:
                self._raise("lost", inst.bbox)
                continue
            kept.append((box, score))
            troubles.append(trouble)
        if not kept:
            self._boxes = self._scores = None
            self._trouble = []
            return
        boxes = np.array([b for b, _ in kept])
        scores = np.array([s for _, s in kept])
        keep = nms(boxes, scores, self.dedupe_iou) if len(boxes) > 1 else np.arange(len(boxes))
        keep = np.sort(keep)  # the pose model's order, so ids layered on top stay aligned
        self._boxes, self._scores = boxes[keep], scores[keep]
        self._trouble = [troubles[k] for k in keep]

    def _no_collapse(self, box: np.ndarray, ran: tuple[float, float, float, float] | None) -> np.ndarray:
        """``box`` no smaller than ``min_shrink`` of the box the pose ran on, about the same centre."""
        if ran is None:
            return box
        w = max(box[2], self.min_shrink * ran[2])
        h = max(box[3], self.min_shrink * ran[3])
        cx, cy = box[0] + box[2] / 2, box[1] + box[3] / 2
        return np.array([cx - w / 2, cy - h / 2, w, h])

    def _clip(self, box: np.ndarray) -> np.ndarray | None:
        x0, y0, x1, y1 = box[0], box[1], box[0] + box[2], box[1] + box[3]
        if self._image_wh is not None:
            x0, x1 = max(0.0, x0), min(float(self._image_wh[0]), x1)
            y0, y1 = max(0.0, y0), min(float(self._image_wh[1]), y1)
        if x1 - x0 < 2 or y1 - y0 < 2:
            return None
        return np.array([x0, y0, x1 - x0, y1 - y0])


def _square_around(image_rgb: np.ndarray, region: np.ndarray, grow: float = 1.6) -> tuple[np.ndarray, tuple[int, int]]:
    """A square crop around ``region`` (x0, y0, x1, y1), ``grow`` times its longer side (at least half the
    frame's shorter side, at most all of it), moved inside the frame; and its top-left corner. One detector
    pass on it costs a third of the tiled whole frame and sees the person in trouble larger."""
    h, w = image_rgb.shape[:2]
    side = int(min(max(grow * max(region[2] - region[0], region[3] - region[1]), 0.5 * min(w, h)), min(w, h)))
    cx, cy = (region[0] + region[2]) / 2, (region[1] + region[3]) / 2
    x0 = int(min(max(cx - side / 2, 0), w - side))
    y0 = int(min(max(cy - side / 2, 0), h - side))
    return np.ascontiguousarray(image_rgb[y0 : y0 + side, x0 : x0 + side]), (x0, y0)


DETECTOR_NAMES = DETECTORS  # the catalogue's (distilpose.inference.options), with their labels and help


def make_detector(
    name: str,
    *,
    user_boxes: Sequence[Sequence[float]] | np.ndarray = (),
    tracking: bool = False,
    redetect_every: int = 10,
    background: bool = False,
    pass_frames: float | None = None,
    tiles_every: int = 1,
) -> PersonDetector:
    """A detector by name ('auto' = tiled CenterNet when cached, else the full frame), optionally with tracking
    (``background``: periodic detections in their own thread, or on a clock of ``pass_frames`` processed
    frames a detector pass, see :class:`TrackFromKeypoints`)."""
    if name == "auto":  # the best person box AP on coco-mini-train within the frame budget (ADR 0010)
        name = "centernet-tiles" if CenterNetDetector.available() else "full-frame"
    if name in ("centernet", "centernet-tiles", "centernet-flip"):
        base: PersonDetector = CenterNetDetector.from_cache(tiles=name.endswith("-tiles"), flip=name.endswith("-flip"))
    elif name == "multipose":
        base = MultiPoseDetector.from_cache()
    elif name == "full-frame":
        base = FullFrame()
    elif name == "user-boxes":
        base = FixedBoxes(user_boxes)
    else:
        raise DistilPoseError(f"unknown detector {name!r}; choose from auto, {', '.join(DETECTOR_NAMES)}")
    if not tracking:
        return base
    return TrackFromKeypoints(
        base, redetect_every, background=background, pass_frames=pass_frames, tiles_every=tiles_every
    )
