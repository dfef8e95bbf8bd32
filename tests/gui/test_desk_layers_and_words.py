"""Issue 25, items 5 and 7: on a project frame the stored people are the editable layer and live predictions a
separate, dimmed layer that is off by default; captions never cover each other on a crowded frame; one set of
status words with a legend; people named the same way in the docks and on the canvas; plurals; the status
bar's live figures start again with each source."""

from __future__ import annotations

import itertools

import numpy as np

from distilpose.app.annotate.instances_dock import NAME_COL
from distilpose.app.live.controller import LiveStats
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
    from distilpose.app.canvas import LIVE_OVER_PROJECT_OPACITY

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


# ------------------------------------------------------------------------------------------- item 7
def test_frames_and_people_share_one_status_vocabulary_with_a_legend(project_window) -> None:
    win = project_window
    _store(win, _person(source="student"), _person(40, source="user"))
    statuses = {r.status for r in win.instances_dock.rows}
    assert statuses == {"to check", "labelled"}
    assert win.frame_list.model.rows[0].status == "to check"  # the frame's least-checked person
    for legend in (win.instances_dock.legend_label, win.frame_list.legend_label):
        assert legend.isVisibleTo(win)
        for word in ("to check", "labelled", "verified"):
            assert f">{word}</span>" in legend.text()
        assert "accepting verifies" in legend.toolTip()
    assert "least-checked" in win.frame_list.legend_label.toolTip()
    assert win.instances_label.text() == "2 people (1 to check) · autosaved"


def test_people_are_named_alike_in_the_dock_and_on_the_canvas(project_window) -> None:
    win = project_window
    _store(win, _person(track=3, source="user"), _person(60, source="user"))
    titles = [win.instances_dock.tree.topLevelItem(i).text(NAME_COL).split(" · ")[0] for i in range(2)]
    assert titles == ["track 3", "person 1"]
    captions = [item.track_tag.text() for item in win.canvas.instance_items]
    assert captions == titles
    review = win.review_queue  # low-confidence keypoints name their person the same way
    review.set_queue("confidence")
    review.refresh()
    people = {review.table.item(r, 1).text() for r in range(review.table.rowCount())}
    assert people == {"track 3", "person 1"}


def test_a_still_image_shows_no_track_caption(qtbot, live_window, figure_files) -> None:
    win = live_window
    assert win.open_image(figure_files.image)
    _live_result(qtbot, win)
    [person] = win.state.prediction.instances
    assert person.track_id is not None  # the tracker numbers everyone...
    assert win.canvas.prediction_layer.track_tags == []  # ...but a still image has no tracks to show
    assert win.canvas.prediction_layer.track_boxes == []


def test_one_step_is_one_step(qtbot) -> None:
    from distilpose.app.jobs.distil_dialog import DistilDialog

    dialog = DistilDialog(lambda *_: "", data=(12, 4), cuda=False)
    qtbot.addWidget(dialog)
    dialog.steps_spin.setValue(1)
    assert "for 1 step of" in dialog.estimate_label.text()
    dialog.steps_spin.setValue(2)
    assert "for 2 steps of" in dialog.estimate_label.text()


def test_live_figures_start_again_with_each_source(qtbot, live_window, small_video, figure_files) -> None:
    win = live_window
    assert win.open_video(small_video)
    _live_result(qtbot, win)
    win.live.worker.counters.dropped += 116  # frames the model could not keep up with on the video
    win.go_to_frame(3)
    qtbot.waitUntil(lambda: "dropped 116" in win.live_label.text(), timeout=20_000)
    assert win.open_image(figure_files.image)
    assert win.live.stats == LiveStats()  # at once: nothing of the video is left
    wait_idle(qtbot, win.state)
    qtbot.waitUntil(lambda: win.live.stats.processed == 1, timeout=20_000)
    assert "dropped 0" in win.live_label.text()


# ------------------------------------------------------------------------------------------- item 9
def test_the_panel_lists_untrained_models_apart(live_window) -> None:
    from distilpose.app.live.model_panel import CHECKPOINT_ITEM, UNTRAINED_HEADER
    from distilpose.models import has_trained_weights, list_models

    for combo in (live_window.model_panel.model_combo, live_window.model_panel.teacher_combo):
        data = [combo.itemData(i) for i in range(combo.count())]
        header = data.index(UNTRAINED_HEADER)
        assert not combo.model().item(header).isEnabled()
        main = [d for d in data[:header] if d]
        apart = [d for d in data[header + 1 :] if d and d != CHECKPOINT_ITEM]
        assert main and all(has_trained_weights(n) for n in main)
        assert apart and not any(has_trained_weights(n) for n in apart)
        assert sorted(main + apart) == list_models()
        assert all("not trained" in combo.itemText(data.index(n)) for n in apart)


def test_the_panel_says_why_this_model_runs(window, figure_files, small_video) -> None:
    panel = window.model_panel
    assert window.open_image(figure_files.image)
    assert panel.reason_label.text().startswith("the default for stills")
    assert window.open_video(small_video)
    assert panel.reason_label.text().startswith("the default for video")
    other = next(i for i in range(panel.model_combo.count()) if panel.model_combo.itemData(i) == "distilpose-t")
    panel.model_combo.setCurrentIndex(other)
    assert panel.reason_label.text() == "your pick"
    assert window.open_image(figure_files.image)
    assert panel.reason_label.text() == "your pick"  # a pick outlives the source


def test_switching_models_clears_the_old_skeletons_at_once(qtbot, live_window, figure_files) -> None:
    win = live_window
    assert win.open_image(figure_files.image)
    _live_result(qtbot, win)
    assert win.canvas.prediction_layer is not None
    panel = win.model_panel
    panel.model_combo.setCurrentIndex(panel.model_combo.findData("distilpose-s"))
    # before the event loop runs again (the new model loads in the worker): the old model's people are gone
    assert win.state.prediction is None and win.canvas.prediction_layer is None
    assert panel.status_label.text() == "Loading distilpose-s…"
    qtbot.waitUntil(lambda: "loading distilpose-s" in win.live_label.text() or win.state.prediction is not None)
    wait_idle(qtbot, win.state)
    assert win.state.prediction is not None  # the new model's result
