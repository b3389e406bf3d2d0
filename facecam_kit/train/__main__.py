"""``python -m facecam_kit.train CONFIG [--set key=value ...]`` (or under ``accelerate launch -m``).

Trains as the YAML/JSON configuration says (facecam_kit.train.config.TrainConfig) and prints the
last checkpoint, a saved pipeline folder for ``python -m facecam_kit render --weights``.
"""

from __future__ import annotations

import argparse
import os
import sys


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m facecam_kit.train",
        description="Train FaceCam (or ReCamMaster) with flow matching on accelerate. Examples: configs/train/.",
    )
    parser.add_argument("config", help="a training configuration, YAML or JSON (configs/train/tiny_studio.yaml)")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override one setting (YAML value), e.g. --set max_steps=50 --set resume=latest",
    )
    args = parser.parse_args(argv)
    from facecam_kit.train.config import load_config, parse_value

    overrides = {}
    for item in args.set:
        key, sep, value = item.partition("=")
        if not sep:
            parser.error(f"--set takes KEY=VALUE, got {item!r}")
        overrides[key.strip()] = parse_value(value)
    try:
        cfg = load_config(args.config, overrides)
        from facecam_kit.train.trainer import train

        last = train(cfg)
    except (ValueError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if last is not None and os.environ.get("RANK", "0") == "0":  # once, on the main process
        print(f"checkpoint: {last}  (python -m facecam_kit render ... --weights {last})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
