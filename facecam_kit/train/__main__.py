"""``python -m facecam_kit.train CONFIG [--set key=value ...]`` (or under ``accelerate launch -m``).

The same as ``python -m facecam_kit train``: trains as the YAML/JSON configuration says
(facecam_kit.train.config.TrainConfig, checked before any work) and prints the last checkpoint,
a saved pipeline folder for ``python -m facecam_kit render --weights``.
"""

from __future__ import annotations

import argparse
import os
import sys


def main(argv=None) -> int:
    from facecam_kit.train.config import add_train_arguments, load_config, parse_overrides
    from facecam_kit.userfiles import error_line

    parser = argparse.ArgumentParser(
        prog="python -m facecam_kit.train",
        description="Train FaceCam (or ReCamMaster) with flow matching on accelerate. Examples: configs/train/.",
    )
    add_train_arguments(parser)
    args = parser.parse_args(argv)
    try:
        cfg = load_config(args.config, parse_overrides(args.set))
        from facecam_kit.train.trainer import train

        last = train(cfg)
    except (ValueError, OSError, RecursionError) as e:
        print(error_line(e), file=sys.stderr)
        return 2
    if last is not None and os.environ.get("RANK", "0") == "0":  # once, on the main process
        print(f"checkpoint: {last}  (python -m facecam_kit render ... --weights {last})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
