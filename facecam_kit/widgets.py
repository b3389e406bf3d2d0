"""The trajectory slider panel and its callbacks, shared by notebooks 03 and 06.

Six integer sliders (start and end of azimuth, elevation and field of view) in the kit's
trajectory limits (``spec.LIMITS``), laid out as a start column and an end column. The widgets
only hold values: what they trigger is plain functions of those values (``orbit_from_slider_values``,
``condition_strip``, ``step_progress``), tested on their own in ``tests/test_widgets.py``.

Taught in notebook 03 (landmark camera conditions, the live preview); used in notebook 06 (the
Generate button).
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import contextmanager

import cv2
import ipywidgets as widgets
import numpy as np

from facecam_kit.face.condition import orbit_condition_preview
from facecam_kit.geometry.trajectory import OrbitTrajectory
from facecam_kit.spec import HEIGHT, LIMITS, NUM_FRAMES, WIDTH
from facecam_kit.viz import montage

#: slider name -> (label, key of ``spec.LIMITS``, default in degrees)
SLIDERS = {
    "azimuth_start": ("azimuth start", "azimuth", -30),
    "azimuth_end": ("azimuth end", "azimuth", 30),
    "elevation_start": ("elevation start", "elevation", 0),
    "elevation_end": ("elevation end", "elevation", 0),
    "fov_start": ("fov start", "hfov", 40),
    "fov_end": ("fov end", "hfov", 40),
}

# wide enough for the longest label ("elevation start"): ipywidgets' default cuts it to "elevation s…"
_STYLE = {"description_width": "8em"}
_LAYOUT = {"width": "26em"}


def trajectory_sliders(**defaults: float) -> dict[str, widgets.IntSlider]:
    """The six sliders, name -> ``IntSlider`` in whole degrees within ``spec.LIMITS``.

    defaults: start values by slider name (e.g. ``azimuth_start=-40``); the others start at
    ``SLIDERS``' defaults. A name that is not a slider or a value outside its limits raises
    ``ValueError``.
    """
    unknown = set(defaults) - set(SLIDERS)
    if unknown:
        raise ValueError(f"unknown slider(s) {sorted(unknown)}; the sliders are {list(SLIDERS)}")
    sliders = {}
    for name, (label, limit, default) in SLIDERS.items():
        lo, hi = LIMITS[limit]
        value = defaults.get(name, default)
        if not lo <= value <= hi:
            raise ValueError(f"{name} = {value} is outside its limits [{lo:g}, {hi:g}] degrees (spec.LIMITS)")
        sliders[name] = widgets.IntSlider(
            value=round(value),
            min=round(lo),
            max=round(hi),
            step=1,
            description=label,
            continuous_update=False,  # one preview per release, not one per pixel of drag
            style=_STYLE,
            layout=_LAYOUT,
        )
    return sliders


def slider_values(sliders: dict[str, widgets.IntSlider]) -> dict[str, int]:
    """The sliders' current values, name -> degrees."""
    return {name: s.value for name, s in sliders.items()}


def slider_panel(sliders: dict[str, widgets.IntSlider], *below: widgets.Widget) -> widgets.VBox:
    """The sliders as a start column and an end column, with ``below`` (e.g. the preview) under them."""
    starts = [s for name, s in sliders.items() if name.endswith("_start")]
    ends = [s for name, s in sliders.items() if name.endswith("_end")]
    return widgets.VBox([widgets.HBox([widgets.VBox(starts), widgets.VBox(ends)]), *below])


def orbit_from_slider_values(values: dict[str, float], num_frames: int = NUM_FRAMES) -> OrbitTrajectory:
    """The orbit that the slider values describe (``ValueError`` naming the value if out of range)."""
    return OrbitTrajectory(
        (values["azimuth_start"], values["azimuth_end"]),
        (values["elevation_start"], values["elevation_end"]),
        (values["fov_start"], values["fov_end"]),
        num_frames,
    )


def condition_strip(
    values: dict[str, float],
    num_frames: int = NUM_FRAMES,
    height: int = HEIGHT,
    width: int = WIDTH,
    num: int = 6,
    size: int = 160,
) -> np.ndarray:
    """The preview: ``num`` condition frames of the sliders' orbit side by side, (size, num * size, 3) uint8.

    Each frame is cropped to the square the head is rendered in (the rest of the canvas is white
    padding) and resized to ``size`` pixels.
    """
    frames = orbit_condition_preview(**values, num_frames=num_frames, height=height, width=width)
    s = min(height, width)
    squares = [cv2.resize(f[:s, :s], (size, size), interpolation=cv2.INTER_AREA) for f in frames]
    return montage(np.stack(squares), num)


def step_progress(bar: widgets.IntProgress) -> Callable:
    """A diffusers ``callback_on_step_end`` that advances ``bar`` by one step per denoising step
    (``bar`` is reset to step 0 here, so make one per generation)."""
    bar.value = 0
    bar.description = f"step 0/{bar.max}"

    def callback(pipe, step: int, timestep, tensors: dict) -> dict:
        bar.value = step + 1
        bar.description = f"step {step + 1}/{bar.max}"
        return tensors

    return callback


@contextmanager
def busy(button: widgets.Button, status: widgets.Label, message: str):
    """Disable ``button`` and show ``message`` while the block runs; re-enable it however the block ends
    (an error is shown in ``status`` too, not only in the browser's log)."""
    button.disabled = True
    status.value = message
    try:
        yield
    except Exception as e:
        status.value = f"failed: {e}"
        raise
    finally:
        button.disabled = False


def labelled_rows(names: tuple[str, ...]) -> tuple[widgets.VBox, dict[str, widgets.Image]]:
    """Image rows with their names on the left: (the box, name -> its ``Image``).

    The box starts hidden; show it (``box.layout.display = None``) once the images have values, so
    that no broken-image icon shows before.
    """
    images = {name: widgets.Image(format="png", layout={"max_width": "100%"}) for name in names}
    rows = [
        widgets.HBox([widgets.Label(name, layout={"width": "7em"}), image], layout={"align_items": "center"})
        for name, image in images.items()
    ]
    return widgets.VBox(rows, layout={"display": "none"}), images
