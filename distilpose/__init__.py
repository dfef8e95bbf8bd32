"""DistilPose Studio library: schema, models, codecs, losses, data, evaluation, inference (no Qt)."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("distilpose-studio")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0+unknown"
