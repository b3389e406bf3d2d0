"""Command line: ``python -m facecam_kit demo`` (the main job) and ``make-samples``."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

DEFAULT_TRAJECTORY = "arc_left"


def demo(out_dir: Path, trajectory: str = DEFAULT_TRAJECTORY, name: str = "sample") -> list[Path]:
    """The main job on the bundled sample portrait; returns the written files.

    Writes ``<name>_landmarks.png`` (detected face mesh over the photo), ``<name>_camera.mp4``
    (the camera-condition video of the trajectory, drawn from the generic head),
    ``<name>_proxy.mp4`` (the proxy head rendered along the trajectory),
    ``<name>_anchor.mp4`` / ``<name>_anchor_mask.mp4`` (ReCapture's geometric re-rendering of the
    photo along the trajectory and its valid pixels) and ``<name>_camera_path.html`` (the
    camera path around the head, interactive).
    """
    import imageio.v3 as iio
    import numpy as np

    from .anchor import photo_anchor_video
    from .condition import condition_video, draw_condition
    from .data import load_sample_portrait
    from .landmarks import detect_landmarks
    from .proxy_head import make_proxy_head
    from .render import render_video
    from .template import load_template
    from .trajectory import load_trajectory
    from .video import write_video
    from .viz import camera_figure

    traj = load_trajectory(trajectory)  # validates before any work is done
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    portrait = load_sample_portrait()
    lm = detect_landmarks(portrait, "the sample portrait")
    h, w = portrait.shape[:2]
    overlay = out_dir / f"{name}_landmarks.png"
    iio.imwrite(overlay, draw_condition(lm, h, w, background=portrait))

    condition = out_dir / f"{name}_camera.mp4"
    write_video(condition, condition_video(traj))

    proxy = out_dir / f"{name}_proxy.mp4"
    write_video(proxy, render_video(make_proxy_head().gaussians, traj.cameras()))

    frames, masks, _ = photo_anchor_video(portrait, lm, traj.cameras())
    anchor, anchor_mask = out_dir / f"{name}_anchor.mp4", out_dir / f"{name}_anchor_mask.mp4"
    write_video(anchor, frames)
    write_video(anchor_mask, np.repeat(masks[..., None] * np.uint8(255), 3, -1))

    html = out_dir / f"{name}_camera_path.html"
    fig = camera_figure({trajectory: traj.cameras()}, {"generic head": load_template()},
                        title=f"Camera path '{Path(trajectory).stem}' around the proxy head")
    fig.write_html(html, include_plotlyjs=True)
    return [overlay, condition, proxy, anchor, anchor_mask, html]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m facecam_kit", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("demo", help="landmarks, camera-condition video and camera path for the sample")
    p.add_argument("--out", type=Path, default=Path("outputs/demo"), help="output folder")
    p.add_argument("--trajectory", default=DEFAULT_TRAJECTORY,
                   help="a ReCamMaster preset name (pan_left, arc_right, ...) or a trajectory JSON file")
    sub.add_parser("make-samples", help="regenerate data_samples/ from scikit-image's astronaut photo")
    args = parser.parse_args(argv)

    t0 = time.perf_counter()
    try:
        if args.command == "demo":
            files = demo(args.out, args.trajectory)
        else:
            from .data import make_data_samples
            files = make_data_samples()
    except (ValueError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    for f in files:
        print(f"wrote {f}")
    print(f"done in {time.perf_counter() - t0:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
