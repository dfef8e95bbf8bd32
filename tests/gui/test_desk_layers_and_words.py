"""Issue 25, items 5 and 7: on a project frame the stored people are the editable layer and live predictions a
separate, dimmed layer that is off by default; captions never cover each other on a crowded frame; one set of
status words with a legend; people named the same way in the docks and on the canvas; plurals; the status
bar's live figures start again with each source."""

from __future__ import annotations

import itertools

import numpy as np

from distilpose.app.canvas import LIVE_OVER_PROJECT_OPACITY
from distilpose.app.docks.instances_dock import NAME_COL, STATUS_COL
from distilpose.app.live import LiveStats
from distilpose.types import Instance

from .conftest import PERSON_A, wait_idle


def _person(dx: float = 0.0, dy: float = 0.0, track: int | None = None, source: str = "student") -> Instance:
    kp = PERSON_A.copy()
    kp[:, 0] += dx
    kp[:, 1] += dy
    kp[:, 2] = 2
    return Instance(
        keypoints=kp,
        scores=np.linspace(0.3, 0.9, 17),
        score=0.8 if source != "user" else None,
        source=source,
        track_id=track,
    )


def _store(win, *people: Instance) -> list[int]:
    ids = [win.state.project.add_instance(win.state.frame_id, p) for p in people]
    win.state.reload_instances()
    win.state.refresh_frames()
    return ids


def _live_result(qtbot, win) -> None:
    win.live.set_enabled(True)
    qtbot.waitUntil(lambda: win.state.prediction is not None, timeout=20_000)
    wait_idle(qtbot, win.state)


# ------------------------------------------------------------------------------------------- item 5
def test_live_predictions_are_a_separate_dimmed_layer_off_by_default_on_a_project_frame(
    qtbot, project_window
) -> None:
    win, state, canvas = project_window, project_window.state, project_window.canvas
    _store(win, _person(source="user"))
    _live_result(qtbot, win)
    assert state.prediction.instances  # the model found the figure...
    assert canvas.live_layer_mode() == "hidden" and canvas.prediction_layer is None  # ...but one skeleton shows
    assert [len(item.keypoints) for item in canvas.instance_items] == [17]
    assert not win.live_layer_action.isChecked() and not win.model_panel.live_layer_box.isChecked()

    win.live_layer_action.trigger()  # View > Live Predictions Over Project (L)
    layer = canvas.prediction_layer
    assert canvas.live_layer_mode() == "dimmed" and layer is not None and layer.keypoints
    assert layer.opacity() == LIVE_OVER_PROJECT_OPACITY
    assert layer.zValue() < min(item.zValue() for item in canvas.instance_items)  # behind the editable people
    assert win.model_panel.live_layer_box.isChecked()  # the panel's toggle says the same

    win.model_panel.live_layer_box.setChecked(False)
    assert canvas.prediction_layer is None and not win.live_layer_action.isChecked()


def test_live_predictions_off_the_project_are_drawn_as_usual(qtbot, live_window, figure_files) -> None:
    win = live_window
    assert win.open_image(figure_files.image)
    _live_result(qtbot, win)
    layer = win.canvas.prediction_layer
    assert win.canvas.live_layer_mode() == "normal" and layer is not None and layer.opacity() == 1.0


def _disjoint(rects) -> list[tuple[int, int]]:
    return [(i, j) for (i, a), (j, b) in itertools.combinations(enumerate(rects), 2) if a.intersects(b)]


def test_captions_never_overlap_on_a_crowded_frame(qtbot, project_window) -> None:
    win, canvas = project_window, project_window.canvas
    # twelve people standing in a tight group: predictions (accept caption + name) and placed people (name)
    people = [
        _person(6 * i, 3 * (i % 3), track=i + 1, source="student" if i % 2 else "user") for i in range(12)
    ]
    _store(win, *people)
    _live_result(qtbot, win)
    win.live_layer_action.trigger()  # the live layer's captions too
    tags = canvas.caption_items()
    assert len(tags) == 12 + 6 + len(canvas.prediction_layer.track_tags)
    texts = {t.text() for t in tags}
    assert {"track 1", "track 12"} <= texts
    for zoom in (None, 2.0, 0.5):
        if zoom is not None:
            canvas.zoom_by(zoom)
        rects = [canvas.caption_rect(t) for t in canvas.caption_items()]
        assert _disjoint(rects) == [], f"overlapping captions at zoom {canvas.zoom():.2f}"
    canvas.fit_to_window()
    win.resize(700, 500)  # a smaller window: the fit zoom changes, the captions are laid out again
    qtbot.waitUntil(lambda: canvas.viewport().width() < 500)
    assert _disjoint([canvas.caption_rect(t) for t in canvas.caption_items()]) == []
