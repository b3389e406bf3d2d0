"""The ``trajectory`` command: convert a camera path, show one around the head, take one from a clip.

    python -m facecam_kit trajectory convert IN OUT [--from FORMAT] [--to FORMAT] [--units-per-metre U]
    python -m facecam_kit trajectory show FILE [--from FORMAT] [--units-per-metre U] [--html OUT]
    python -m facecam_kit trajectory from-video REF.mp4 OUT.json [--hfov DEG] [--smooth S] [--frames N]

IN and FILE are a camera file (formats in :mod:`facecam_kit.geometry.formats`, conventions in
docs/cameras.md) or anything ``render --trajectory`` takes (a preset name, ``random:SEED``, a kit
JSON, ``video:REF.mp4``). ``from-video`` writes the camera path of a reference portrait clip
(:mod:`facecam_kit.data.path_from_video`) as a kit trajectory file. ``show`` prints each frame's
camera around the head (azimuth, elevation, distance, field of view, roll, aim offset) and whether
``render`` accepts the path; ``--html`` writes the plotly 3D view. Existing files are never
replaced. Taught in notebook 03 (trajectories).
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

import numpy as np

from facecam_kit.data import path_from_video as clone
from facecam_kit.geometry.camera import CameraPath
from facecam_kit.geometry.formats import (
    ANCHORS,
    FORMATS,
    MATRIX_FORMATS,
    check_units_per_metre,
    guess_format,
    read_cameras,
    write_cameras,
)
from facecam_kit.geometry.trajectory import (
    DEFAULT_UNITS_PER_METRE,
    camera_angles,
    check_trajectory,
    keyframes_from_cameras,
    load_trajectory,
)
from facecam_kit.outputs import check_writable_folder, write_text_file
from facecam_kit.spec import NUM_FRAMES
from facecam_kit.userfiles import short

HELP = "convert a camera path between formats (ReCamMaster, 4x4 lists, RealEstate10K, nerfstudio) or show one"
UNITS_HELP = (
    "proxy-head units per metre of a metric path (default 2.7 / 4: ReCamMaster's 4 m orbit pivot on the head "
    "centre). No file can say it: the same metric move shifts a small near head more than a large far one "
    "(notebooks 01 and 07); choose it so that the path's orbit centre lands on the head"
)


def add_trajectory_arguments(parser: argparse.ArgumentParser) -> None:
    """``convert IN OUT`` and ``show FILE`` on the ``trajectory`` command's parser."""
    sub = parser.add_subparsers(dest="action", required=True)
    convert = sub.add_parser("convert", help="write a camera path in another format")
    convert.add_argument("source", metavar="IN", help="a camera file, a preset name or random:SEED")
    convert.add_argument("out", metavar="OUT", type=Path, help="the file to write (.txt: realestate10k, else kit)")
    convert.add_argument("--to", dest="to_format", choices=FORMATS, help="OUT's format (default from its name)")
    show = sub.add_parser("show", help="print a path's cameras around the head; --html writes the 3D view")
    show.add_argument("source", metavar="FILE", help="a camera file, a preset name or random:SEED")
    show.add_argument("--html", type=Path, help="write the plotly 3D view of the path around the head here")
    video = sub.add_parser(
        "from-video", help="the camera path of a reference portrait clip (MediaPipe + PnP), as a kit trajectory file"
    )
    video.add_argument("source", metavar="REF", help="a portrait clip whose camera motion to copy")
    video.add_argument("out", metavar="OUT", type=Path, help="the kit trajectory file to write (.json)")
    video.add_argument(
        "--hfov",
        type=float,
        default=clone.DEFAULT_HFOV,
        help="REF's lens: its field of view across the frame's width, degrees; no clip says it, and a wrong "
        f"guess costs little once the path is re-anchored (docs/cameras.md) (default: {clone.DEFAULT_HFOV:g})",
    )
    video.add_argument(
        "--smooth",
        type=float,
        default=clone.DEFAULT_SMOOTH_S,
        help="sigma of the centred Gaussian that removes the landmarks' jitter, seconds of REF; no lag, a move's "
        f"start and end spread over about 2.6 sigma; 0: none (default: {clone.DEFAULT_SMOOTH_S:g})",
    )
    video.add_argument(
        "--frames", type=int, default=NUM_FRAMES, help=f"frames of the path, 4k+1: all of REF (default: {NUM_FRAMES})"
    )
    video.add_argument(
        "--head",
        choices=clone.HEADS,
        default="generic",
        help="the 3D landmarks PnP fits: the kit's generic head or the reference person's own shape (default: generic)",
    )
    video.add_argument(
        "--anchor",
        choices=clone.ANCHORS,
        default="first",
        help="first: REF's camera motion relative to its first frame, started at the kit's frontal camera (what "
        "render expects of your video); world: REF's own viewpoints around its head (default: first)",
    )
    for p in (convert, show):
        p.add_argument("--from", dest="from_format", choices=FORMATS, help="IN's format (default: guessed)")
        p.add_argument("--units-per-metre", type=float, default=DEFAULT_UNITS_PER_METRE, help=UNITS_HELP)
        p.add_argument(
            "--anchor",
            choices=ANCHORS,
            help="first: the path relative to its first camera, started at the official frontal camera (as "
            "ReCamMaster and CameraCtrl read poses); world: the file's origin is the head centre (default: world "
            "for a file the kit wrote, which says so; first for any other)",
        )
        p.add_argument("--camera", type=int, default=1, help="ReCamMaster's camera number, cam01 ... cam10")


def read_path(
    source,
    fmt: str | None = None,
    units_per_metre: float = DEFAULT_UNITS_PER_METRE,
    anchor: str | None = None,
    camera=1,
) -> tuple[CameraPath, bool]:
    """The cameras of a camera file, or of a trajectory name ``render --trajectory`` takes, and
    whether they came from a metric file (placed with ``units_per_metre``)."""
    if clone.is_clip_spec(source) and fmt in (None, "kit"):
        return clone.load_trajectory_or_clip(source).cameras(), False
    path = Path(str(source))
    try:
        is_file = path.is_file()
    except OSError:  # a name longer than the file system allows
        is_file = False
    if not is_file and fmt in (None, "kit"):
        return load_trajectory(str(source)).cameras(), False
    if not is_file:
        raise FileNotFoundError(f"camera file not found: {short(str(source))}")
    fmt = guess_format(path) if fmt is None else fmt
    return read_cameras(path, fmt, units_per_metre, anchor, camera=camera), fmt != "kit"


def describe_path(cameras: CameraPath, units_per_metre: float | None = None) -> str:
    """A table of every frame's camera around the head (:func:`camera_angles`), with the scale a
    metric file was placed with (``units_per_metre``; None for the kit's own trajectories)."""
    v = {k: np.round(a, 3) + 0.0 for k, a in camera_angles(cameras).items()}  # no "-0.0"
    scale = (
        "the kit's own trajectory"
        if units_per_metre is None
        else f"units_per_metre = {units_per_metre:g}: a metre of the file is that many units (--units-per-metre)"
    )
    lines = [
        f"{len(cameras)} cameras around the head, in proxy units (the official camera is 2.7 from the head "
        f"centre); {scale}",
        "frame  azimuth  elevation  distance   hfov   roll   aim offset (x, y, z)",
    ]
    for i in range(len(cameras)):
        aim = ", ".join(f"{a:+.2f}" for a in v["aim"][i])
        lines.append(
            f"{i:5d}  {v['azimuth'][i]:7.1f}  {v['elevation'][i]:9.1f}  {v['distance'][i]:8.3f}  "
            f"{v['hfov'][i]:5.1f}  {v['roll'][i]:5.1f}   ({aim})"
        )
    return "\n".join(lines)


def _new_file(path: Path, flag: str) -> Path:
    if path.exists() or path.is_symlink():
        raise ValueError(f"{flag} {path} exists; the kit replaces no file: choose a new name or remove it")
    check_writable_folder(path.parent, flag)
    return path


def run_trajectory(
    action: str,
    source: str,
    from_format: str | None = None,
    units_per_metre: float = DEFAULT_UNITS_PER_METRE,
    anchor: str = "first",
    camera: int = 1,
    out: Path | None = None,
    to_format: str | None = None,
    html: Path | None = None,
    hfov: float = clone.DEFAULT_HFOV,
    smooth: float = clone.DEFAULT_SMOOTH_S,
    frames: int = NUM_FRAMES,
    head: str = "generic",
) -> list[Path]:
    """``convert`` (writes ``out``), ``show`` (prints the path; writes ``html`` when given) or
    ``from-video`` (writes the camera path of the clip ``source`` to ``out``)."""
    from facecam_kit.face.template import load_template

    if action == "from-video":
        _new_file(Path(out), "OUT")
        cloned = clone.clone_camera_path(source, frames, hfov, smooth, head, anchor)
        for line in cloned.summary():
            print(line)
        try:
            check_trajectory(cloned.trajectory(), load_template())
        except ValueError as e:
            raise ValueError(f"the path cloned from {source} is not one render accepts: {e}") from None
        return [write_cameras(cloned.cameras, out, "kit")]

    units_per_metre = check_units_per_metre(units_per_metre)  # a preset written out is divided by it too
    target = out if action == "convert" else html
    if target is not None:
        _new_file(Path(target), "OUT" if action == "convert" else "--html")
    with warnings.catch_warnings(record=True) as caught:  # a coarsely rounded file: said, not a traceback
        warnings.simplefilter("always")
        cams, metric = read_path(source, from_format, units_per_metre, anchor, camera)
    for w in caught:
        print(f"warning: {w.message}", file=sys.stderr)
    if action == "convert":
        fmt = to_format or ("realestate10k" if Path(out).suffix == ".txt" else "kit")
        if fmt == "kit":  # a kit file is one that render accepts
            try:
                check_trajectory(keyframes_from_cameras(cams), load_template())
            except ValueError as e:
                raise ValueError(f"OUT {out} as a kit trajectory (what render accepts): {e}") from None
        if fmt in MATRIX_FORMATS:  # the other formats say so themselves (formats.KIT_MARK)
            print(f"note: a list of matrices cannot say where it was placed: read {out} back with --anchor world")
        return [write_cameras(cams, out, fmt, units_per_metre)]
    print(describe_path(cams, units_per_metre if metric else None))
    try:
        check_trajectory(keyframes_from_cameras(cams), load_template())
        print("render --trajectory accepts this path (converted to the kit's format)")
    except ValueError as e:
        print(f"render --trajectory would refuse this path: {e}")
    if html is None:
        return []
    from facecam_kit.viz import camera_figure

    name = Path(str(source)).name
    fig = camera_figure({name: cams}, {"generic head": load_template()}, title=f"Camera path {name!r} around the head")
    return [write_text_file(html, fig.to_html(include_plotlyjs=True))]  # whole or not at all
