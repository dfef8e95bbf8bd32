"""Top-down crop geometry (mmpose 0.x, non-UDP): box -> (center, scale) -> affine crop -> back-projection.

``scale`` is the crop size in units of ``pixel_std`` (200 px), as in mmpose 0.x, so (center, scale) pairs
computed here, by the official code and by checkpoints' evaluation tools all mean the same crop.
The affine matrices are built in closed form (a similarity: rotation + uniform scale + translation), which is
exactly what mmpose's three-point ``cv2.getAffineTransform`` construction produces, but vectorises over
many boxes for the live path.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

PIXEL_STD = 200.0


def box_to_center_scale(
    bbox_xywh: Sequence[float] | np.ndarray,
    aspect_ratio: float = 0.75,
    padding: float = 1.25,
    pixel_std: float = PIXEL_STD,
) -> tuple[np.ndarray, np.ndarray]:
    """One box ``[x, y, w, h]`` -> ``(center (2,), scale (2,))``.

    mmpose 0.x ``_xywh2cs``: centre = x + w/2, y + h/2; the box is grown (never shrunk) to ``aspect_ratio``
    (= W/H of the model input), divided by ``pixel_std`` and multiplied by ``padding``.
    """
    centers, scales = boxes_to_centers_scales(
        np.asarray(bbox_xywh, dtype=np.float64)[None, :4], aspect_ratio, padding, pixel_std
    )
    return centers[0], scales[0]


def boxes_to_centers_scales(
    boxes_xywh: np.ndarray,
    aspect_ratio: float = 0.75,
    padding: float = 1.25,
    pixel_std: float = PIXEL_STD,
) -> tuple[np.ndarray, np.ndarray]:
    """Vectorised :func:`box_to_center_scale` for ``(N, 4)`` boxes -> ``(N, 2), (N, 2)``."""
    boxes = np.asarray(boxes_xywh, dtype=np.float64)
    if boxes.ndim != 2 or boxes.shape[1] < 4:
        raise ValueError(f"boxes must have shape (N, 4) as [x, y, w, h], got {boxes.shape}")
    x, y, w, h = boxes[:, 0], boxes[:, 1], boxes[:, 2], boxes[:, 3]
    centers = np.stack([x + w * 0.5, y + h * 0.5], axis=1)
    wider = w > aspect_ratio * h
    taller = w < aspect_ratio * h
    h_fixed = np.where(wider, w / aspect_ratio, h)
    w_fixed = np.where(taller, h * aspect_ratio, w)
    scales = np.stack([w_fixed, h_fixed], axis=1) / pixel_std * padding
    return centers, scales


def get_affine_transforms(
    centers: np.ndarray,
    scales: np.ndarray,
    rots_deg: np.ndarray | float,
    output_size_wh: Sequence[int],
    shift: Sequence[float] = (0.0, 0.0),
    inv: bool = False,
    pixel_std: float = PIXEL_STD,
) -> np.ndarray:
    """``(N, 2, 3)`` image->crop matrices (or crop->image with ``inv``) for N boxes.

    Same map as mmpose 0.x ``get_affine_transform``: only ``scale[0]`` (the width) sets the zoom, the box
    centre (+ ``shift`` x box size) goes to the crop centre ``(W/2, H/2)``, and a positive ``rot`` turns the
    image content counter-clockwise in the crop (the source "up" direction is rotated by ``+rot``).
    """
    centers = np.asarray(centers, dtype=np.float64).reshape(-1, 2)
    scales = np.asarray(scales, dtype=np.float64).reshape(-1, 2)
    n = len(centers)
    rots = np.broadcast_to(np.asarray(rots_deg, dtype=np.float64), (n,))
    out_w, out_h = float(output_size_wh[0]), float(output_size_wh[1])
    src_size = scales * pixel_std
    src_center = centers + src_size * np.asarray(shift, dtype=np.float64)
    zoom = out_w / src_size[:, 0]
    rad = np.deg2rad(rots)
    cos, sin = np.cos(rad), np.sin(rad)
    # Linear part k·R with R = [[cos, sin], [-sin, cos]]: maps the rotated "up" vector back to crop-up.
    lin = np.empty((n, 2, 2))
    lin[:, 0, 0], lin[:, 0, 1] = cos, sin
    lin[:, 1, 0], lin[:, 1, 1] = -sin, cos
    dst_center = np.array([out_w * 0.5, out_h * 0.5])
    mats = np.empty((n, 2, 3))
    if inv:
        lin_inv = np.transpose(lin, (0, 2, 1)) / zoom[:, None, None]
        mats[:, :, :2] = lin_inv
        mats[:, :, 2] = src_center - np.einsum("nij,j->ni", lin_inv, dst_center)
    else:
        lin = lin * zoom[:, None, None]
        mats[:, :, :2] = lin
        mats[:, :, 2] = dst_center - np.einsum("nij,nj->ni", lin, src_center)
    return mats


def get_affine_transform(
    center: np.ndarray | Sequence[float],
    scale: np.ndarray | Sequence[float],
    rot_deg: float,
    output_size_wh: Sequence[int],
    shift: Sequence[float] = (0.0, 0.0),
    inv: bool = False,
    pixel_std: float = PIXEL_STD,
) -> np.ndarray:
    """The ``(2, 3)`` image->crop matrix (crop->image with ``inv``) of one box; see :func:`get_affine_transforms`."""
    return get_affine_transforms(
        np.asarray(center)[None], np.asarray(scale)[None], rot_deg, output_size_wh, shift, inv, pixel_std
    )[0]


def affine_points(points_xy: np.ndarray, mat: np.ndarray) -> np.ndarray:
    """Apply a ``(2, 3)`` matrix to ``(..., 2)`` points, or ``(N, 2, 3)`` matrices to ``(N, K, 2)`` points."""
    pts = np.asarray(points_xy, dtype=np.float64)
    mat = np.asarray(mat, dtype=np.float64)
    if pts.shape[-1] != 2:
        raise ValueError(f"points must have a last axis of 2 (x, y), got shape {pts.shape}")
    if mat.ndim == 2:
        return pts @ mat[:, :2].T + mat[:, 2]
    if mat.ndim == 3 and pts.ndim == 3 and len(mat) == len(pts):
        return np.einsum("nij,nkj->nki", mat[:, :, :2], pts) + mat[:, None, :, 2]
    raise ValueError(f"cannot apply matrices of shape {mat.shape} to points of shape {pts.shape}")


def crop_image(
    image: np.ndarray,
    center: np.ndarray | Sequence[float],
    scale: np.ndarray | Sequence[float],
    rot_deg: float,
    output_size_wh: Sequence[int],
    pixel_std: float = PIXEL_STD,
) -> np.ndarray:
    """The model-input crop of one box (``cv2.warpAffine``, bilinear, black border), as mmpose TopDownAffine."""
    mat = get_affine_transform(center, scale, rot_deg, output_size_wh, pixel_std=pixel_std)
    return cv2.warpAffine(
        image, mat, (int(output_size_wh[0]), int(output_size_wh[1])), flags=cv2.INTER_LINEAR
    )


def crop_images(
    image: np.ndarray,
    centers: np.ndarray,
    scales: np.ndarray,
    rots_deg: np.ndarray | float,
    output_size_wh: Sequence[int],
    pixel_std: float = PIXEL_STD,
) -> np.ndarray:
    """Crops of N boxes from one image -> ``(N, H, W, C)`` (matrices built in one vectorised call)."""
    mats = get_affine_transforms(centers, scales, rots_deg, output_size_wh, pixel_std=pixel_std)
    out_w, out_h = int(output_size_wh[0]), int(output_size_wh[1])
    shape = (len(mats), out_h, out_w) + tuple(image.shape[2:])
    crops = np.empty(shape, dtype=image.dtype)
    for i, mat in enumerate(mats):
        crops[i] = cv2.warpAffine(image, mat, (out_w, out_h), flags=cv2.INTER_LINEAR).reshape(shape[1:])
    return crops


def crops_to_images(
    coords: np.ndarray,
    centers: np.ndarray,
    scales: np.ndarray,
    output_size_wh: Sequence[float],
    rots_deg: np.ndarray | float | None = None,
    pixel_std: float = PIXEL_STD,
) -> np.ndarray:
    """Back-project ``(N, K, 2)`` crop-pixel coords of N boxes to image pixels.

    Without rotation this is mmpose 0.x non-UDP ``transform_preds`` (separate x/y zoom):
    ``X = x·(s_x·200/W) + c_x − s_x·100`` and likewise for y with H. ``output_size_wh`` is the size of the
    frame the coords live in: the input (192, 256) for regression students, the heatmap (48, 64) for
    teachers. With a non-zero rotation the exact inverse affine is used instead (``transform_preds`` has no
    rotation); both agree when the box has the crop's aspect ratio, as :func:`box_to_center_scale` ensures.
    """
    pts = np.asarray(coords, dtype=np.float64)
    centers = np.asarray(centers, dtype=np.float64).reshape(-1, 2)
    scales = np.asarray(scales, dtype=np.float64).reshape(-1, 2)
    if pts.ndim != 3 or pts.shape[-1] != 2 or len(pts) != len(centers):
        raise ValueError(f"coords must have shape (N, K, 2) with N={len(centers)}, got {pts.shape}")
    rots = np.zeros(len(centers)) if rots_deg is None else np.broadcast_to(rots_deg, (len(centers),))
    out = np.empty_like(pts)
    plain = rots == 0
    if plain.any():
        size = scales[plain] * pixel_std  # (M, 2)
        zoom = size / np.asarray(output_size_wh, dtype=np.float64)
        out[plain] = pts[plain] * zoom[:, None, :] + (centers[plain] - size * 0.5)[:, None, :]
    if (~plain).any():
        mats = get_affine_transforms(
            centers[~plain], scales[~plain], rots[~plain], output_size_wh, inv=True, pixel_std=pixel_std
        )
        out[~plain] = affine_points(pts[~plain], mats)
    return out


def crop_to_image(
    coords_in_crop_px: np.ndarray,
    center: np.ndarray | Sequence[float],
    scale: np.ndarray | Sequence[float],
    output_size_wh: Sequence[float],
    rot_deg: float = 0.0,
    pixel_std: float = PIXEL_STD,
) -> np.ndarray:
    """Back-project ``(K, 2)`` crop-pixel coords of one box to image pixels; see :func:`crops_to_images`."""
    pts = np.asarray(coords_in_crop_px, dtype=np.float64)
    centers = np.asarray(center, dtype=np.float64)[None]
    scales = np.asarray(scale, dtype=np.float64)[None]
    return crops_to_images(pts[None], centers, scales, output_size_wh, rot_deg, pixel_std)[0]
