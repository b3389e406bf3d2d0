"""Command line: ``demo``, ``render``, ``evaluate``, ``train``, ``train-mini``, ``trajectory`` and ``make-samples``.

Each job's options are one dataclass in :mod:`facecam_kit.jobs`; the parser is built from its
fields (type, default and the ``help`` in the field's metadata), so an option is written once.
Every command checks its inputs before any heavy work. Bad inputs end with one ``error:`` line
(at most ``userfiles.MAX_ERROR_CHARS`` characters, naming the input and the fix), exit code 2
and nothing written; Ctrl-C and SIGTERM leave every folder as it was too (exit 130 / 143).

The jobs it runs are walked through in notebook 06.
"""

from __future__ import annotations

import argparse
import dataclasses
import signal
import sys
import threading
import time
import typing
from pathlib import Path

from facecam_kit.evaluation.job import EvaluateOptions, run_evaluate
from facecam_kit.gpu_check import GpuCheckOptions, run_gpu_check
from facecam_kit.jobs import DemoOptions, RenderOptions, run_demo, run_render
from facecam_kit.mini.stages import TrainMiniOptions, run_train_mini
from facecam_kit.train.config import add_train_arguments
from facecam_kit.trajectory_job import HELP as _TRAJECTORY_HELP
from facecam_kit.trajectory_job import add_trajectory_arguments, run_trajectory
from facecam_kit.userfiles import error_line

JOBS = {
    "demo": (DemoOptions, run_demo, "the main job on the bundled sample clip"),
    "render": (RenderOptions, run_render, "re-render a portrait video along a camera trajectory"),
    "evaluate": (EvaluateOptions, run_evaluate, "score generated videos: PSNR/SSIM, identity, camera accuracy"),
    "train-mini": (TrainMiniOptions, run_train_mini, "train FaceCam-mini (VAE + a DiT per camera) into data_samples/"),
    "gpu-check": (GpuCheckOptions, run_gpu_check, "measure every GPU claim of the kit on one CUDA GPU, in minutes"),
}
_TRAIN_HELP = "train FaceCam (or ReCamMaster) with flow matching on accelerate (examples: configs/train/)"


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


def run_train(config: str, set: list[str]) -> list[Path]:
    """The ``train`` job: :func:`facecam_kit.train.config.load_config` (checked, typed) then the trainer."""
    from facecam_kit.train.config import load_config, parse_overrides
    from facecam_kit.train.trainer import train

    last = train(load_config(config, parse_overrides(set)))
    return [] if last is None else [last]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m facecam_kit", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name, (options_type, _, help_) in JOBS.items():
        _add_options(sub.add_parser(name, help=help_, description=help_), options_type)
    add_train_arguments(sub.add_parser("train", help=_TRAIN_HELP, description=_TRAIN_HELP))
    add_trajectory_arguments(sub.add_parser("trajectory", help=_TRAJECTORY_HELP, description=_TRAJECTORY_HELP))
    sub.add_parser("make-samples", help="regenerate data_samples/ from scikit-image's astronaut photo")
    return parser


class Terminated(BaseException):
    """SIGTERM, raised where the job is so that its ``with`` blocks clean up as for Ctrl-C."""


#: seconds after which a SIGTERM that did not end the job is raised again
_RETRY_S = 0.2
#: a SIGTERM came and has not ended the job yet: only then is a SIGALRM its retry
_PENDING = threading.Event()


def _terminate(signum, frame):
    """SIGTERM (and its retries, on SIGALRM): raise Terminated where the job is. Python swallows an
    exception raised inside a finaliser (``__del__``, a generator closed by the garbage collector,
    as while ffmpeg's pipes are being set up), printing a traceback and running on: there it is
    deferred, and a timer raises it again until it propagates; an unwinding one is left to finish."""
    if signum == signal.SIGTERM:
        _PENDING.set()
    elif not _PENDING.is_set():
        return  # an alarm of something else's: no SIGTERM to retry
    handling = sys.exc_info()[1]
    if isinstance(handling, Terminated):
        return  # already unwinding: its with blocks are cleaning up
    signal.setitimer(signal.ITIMER_REAL, _RETRY_S)  # cancelled once main has caught it
    if isinstance(handling, GeneratorExit):
        return  # a generator being closed (by the garbage collector too): raised there, it could be swallowed
    f = frame
    while f is not None:
        if f.f_code.co_name == "__del__":
            return  # a finaliser: raised there, Python prints it and runs on
        f = f.f_back
    raise Terminated


def _kept(command: str, e: BaseException) -> str:
    """What a stopped job leaves: nothing, or what it says it kept (``train``'s checkpoints)."""
    return "; ".join(getattr(e, "__notes__", [])) or f"{command} wrote nothing"


def main(argv: list[str] | None = None) -> int:
    args = vars(build_parser().parse_args(argv))
    command = args.pop("command")
    t0 = time.perf_counter()
    main_thread = threading.current_thread() is threading.main_thread()  # signals are set there only
    previous = [signal.signal(s, _terminate) for s in (signal.SIGTERM, signal.SIGALRM)] if main_thread else None
    _PENDING.clear()
    try:
        if command == "make-samples":
            from facecam_kit.data.samples import make_data_samples

            files = make_data_samples()
        elif command == "train":
            files = run_train(**args)
        elif command == "trajectory":
            files = run_trajectory(**args)
        else:
            options_type, job, _ = JOBS[command]
            files = job(options_type(**args))
    except (ValueError, OSError, RecursionError) as e:  # bad inputs, unreadable or unwritable files
        print(error_line(e), file=sys.stderr)
        return 2
    except MemoryError:
        print(f"error: out of memory during {command}; nothing was written", file=sys.stderr)
        return 2
    except KeyboardInterrupt as e:
        print(f"interrupted: {_kept(command, e)}", file=sys.stderr)
        return 130
    except Terminated as e:
        signal.setitimer(signal.ITIMER_REAL, 0)  # no retry: it propagated
        print(f"terminated (SIGTERM): {_kept(command, e)}", file=sys.stderr)
        return 143
    finally:
        if previous is not None:
            signal.setitimer(signal.ITIMER_REAL, 0)
            _PENDING.clear()
            for s, handler in zip((signal.SIGTERM, signal.SIGALRM), previous):
                signal.signal(s, handler)
    for f in files:
        print(f"wrote {f}")
    print(f"done in {time.perf_counter() - t0:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
