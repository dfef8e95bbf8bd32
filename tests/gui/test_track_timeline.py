"""The track timeline under the video: a bar per track in the canvas' colours, keyframes and verified people
marked, the shown frame and the selected track visible, a click shows that frame and person, and it follows
every change of the store (issue 25)."""

from __future__ import annotations

from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QColor

from distilpose.app.annotate.track_timeline import BACKGROUND, HIGHLIGHT, MARGIN_PX
from distilpose.app.live.overlays import track_color

from .test_tracks_gui import _people, _select


def _pixel(widget, x: float, y: float) -> QColor:
    image = widget.grab().toImage()
    return image.pixelColor(int(round(x)), int(round(y)))


def _close(a: QColor, b: QColor, tol: int = 40) -> bool:
    return abs(a.red() - b.red()) + abs(a.green() - b.green()) + abs(a.blue() - b.blue()) <= tol


def _row_centre(timeline, row: int) -> float:
    return MARGIN_PX + (row + 0.5) * timeline._row_px()


def test_the_timeline_draws_each_track_and_jumps_on_click(qtbot, project_window, small_video, tmp_path):
    win, state = project_window, project_window.state
    timeline = win.track_timeline
    assert not timeline.isVisible()  # an image, no tracks
    assert win.editor.add_video_frames(small_video, 1)
    media = state.current_media_id()
    _people(win, media, {1: 0.0})  # track 1 on all 12 frames
    _people(win, media, {2: 80.0}, frames=range(2, 6))  # track 2 on frames 2-5
    store = state.project
    for f in (0, 8):  # two verified keyframes of track 1
        [one] = [p for p in store.instances(store.frame_at(media, f).id) if p.track_id == 1]
        store.set_verified(one.extras["id"], True)
    state.refresh_frames()
    qtbot.waitUntil(lambda: timeline.isVisible() and timeline.tracks == [1, 2])
    assert timeline.timeline.marks[1][0] == "verified" and timeline.timeline.marks[1][3] == "keyframe"
    # under the video, above the transport bar, every row in sight
    qtbot.waitUntil(lambda: timeline.geometry().bottom() < win.transport.geometry().top())
    assert (
        timeline.geometry().top() > win.canvas.geometry().bottom()
        and timeline.height() == 2 * 14 + 2 * MARGIN_PX
    )
    win.grab().save(str(tmp_path / "timeline-window.png"))

    # a bar in the track's colour where the track is, the background where it is not
    y1, y2 = _row_centre(timeline, 0), _row_centre(timeline, 1)
    bar = _pixel(timeline, timeline.x_of(6) - 2, y1 + 2)
    assert bar.hue() == track_color(1).hue() or abs(bar.hue() - track_color(1).hue()) <= 8
    assert abs(_pixel(timeline, timeline.x_of(3), y2 + 2).hue() - track_color(2).hue()) <= 8
    assert _close(_pixel(timeline, timeline.x_of(9), y2), BACKGROUND)
    assert _close(_pixel(timeline, timeline.x_of(8), y1), QColor(255, 255, 255))  # verified: a white diamond

    # a click on track 2 at frame 4 shows frame 4 and selects that person; its row is highlighted
    qtbot.mouseClick(timeline, Qt.MouseButton.LeftButton, pos=QPoint(round(timeline.x_of(4)), round(y2)))
    assert state.frame_index == 4 and timeline.selected_track() == 2
    x_gutter = 2
    assert not _close(_pixel(timeline, x_gutter, y2 - 4), BACKGROUND, tol=10)  # highlighted
    assert _close(_pixel(timeline, x_gutter, y1 - 4), BACKGROUND, tol=10)
    assert HIGHLIGHT.alpha() < 255
    playhead = _pixel(timeline, timeline.x_of(4), 1)
    assert playhead.red() > 180 and playhead.green() < 90  # the shown frame

    # it follows the store: a split shows a third track, its undo takes it away again
    _select(win, 9, 1)
    win.tracks.split_action.trigger()
    assert timeline.tracks == [1, 2, 3] and sorted(timeline.timeline.marks[3]) == [9, 10, 11]
    win.project.undo_action.trigger()
    assert timeline.tracks == [1, 2]
    win.project.close_project()
    assert not timeline.isVisible()
