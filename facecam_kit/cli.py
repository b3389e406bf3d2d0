"""Command line: ``demo``, ``render``, ``evaluate``, ``train-mini`` and ``make-samples``.

Each job's options are one dataclass in :mod:`facecam_kit.jobs`; the parser is built from its
fields (type, default and the ``help`` in the field's metadata), so an option is written once.
Bad inputs end with one ``error:`` line and exit code 2, and nothing written.

The jobs it runs are walked through in notebook 06.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
import typing
from pathlib import Path

from facecam_kit.evaluation.job import EvaluateOptions, run_evaluate
from facecam_kit.jobs import DemoOptions, RenderOptions, run_demo, run_render
from facecam_kit.mini.recipe import TrainMiniOptions, run_train_mini

JOBS = {
    "demo": (DemoOptions, run_demo, "the main job on the bundled sample clip"),
    "render": (RenderOptions, run_render, "re-render a portrait video along a camera trajectory"),
    "evaluate": (EvaluateOptions, run_evaluate, "score generated videos: PSNR/SSIM, identity, camera accuracy"),
    "train-mini": (TrainMiniOptions, run_train_mini, "train FaceCam-mini (VAE + three DiTs) into data_samples/"),
}


def _add_options(parser: argparse.ArgumentParser, options_type) -> None:
    hints = typing.get_type_hints(options_type)
    for f in dataclasses.fields(options_type):
        flag = "--" + f.name.replace("_", "-")
        kind = hints[f.name]
        meta = dict(f.metadata)
        if kind is bool:
            parser.add_argument(flag, action="store_true", help=meta["help"])
            continue
        convert = {Path | None: Path, str | None: str}.get(kind, kind)
        required = f.default is dataclasses.MISSING
        default = None if required else f.default
        extra = {"choices": meta["choices"]} if "choices" in meta else {}
        shown = "" if required or default is None else f" (default: {default})"
        parser.add_argument(flag, type=convert, required=required, default=default, help=meta["help"] + shown, **extra)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m facecam_kit", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name, (options_type, _, help_) in JOBS.items():
        _add_options(sub.add_parser(name, help=help_, description=help_), options_type)
    sub.add_parser("make-samples", help="regenerate data_samples/ from scikit-image's astronaut photo")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = vars(build_parser().parse_args(argv))
    command = args.pop("command")
    t0 = time.perf_counter()
    try:
        if command == "make-samples":
            from facecam_kit.data.samples import make_data_samples

            files = make_data_samples()
        else:
            options_type, job, _ = JOBS[command]
            files = job(options_type(**args))
    except (ValueError, OSError) as e:  # bad inputs, unreadable or unwritable files: the job wrote nothing
        print(f"error: {e}", file=sys.stderr)
        return 2
    except MemoryError:
        print(f"error: out of memory during {command}; nothing was written", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"interrupted: {command} wrote nothing", file=sys.stderr)
        return 130
    for f in files:
        print(f"wrote {f}")
    print(f"done in {time.perf_counter() - t0:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
