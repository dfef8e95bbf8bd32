"""Render the app icon SVG to the 256x256 PNG that the desktop entry installs (icon themes want raster sizes).

``python packaging/render_icon.py [OUT.png] [SIZE]``; rerun when ``resources/icons/distilpose-studio.svg``
changes. Uses Qt's own SVG renderer, so no extra tool (Inkscape, rsvg) is needed.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SVG = ROOT / "resources" / "icons" / "distilpose-studio.svg"
PNG = ROOT / "packaging" / "distilpose-studio.png"
SIZE = 256


def render(svg: Path, out: Path, size: int = SIZE) -> Path:
    """Draw ``svg`` onto a transparent ``size`` x ``size`` image and save it as PNG."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QGuiApplication, QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    _app = QGuiApplication.instance() or QGuiApplication(sys.argv[:1])  # QPainter needs one
    renderer = QSvgRenderer(str(svg))
    if not renderer.isValid():
        raise SystemExit(f"{svg}: not a valid SVG")
    image = QImage(size, size, QImage.Format.Format_ARGB32)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    renderer.render(painter)
    painter.end()
    if not image.save(str(out), "PNG"):
        raise SystemExit(f"{out}: cannot write the PNG")
    return out


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else PNG
    print(render(SVG, target, int(sys.argv[2]) if len(sys.argv) > 2 else SIZE))
