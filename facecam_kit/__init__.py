"""facecam-kit: a notebook-first kit for camera control in portrait videos."""

__version__ = "0.1.0"
