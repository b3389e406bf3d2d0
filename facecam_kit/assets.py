"""The bundled sample files in ``data_samples/``: where they live and how to load them.

How our own code makes them is in :mod:`facecam_kit.data.samples` (notebook 02 uses the portrait
first); ``data_samples/README.md`` records their provenance.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

DATA_DIR = Path(__file__).resolve().parent.parent / "data_samples"


def data_path(name: str) -> Path:
    """Path of a bundled sample file, with a clear error if it is missing."""
    path = DATA_DIR / name
    if not path.is_file():
        raise FileNotFoundError(
            f"bundled sample {name!r} not found at {path}. The kit reads data from its source "
            f"checkout (install with `pip install -e .`); regenerate the samples with "
            f"`python -m facecam_kit make-samples`."
        )
    return path


def load_sample_portrait() -> np.ndarray:
    """The bundled sample portrait, (512, 348, 3) uint8 RGB."""
    import imageio.v3 as iio

    return iio.imread(data_path("portrait.png"))
