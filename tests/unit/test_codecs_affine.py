"""Crop geometry: box -> (center, scale), affine matrices, crops and back-projection (hand-computed values)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from distilpose.codecs import (
    affine_points,
    box_to_center_scale,
    boxes_to_centers_scales,
    crop_image,
    crop_images,
    crop_to_image,
    crops_to_images,
    decode_regression,
    encode_regression,
    get_affine_transform,
    get_affine_transforms,
)


def test_box_to_center_scale_tall_box_is_widened():
    # [10, 20, 60, 100]: centre (40, 70); 60 < 0.75*100 -> w = 75; scale = [75, 100] / 200 * 1.25.
    center, scale = box_to_center_scale([10, 20, 60, 100])
    np.testing.assert_allclose(center, [40.0, 70.0])
    np.testing.assert_allclose(scale, [0.46875, 0.625])


def test_box_to_center_scale_wide_box_is_heightened():
    # [0, 0, 200, 100]: 200 > 75 -> h = 200 / 0.75 = 266.67; scale = [1.0, 1.3333] * 1.25.
    center, scale = box_to_center_scale([0, 0, 200, 100])
    np.testing.assert_allclose(center, [100.0, 50.0])
    np.testing.assert_allclose(scale, [1.25, 5.0 / 3.0])


def test_boxes_to_centers_scales_matches_single_box_version():
    boxes = np.array([[10, 20, 60, 100], [0, 0, 200, 100], [5, 5, 75, 100]], dtype=float)
    centers, scales = boxes_to_centers_scales(boxes)
    for i, box in enumerate(boxes):
        c, s = box_to_center_scale(box)
        np.testing.assert_allclose(centers[i], c)
        np.testing.assert_allclose(scales[i], s)
    # an exact 3:4 box is only padded
    np.testing.assert_allclose(scales[2], [75 / 200 * 1.25, 100 / 200 * 1.25])


def test_affine_transform_hand_values_without_rotation():
    # a 192x256 px box centred at (100, 100): pure translation by (96-100, 128-100)
    mat = get_affine_transform([100, 100], [0.96, 1.28], 0, (192, 256))
    np.testing.assert_allclose(mat, [[1, 0, -4], [0, 1, 28]], atol=1e-12)
    # half the box size -> zoom 2 about the centre
    mat = get_affine_transform([100, 100], [0.48, 0.64], 0, (192, 256))
    np.testing.assert_allclose(mat, [[2, 0, -104], [0, 2, -72]], atol=1e-12)


def test_affine_transform_rotation_turns_content_counter_clockwise():
    # rot 90: the image point 50 px above the centre lands 50 px LEFT of the crop centre (96, 128)
    mat = get_affine_transform([100, 100], [0.96, 1.28], 90, (192, 256))
    np.testing.assert_allclose(affine_points(np.array([[100.0, 50.0]]), mat), [[46.0, 128.0]], atol=1e-9)
    np.testing.assert_allclose(affine_points(np.array([[150.0, 100.0]]), mat), [[96.0, 78.0]], atol=1e-9)


def _three_point_affine(center, scale, rot, out_wh, inv=False):
    """mmpose 0.x's construction, written out independently: map 3 points with cv2.getAffineTransform."""
    src_w = scale[0] * 200.0
    r = np.deg2rad(rot)
    src_dir = np.array([src_w * -0.5 * -np.sin(r), src_w * -0.5 * np.cos(r)])
    dst_dir = np.array([0.0, out_wh[0] * -0.5])
    src = np.zeros((3, 2), np.float32)
    dst = np.zeros((3, 2), np.float32)
    src[0] = center
    src[1] = np.asarray(center) + src_dir
    dst[0] = [out_wh[0] * 0.5, out_wh[1] * 0.5]
    dst[1] = dst[0] + dst_dir
    for pts in (src, dst):
        d = pts[0] - pts[1]
        pts[2] = pts[1] + np.array([-d[1], d[0]])
    return cv2.getAffineTransform(dst, src) if inv else cv2.getAffineTransform(src, dst)


@pytest.mark.parametrize("rot", [0.0, 30.0, -73.5, 90.0])
@pytest.mark.parametrize("inv", [False, True])
def test_affine_transform_matches_three_point_construction(rot, inv):
    center, scale = np.array([321.5, 210.25]), np.array([1.1, 1.4666667])
    ours = get_affine_transform(center, scale, rot, (192, 256), inv=inv)
    ref = _three_point_affine(center, scale, rot, (192, 256), inv=inv)
    np.testing.assert_allclose(ours, ref, rtol=1e-4, atol=2e-3)  # the reference runs in float32


def test_inverse_matrix_inverts_forward():
    fwd = get_affine_transform([50, 60], [0.7, 0.9333], 25, (192, 256))
    inv = get_affine_transform([50, 60], [0.7, 0.9333], 25, (192, 256), inv=True)
    pts = np.array([[0.0, 0.0], [191.0, 255.0], [17.3, 99.9]])
    np.testing.assert_allclose(affine_points(affine_points(pts, fwd), inv), pts, atol=1e-9)


def test_transform_preds_hand_values():
    # X = x * (0.96*200/192) + 100 - 96 = x + 4 ; Y = y * (1.28*200/256) + 100 - 128 = y - 28
    out = crop_to_image(np.array([[0.0, 0.0], [96.0, 128.0]]), [100, 100], [0.96, 1.28], (192, 256))
    np.testing.assert_allclose(out, [[4.0, -28.0], [100.0, 100.0]])
    # from a 48x64 heatmap: 4 image px per heatmap px
    out = crop_to_image(np.array([[1.0, 1.0]]), [100, 100], [0.96, 1.28], (48, 64))
    np.testing.assert_allclose(out, [[8.0, -24.0]])


@pytest.mark.parametrize("rot", [0.0, 37.0, -120.0])
def test_back_projection_inverts_the_crop(rot):
    center, scale = box_to_center_scale([120.46, 133.32, 212.31, 498.58])
    pts = np.array([[281.0, 240.0], [138.0, 377.0], [178.0, 616.0], [300.5, 150.25]])
    mat = get_affine_transform(center, scale, rot, (192, 256))
    back = crop_to_image(affine_points(pts, mat), center, scale, (192, 256), rot_deg=rot)
    np.testing.assert_allclose(back, pts, atol=1e-9)


def test_batched_back_projection_matches_single_and_mixes_rotations():
    boxes = np.array([[10, 20, 60, 100], [0, 0, 200, 100], [40, 30, 90, 90]], dtype=float)
    centers, scales = boxes_to_centers_scales(boxes)
    rots = np.array([0.0, 15.0, -40.0])
    pts = np.random.default_rng(0).uniform(0, 200, size=(3, 5, 2))
    mats = get_affine_transforms(centers, scales, rots, (192, 256))
    crop_pts = affine_points(pts, mats)
    back = crops_to_images(crop_pts, centers, scales, (192, 256), rots)
    np.testing.assert_allclose(back, pts, atol=1e-9)
    for i in range(3):
        single = crop_to_image(crop_pts[i], centers[i], scales[i], (192, 256), rot_deg=rots[i])
        np.testing.assert_allclose(back[i], single, atol=1e-12)


def test_crop_image_samples_the_mapped_pixels():
    rng = np.random.default_rng(1)
    image = rng.integers(0, 256, size=(300, 320, 3), dtype=np.uint8)
    # integer translation (-54, -22): crop[y, x] == image[y + 22, x + 54] exactly
    crop = crop_image(image, [150, 150], [0.96, 1.28], 0, (192, 256))
    assert crop.shape == (256, 192, 3)
    np.testing.assert_array_equal(crop, image[22 : 22 + 256, 54 : 54 + 192])


def test_crop_images_matches_crop_image():
    rng = np.random.default_rng(2)
    image = rng.integers(0, 256, size=(200, 240, 3), dtype=np.uint8)
    centers = np.array([[100.0, 90.0], [60.5, 150.25]])
    scales = np.array([[0.5, 0.6667], [0.9, 1.2]])
    rots = np.array([0.0, 30.0])
    crops = crop_images(image, centers, scales, rots, (192, 256))
    assert crops.shape == (2, 256, 192, 3)
    for i in range(2):
        np.testing.assert_array_equal(crops[i], crop_image(image, centers[i], scales[i], rots[i], (192, 256)))


def test_regression_encode_hand_values():
    kp = np.array(
        [
            [96.0, 128.0, 2],  # centre
            [191.0, 0.0, 1],  # last column, first row: inside, occluded still counts
            [192.0, 10.0, 2],  # x > W-1: outside
            [-0.5, 10.0, 2],  # x < 0: outside
            [50.0, 50.0, 0],  # unlabelled
            [10.0, 255.0, 2],  # last row: inside
            [10.0, 255.5, 2],  # below the last row: outside
        ]
    )
    coords, weights = encode_regression(kp, (192, 256))
    np.testing.assert_allclose(coords[0], [0.5, 0.5])
    np.testing.assert_allclose(coords[1], [191 / 192, 0.0], rtol=1e-6)
    np.testing.assert_array_equal(weights, [1, 1, 0, 0, 0, 1, 0])
    assert coords.dtype == np.float32 and weights.dtype == np.float32
    np.testing.assert_allclose(decode_regression(coords[:2], (192, 256)), kp[:2, :2], atol=1e-4)


def test_bad_shapes_raise_clear_errors():
    with pytest.raises(ValueError, match=r"\(N, 4\)"):
        boxes_to_centers_scales(np.zeros((3, 3)))
    with pytest.raises(ValueError, match="last axis of 2"):
        affine_points(np.zeros((4, 3)), np.eye(2, 3))
    with pytest.raises(ValueError, match=r"\(K, 3\)"):
        encode_regression(np.zeros((17, 2)))
