"""The trajectory slider panel, the keyframe editor and their callbacks, shared by notebooks 03 and 06.

Six integer sliders (start and end of azimuth, elevation and field of view) in the kit's
trajectory limits (``spec.LIMITS``), laid out as a start column and an end column. The keyframe
editor holds a :class:`KeyframeTrajectory` and the sliders of one keyframe (frame, azimuth,
elevation, distance, fov, roll, aim offset), updated while a slider is dragged. The widgets
only hold values: what they trigger is plain functions of those values (``orbit_from_slider_values``,
``condition_strip``, ``step_progress``; ``edit_keyframe``, ``add_keyframe``, ``delete_keyframe``,
``editor_trajectory``, ``trajectory_strip``, ``path_figure``), tested on their own in
``tests/test_widgets.py``.

Taught in notebook 03 (landmark camera conditions, the live preview); used in notebook 06 (the
Generate button).
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

import cv2
import ipywidgets as widgets
import numpy as np

from facecam_kit.data.path_from_video import load_trajectory_or_clip
from facecam_kit.face.condition import draw_condition
from facecam_kit.face.template import load_template
from facecam_kit.geometry.formats import guess_format, read_cameras
from facecam_kit.geometry.trajectory import (
    DEFAULT_UNITS_PER_METRE,
    RECAMMASTER_PRESETS,
    Keyframe,
    KeyframeTrajectory,
    OrbitTrajectory,
    camera_angles,
    load_trajectory,
    save_trajectory,
)
from facecam_kit.spec import HEIGHT, LIMITS, NUM_FRAMES, PROXY_RADIUS, WIDTH
from facecam_kit.viz import camera_figure, montage, png_bytes

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
    return trajectory_strip(orbit_from_slider_values(values, num_frames), height, width, num, size)


def trajectory_strip(traj, height: int = HEIGHT, width: int = WIDTH, num: int = 6, size: int = 160) -> np.ndarray:
    """The preview of any trajectory: ``num`` of its condition frames, evenly spaced from the first
    to the last, side by side, each cropped to the head's square and resized to ``size``,
    (size, num * size, 3) uint8: the frames of ``condition_video`` that it shows, and only those
    drawn (a slider move then costs 6 drawings, not 81)."""
    cams = traj.cameras()
    shown = np.linspace(0, len(cams) - 1, min(num, len(cams))).round().astype(int)  # as ``montage`` picks
    frames = draw_condition(cams.project(load_template(), height, width)[shown], height, width)
    s = min(height, width)
    squares = [cv2.resize(f[:s, :s], (size, size), interpolation=cv2.INTER_AREA) for f in frames]
    return montage(np.stack(squares), len(squares))


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


#: keyframe slider name -> (label, min, max, step); aim_x/y/z are the aim offset's coordinates
KEYFRAME_SLIDERS = {
    "frame": ("frame", 0, NUM_FRAMES - 1, 1),
    "azimuth": ("azimuth", *LIMITS["azimuth"], 1),
    "elevation": ("elevation", *LIMITS["elevation"], 1),
    "distance": ("distance", 1.0, 3 * PROXY_RADIUS, 0.05),
    "hfov": ("fov", *LIMITS["hfov"], 1),
    "roll": ("roll", -90, 90, 1),
    "aim_x": ("aim x", -1.5, 1.5, 0.01),
    "aim_y": ("aim y", -1.5, 1.5, 0.01),
    "aim_z": ("aim z", -1.5, 1.5, 0.01),
}
#: the editor's preset menu: the official random sampler (seeded) and ReCamMaster's 10
PRESET_CHOICES = ("random:0", *RECAMMASTER_PRESETS)


def keyframe_sliders(num_frames: int = NUM_FRAMES) -> dict[str, widgets.FloatSlider]:
    """The sliders of one keyframe, name -> ``FloatSlider``, updating while dragged (continuous update)."""
    sliders = {}
    for name, (label, lo, hi, step) in KEYFRAME_SLIDERS.items():
        hi = num_frames - 1 if name == "frame" else hi
        sliders[name] = widgets.FloatSlider(
            min=lo, max=hi, step=step, description=label, continuous_update=True, style=_STYLE, layout=_LAYOUT
        )
    return sliders


def keyframe_values(key: Keyframe) -> dict[str, float]:
    """A keyframe as slider values (``KEYFRAME_SLIDERS``' names)."""
    v = {name: getattr(key, name) for name in KEYFRAME_SLIDERS if not name.startswith("aim")}
    return {**v, **dict(zip(("aim_x", "aim_y", "aim_z"), key.aim))}


def edit_keyframe(traj: KeyframeTrajectory, index: int, values: dict[str, float]) -> tuple[KeyframeTrajectory, int]:
    """Keyframe ``index`` set to slider ``values`` (moved when ``frame`` changes): the new trajectory
    and the keyframe's new index (keyframes stay in frame order). ValueError when the keyframe would
    land on another's frame or leave the limits, naming the keyframe and the field."""
    aim = tuple(values[n] for n in ("aim_x", "aim_y", "aim_z"))
    key = Keyframe(**{n: v for n, v in values.items() if not n.startswith("aim")}, aim=aim)
    others = [k for i, k in enumerate(traj.keyframes) if i != index]
    if any(k.frame == key.frame for k in others):
        raise ValueError(f"keyframe {index}: another keyframe is at frame {key.frame:g}; move it elsewhere")
    keys = sorted([*others, key], key=lambda k: k.frame)
    return KeyframeTrajectory(tuple(keys), traj.num_frames, traj.interpolation), keys.index(key)


def add_keyframe(traj: KeyframeTrajectory, frame: int) -> tuple[KeyframeTrajectory, int]:
    """A keyframe added at ``frame`` with the path's values there, and its index: a linear path does
    not change until it is edited, a smooth one barely (the spline's slopes at the neighbours are
    recomputed). ValueError if a keyframe is already at that frame."""
    if any(k.frame == frame for k in traj.keyframes):
        raise ValueError(f"a keyframe is already at frame {frame:g}; select it, or add one at another frame")
    v = traj.values()
    here = {n: float(v[n][int(frame)]) for n in ("azimuth", "elevation", "distance", "hfov", "roll")}
    key = Keyframe(frame, **here, aim=tuple(v["aim"][int(frame)]))
    keys = sorted([*traj.keyframes, key], key=lambda k: k.frame)
    return KeyframeTrajectory(tuple(keys), traj.num_frames, traj.interpolation), keys.index(key)


def delete_keyframe(traj: KeyframeTrajectory, index: int) -> tuple[KeyframeTrajectory, int]:
    """The trajectory without keyframe ``index``, and the index to select next; the last keyframe stays."""
    if len(traj.keyframes) == 1:
        raise ValueError("a trajectory keeps at least one keyframe; edit it instead")
    keys = traj.keyframes[:index] + traj.keyframes[index + 1 :]
    return KeyframeTrajectory(keys, traj.num_frames, traj.interpolation), min(index, len(keys) - 1)


def editor_trajectory(
    name_or_path,
    num_frames: int = NUM_FRAMES,
    keys: int = 5,
    units_per_metre: float = DEFAULT_UNITS_PER_METRE,
) -> KeyframeTrajectory:
    """The preset menu's and the Load button's callback: a trajectory as keyframes to edit.

    name_or_path: ``PRESET_CHOICES``, anything ``render --trajectory`` takes (``video:REF.mp4``: the
    camera path of a reference clip), or a camera file of another tool (``geometry.formats``; a
    metric one placed with ``units_per_metre``). An orbit becomes its two ends (linear: the same
    cameras); a keyframe file stays itself (resampled to ``num_frames``) unless it holds a keyframe
    on every frame (as ``trajectory convert`` and ``from-video`` write), which, like any other path,
    gets ``keys`` keyframes evenly spaced from its first frame to its last (smooth), close to it
    (``tests/test_widgets.py`` bounds how close).
    """
    path = Path(str(name_or_path))
    if path.is_file() and guess_format(path) != "kit":
        cams = read_cameras(path, units_per_metre=units_per_metre)
    else:
        traj = load_trajectory_or_clip(name_or_path, progress=False)
        if isinstance(traj, KeyframeTrajectory) and len(traj.keyframes) < traj.num_frames:
            return load_trajectory(traj, num_frames)
        if isinstance(traj, OrbitTrajectory):
            ends = [
                Keyframe(f, traj.azimuth[i], traj.elevation[i], traj.radius, traj.hfov[i])
                for i, f in ((0, 0), (1, num_frames - 1))
            ]
            return KeyframeTrajectory(tuple(ends), num_frames, "linear")
        cams = traj.cameras()
    v = camera_angles(cams)
    idx = np.unique(np.linspace(0, len(cams) - 1, keys).round().astype(int))
    scale = (num_frames - 1) / max(len(cams) - 1, 1)
    names = ("azimuth", "elevation", "distance", "hfov", "roll")
    keys = [Keyframe(i * scale, *(float(v[n][i]) for n in names), tuple(v["aim"][i])) for i in idx]
    return KeyframeTrajectory(tuple(keys), num_frames, "smooth")


def path_figure(traj: KeyframeTrajectory, head_points: np.ndarray, selected: int | None = None, every: int = 8):
    """The editor's 3D view: the path and its frustums around ``head_points`` (N, 3), the keyframes'
    cameras marked (the ``selected`` one larger). A plotly Figure."""
    cams = traj.cameras()
    fig = camera_figure({"path": cams}, {"head": head_points}, every=every)
    frames = [int(round(k.frame)) for k in traj.keyframes]
    c = cams.centers[frames]
    sizes = [9 if i == selected else 5 for i in range(len(frames))]
    fig.add_scatter3d(
        x=c[:, 0],
        y=c[:, 1],
        z=c[:, 2],
        mode="markers+text",
        text=[f"{f}" for f in frames],
        name="keyframes",
        marker=dict(size=sizes, color="#ff7f0e"),
    )
    fig.update_layout(height=420, uirevision="editor")  # keep the user's view while the path changes
    return fig


class KeyframeEditor:
    """Notebook 03's keyframe editor: the widgets wired to the callbacks above; nothing else.

    ``panel`` holds the keyframe menu, add / delete buttons, the sliders of the selected keyframe,
    the preset menu, a file box with Save and Load, ``units_per_metre`` for metric files from
    other tools, a status line, the preview strip and the 3D view; ``traj`` is the trajectory
    being edited and ``index`` the selected keyframe. Every slider move redraws both views.
    """

    def __init__(
        self, head_points: np.ndarray, start="arc_left", num_frames: int = NUM_FRAMES, file="my_trajectory.json"
    ):
        self.head, self.num_frames, self.index, self._syncing = head_points, num_frames, 0, False
        self.traj = editor_trajectory(start, num_frames)
        self.sliders = keyframe_sliders(num_frames)
        self.menu = widgets.Dropdown(description="keyframe", style=_STYLE, layout=_LAYOUT)
        self.presets = widgets.Dropdown(options=PRESET_CHOICES, value=None, description="preset", style=_STYLE)
        self.file = widgets.Text(value=str(file), description="file", style=_STYLE, layout=_LAYOUT)
        self.units = widgets.BoundedFloatText(
            value=DEFAULT_UNITS_PER_METRE,
            min=1e-3,
            max=1e3,
            description="units/metre",
            style=_STYLE,
            tooltip="proxy units per metre of a metric file; no file can say it (notebooks 01 and 07)",
        )
        buttons = {n: widgets.Button(description=n) for n in ("add keyframe", "delete keyframe", "save", "load")}
        self.status, self.preview, self.view = widgets.Label(), widgets.Image(format="png"), widgets.Output()
        for s in self.sliders.values():
            s.observe(lambda change: self._edit(), names="value")
        self.menu.observe(lambda change: self._select(change["new"]), names="value")
        self.presets.observe(lambda change: change["new"] and self.load(change["new"]), names="value")
        buttons["add keyframe"].on_click(lambda b: self._apply(add_keyframe, int(self.sliders["frame"].value)))
        buttons["delete keyframe"].on_click(lambda b: self._apply(delete_keyframe, self.index))
        buttons["save"].on_click(lambda b: self.save())
        buttons["load"].on_click(lambda b: self.load(self.file.value))
        self.panel = widgets.VBox(
            [
                widgets.HBox([self.menu, buttons["add keyframe"], buttons["delete keyframe"]]),
                widgets.HBox(
                    [widgets.VBox(list(self.sliders.values())[:5]), widgets.VBox(list(self.sliders.values())[5:])]
                ),
                widgets.HBox([self.presets, self.file, buttons["save"], buttons["load"], self.units]),
                self.status,
                self.preview,
                self.view,
            ]
        )
        self._show()

    def _show(self) -> None:
        """The selected keyframe into the menu and the sliders (without editing), then redraw."""
        self._syncing = True
        self.menu.options = [(f"{i}: frame {k.frame:g}", i) for i, k in enumerate(self.traj.keyframes)]
        self.menu.value = self.index
        for name, value in keyframe_values(self.traj.keyframes[self.index]).items():
            self.sliders[name].value = value
        self._syncing = False
        self.redraw()

    def _select(self, index) -> None:
        if not self._syncing and index is not None:
            self.index = index
            self._show()

    def _edit(self) -> None:
        if self._syncing:
            return
        values = {n: s.value for n, s in self.sliders.items()}
        try:
            self.traj, index = edit_keyframe(self.traj, self.index, values)
        except ValueError as e:
            self.status.value = str(e)
            return
        self.status.value = ""
        if index != self.index or self.menu.options[index][0] != f"{index}: frame {values['frame']:g}":
            self.index = index
            self._show()
        else:
            self.redraw()

    def _apply(self, callback, *args) -> None:
        try:
            self.traj, self.index = callback(self.traj, *args)
            self.status.value = ""
        except ValueError as e:
            self.status.value = str(e)
        self._show()

    def redraw(self) -> None:
        """The preview strip and the 3D view of the current path."""
        from IPython.display import display

        self.preview.value = png_bytes(trajectory_strip(self.traj))
        with self.view:
            self.view.clear_output(wait=True)
            display(path_figure(self.traj, self.head, self.index))

    def load(self, name_or_path) -> None:
        """Edit a preset, a saved file or another tool's camera file (placed with ``units``)."""
        try:
            self.traj = editor_trajectory(name_or_path, self.num_frames, units_per_metre=self.units.value)
            self.index, self.status.value = 0, f"editing {name_or_path}"
        except (ValueError, OSError) as e:
            self.status.value = f"could not load {name_or_path}: {e}"
        self._show()

    def save(self) -> Path | None:
        """Write the trajectory to the file box's path as JSON that ``render --trajectory`` accepts."""
        try:
            path = save_trajectory(self.traj, self.file.value)
        except OSError as e:
            self.status.value = f"could not save {self.file.value}: {e}"
            return None
        self.status.value = f"saved {path}: python -m facecam_kit render --trajectory {path} ..."
        return path
