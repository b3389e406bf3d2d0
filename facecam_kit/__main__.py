"""Command line: ``demo`` (the main job on the bundled sample), ``render`` and ``make-samples``."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m facecam_kit", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    traj_help = "a ReCamMaster preset name (pan_left, arc_right, ...) or a trajectory JSON file"

    p = sub.add_parser("demo", help="the main job on the bundled sample clip")
    p.add_argument("--out", type=Path, default=Path("outputs/demo"), help="output folder")
    p.add_argument("--trajectory", default="arc_left", help=traj_help)
    p.add_argument("--weights", type=Path, help="local weights folder (see `render --help`)")
    p.add_argument("--frames", type=int, default=81, help="frames to generate (4k+1)")

    r = sub.add_parser("render", help="re-render a portrait video along a camera trajectory")
    r.add_argument("--video", type=Path, required=True)
    r.add_argument("--trajectory", required=True, help=traj_help)
    r.add_argument("--out", type=Path, required=True, help="output folder")
    r.add_argument("--weights", type=Path, help="a saved FaceCamPipeline, or a folder with "
                   "Wan2.2-I2V-A14B-Diffusers/, facecam_high_noise/ and facecam_low_noise/")
    r.add_argument("--name", help="output name (default: the video's file name)")
    r.add_argument("--frames", type=int, default=81, help="frames (4k+1); official: 81")
    r.add_argument("--height", type=int, default=704)
    r.add_argument("--width", type=int, default=480)
    r.add_argument("--steps", type=int, default=50)
    r.add_argument("--guidance", type=float, default=5.0)
    r.add_argument("--seed", type=int, default=0)
    r.add_argument("--low-vram", action="store_true", help="model CPU offload and VAE tiling (GPUs under ~48 GB)")
    r.add_argument("--condition", choices=["analytic", "proxy"], default="analytic",
                   help="analytic: project the generic head's landmarks (fast); proxy: the official "
                        "path, render the proxy head and run MediaPipe on every frame")

    sub.add_parser("make-samples", help="regenerate data_samples/ from scikit-image's astronaut photo")
    args = parser.parse_args(argv)

    from .jobs import demo, render  # heavy imports after argument parsing

    t0 = time.perf_counter()
    try:
        if args.command == "demo":
            files = demo(args.out, args.trajectory, args.weights, args.frames)
        elif args.command == "render":
            files = render(args.video, args.trajectory, args.out, args.weights, args.name, args.frames,
                           args.height, args.width, args.steps, args.guidance, args.seed, args.condition,
                           low_vram=args.low_vram)
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
