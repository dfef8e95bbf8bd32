"""DistilPose Studio, the PySide6 desktop app (installed as ``distilpose.app``)."""

from distilpose.app import compat as _compat

_compat.apply()
