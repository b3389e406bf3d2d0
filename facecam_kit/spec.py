"""FaceCam's official numbers and the kit's rules, in one place.

Every module, notebook and command reads these from here; ``docs/official_behaviour.md`` says
where each official number comes from. Two kinds of number live here:

* what the official code does (``HEIGHT`` x ``WIDTH``, ``NUM_FRAMES``, ``FPS``, the proxy orbit,
  the random sampler's ranges, the sampling defaults);
* the kit's own rules (``LIMITS``: where a trajectory still shows the face), and the checks that
  the model's shapes need (frames ``4k+1``, sizes multiples of 16).

Nothing here imports anything heavy: it is the bottom of the kit's layering.
"""

from __future__ import annotations

import numbers

#: Output video: height x width (portrait), frames, frames per second (docs/official_behaviour.md, section 1).
HEIGHT, WIDTH, NUM_FRAMES, FPS = 704, 480, 81, 24

#: Sampling defaults of the official inference.
NUM_STEPS = 50
GUIDANCE_SCALE = 5.0
#: High-noise expert while ``t >= BOUNDARY * 1000`` (the inference passes 0.9, not the pipeline's 0.875).
BOUNDARY = 0.9
#: Flow-matching shift of the Wan scheduler.
SHIFT = 5.0
DEFAULT_PROMPT = "A portrait of a person"

#: The camera conditions the kit's models take: FaceCam's landmark video, FactorPortrait's Plücker
#: ray maps, ReCamMaster's extrinsics (facecam_kit.model.pipeline.camera_inputs; notebook 09).
CAMERA_KINDS = ("landmarks", "plucker", "extrinsics")

#: Wan's VAE compresses time by 4 (frames ``4k+1``) and space by 8; the DiT patches 2x2 latents.
TEMPORAL_COMPRESSION = 4
SIZE_MULTIPLE = 16
#: The most frames a trajectory or camera file may hold (7 minutes at 24 fps; the official path
#: has 81): a 100-byte file claiming a billion frames is refused before anything is computed.
MAX_FRAMES = 10_001

#: The official proxy orbit: radius, azimuth of the frontal camera (degrees), world up +Z.
PROXY_RADIUS = 2.7
PROXY_BASE_AZIMUTH_DEG = 270.0

#: Ranges of the official random trajectory sampler (inference.py, ``large_pose=True``), degrees.
OFFICIAL_RANGES = {
    "azimuth_start": (30.0, 45.0),  # magnitude; the start is on the opposite side of the end
    "azimuth_end": (30.0, 45.0),
    "elevation": (-30.0, 30.0),
    "hfov": (25.0, 55.0),
}

#: The kit's hard limits, degrees: outside them the face is not visible (|azimuth| > 90), the
#: look-at breaks down, or the field of view is not a portrait lens. Every camera of a trajectory
#: must stay inside them; the trajectory sliders span exactly these ranges.
LIMITS = {"azimuth": (-90.0, 90.0), "elevation": (-60.0, 60.0), "hfov": (10.0, 90.0)}

#: The kit's rules for real inputs (``render``): every frame of a trajectory shows at least this
#: share of the head's landmarks (a pan ending with the head at the border shows about half, a
#: camera inside the head none); a video may lack the face in at most this share of its frames;
#: an expert checkpoint may leave at most this share of the model's keys at the base weights.
MIN_VISIBLE_LANDMARKS = 0.25
#: ... and its landmarks span at least this share of the frame height (the frontal view at the
#: official distance: 0.40; the widest lens, 90 degrees: 0.13; a camera 1e6 units away: a dot)
MIN_FACE_HEIGHT = 0.05
MAX_NO_FACE_SHARE = 0.1
MAX_MISSING_KEYS_SHARE = 0.01


def _is_int(v) -> bool:
    return isinstance(v, numbers.Integral) and not isinstance(v, bool)


def check_num_frames(num_frames, name: str = "num_frames", limit: int | None = MAX_FRAMES) -> int:
    """``num_frames`` as an int, or ValueError unless it is ``4k+1`` (1, 5, ..., 81) and at most
    ``limit`` (None: bounded by the caller, e.g. ``render --frames`` by the free memory)."""
    if not _is_int(num_frames) or num_frames < 1 or (num_frames - 1) % TEMPORAL_COMPRESSION:
        raise ValueError(
            f"{name} must be of the form 4k+1 (1, 5, ..., {NUM_FRAMES}), as Wan's VAE compresses "
            f"time by {TEMPORAL_COMPRESSION}; got {num_frames!r}"
        )
    check_frame_count(num_frames, name, limit)
    return int(num_frames)


def check_frame_count(count: int, what: str, limit: int | None = MAX_FRAMES) -> int:
    """ValueError unless ``count`` (frames of a path, poses of a file) is at most ``limit``."""
    if limit is not None and count > limit:
        raise ValueError(
            f"{what}: {count:,} frames, more than the kit's {limit:,} ({limit / FPS / 60:.0f} minutes at "
            f"{FPS} fps; the official path has {NUM_FRAMES}): cut the path or sample every n-th frame"
        )
    return count


def vae_compression(temperal_downsample) -> tuple[int, int]:
    """How an ``AutoencoderKLWan`` with this ``temperal_downsample`` (one flag per downsampling stage)
    compresses a video: (frames per latent frame after the first, pixels per latent along a side).
    Space halves at every stage, time at every flagged one: Wan's ``[False, True, True]`` gives (4, 8)."""
    return 2 ** sum(bool(v) for v in temperal_downsample), 2 ** len(temperal_downsample)


def check_frame_size(height, width) -> tuple[int, int]:
    """``(height, width)`` as ints, or ValueError unless both are positive multiples of 16."""
    for name, v in (("height", height), ("width", width)):
        if not _is_int(v) or v <= 0 or v % SIZE_MULTIPLE:
            raise ValueError(
                f"{name} must be a positive multiple of {SIZE_MULTIPLE} (the VAE downsamples by 8 and "
                f"the DiT patches 2x2), got {v!r}; the official size is {HEIGHT}x{WIDTH}"
            )
    return int(height), int(width)
