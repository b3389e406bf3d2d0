"""The source video as FaceCam's inference prepares it: frame stride, the face-centred crop, padding.

Frames are decoded one at a time and only as far as needed (a 30 s 4K clip costs the memory of
one frame plus the output), and the face detector can look at every frame used, not just the
first, so a face that leaves the picture, a second person or a truncated file is reported.

Taught in notebook 06 (what the model sees); the official rules are in ``docs/official_behaviour.md``,
section 4.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np
from tqdm.auto import tqdm

from facecam_kit.face.landmarks import LandmarkDetector
from facecam_kit.face.topology import NOSE_TIP
from facecam_kit.spec import HEIGHT, NUM_FRAMES, WIDTH
from facecam_kit.video import iter_video


def crop_window(
    frame: np.ndarray, height: int, width: int, faces: list[np.ndarray] | None = None
) -> tuple[tuple[int, int], tuple[int, int]]:
    """The official crop of a frame: scale to cover ``height x width``, then a window centred on
    the nose tip (MediaPipe landmark 4), clamped inside the frame; centred when no face is found.

    ``faces``: the frame's detected faces, largest first (detected here when None); with several
    faces the largest is used (the official takes whichever MediaPipe returns first).
    Returns ((new_h, new_w), (top, left)). Knowingly differs from the official in two details:
    sizes are rounded up (the official's int() can leave a 1350x1080 input 703 px high), and
    MediaPipe sees RGB (the official passes BGR labelled as RGB).
    """
    h, w = frame.shape[:2]
    s = max(height / h, width / w)
    new_h, new_w = max(height, int(np.ceil(h * s - 1e-6))), max(width, int(np.ceil(w * s - 1e-6)))
    if faces is None:
        with LandmarkDetector(max_faces=4) as det:
            faces = det.detect_all(frame, "the first frame")
    nose = faces[0][NOSE_TIP, :2] * s if faces else np.array([new_w / 2, new_h / 2])
    left = int(np.clip(round(nose[0] - width / 2), 0, new_w - width))
    top = int(np.clip(round(nose[1] - height / 2), 0, new_h - height))
    return (new_h, new_w), (top, left)


@dataclass
class InputReport:
    """What preparing a source video found.

    ``used``: distinct source frames in the output (the rest repeat the last one: ``repeated``);
    ``decoded``: source frames decoded; ``expected``: frames the file's header promises (None when
    it does not say); ``truncated``: decoding stopped before ``expected``; ``faces_first_frame``:
    faces in the (uncropped) first frame; ``no_face`` / ``several_faces``: output frames (indices)
    without a face / with more than one, when every frame was checked (``checked``).
    """

    path: str
    fps: float
    stride: int
    used: int
    repeated: int
    decoded: int
    expected: int | None
    truncated: bool
    faces_first_frame: int
    checked: bool = False
    no_face: list[int] = field(default_factory=list)
    several_faces: list[int] = field(default_factory=list)

    def warnings(self) -> list[str]:
        """One line per surprise, for the console and the run summary."""
        out = []
        if self.truncated:
            out.append(
                f"{self.path} is truncated: only {self.decoded} of its {self.expected} frames decode; using {self.used}"
            )
        if self.repeated:
            out.append(
                f"{self.path} has only {self.used} usable frames (stride {self.stride}); "
                f"the last one is repeated {self.repeated} times"
            )
        if self.faces_first_frame > 1:
            out.append(
                f"{self.faces_first_frame} faces in the first frame of {self.path}: the crop is centred on the largest"
            )
        if self.no_face:
            out.append(f"no face in {_frames(self.no_face)} of {self.used} frames of {self.path}")
        if self.several_faces:
            out.append(f"more than one face in {_frames(self.several_faces)} of {self.used} frames of {self.path}")
        return out


def _frames(idx: list[int]) -> str:
    shown = ", ".join(map(str, idx[:5])) + (", ..." if len(idx) > 5 else "")
    return f"{len(idx)} (frame{'s' if len(idx) > 1 else ''} {shown})"


def prepare_input_video(
    path,
    num_frames: int = NUM_FRAMES,
    height: int = HEIGHT,
    width: int = WIDTH,
    check_faces: bool = True,
    progress: bool = False,
) -> tuple[np.ndarray, InputReport]:
    """Read and prepare a source video as the official inference does, streaming.

    Frame stride ``max(1, int(fps / 24))`` from frame 0 until ``num_frames`` are collected (decoding
    stops there); every frame cropped with the first frame's :func:`crop_window`; the last frame
    repeated when the video is short. With ``check_faces`` MediaPipe (video mode) looks at every
    distinct output frame and the report lists frames with no face or several. Returns
    (num_frames, height, width, 3) uint8 and an :class:`InputReport`; raises FileNotFoundError /
    ValueError naming the file when it does not open or has no frames.
    """
    info, frames = iter_video(path)
    stride = max(1, int(info.fps / 24))
    out = np.empty((num_frames, height, width, 3), np.uint8)
    used = decoded = faces_first = 0
    error = None
    try:
        for i, f in enumerate(frames):
            decoded = i + 1
            if i % stride:
                continue
            if used == 0:
                with LandmarkDetector(max_faces=4) as det:
                    faces = det.detect_all(f, f"the first frame of {path}")
                faces_first = len(faces)
                (new_h, new_w), (top, left) = crop_window(f, height, width, faces)
            out[used] = cv2.resize(f, (new_w, new_h), interpolation=cv2.INTER_AREA)[
                top : top + height, left : left + width
            ]
            used += 1
            if used == num_frames:
                break
    except ValueError as e:  # a decoding error after some frames: a damaged or truncated file
        if used == 0:
            raise
        error = e
    finally:
        frames.close()
    if used == 0:
        raise ValueError(f"video {path} has no frames")
    out[used:] = out[used - 1]
    short_read = used < num_frames and info.num_frames is not None and decoded < info.num_frames - 1
    report = InputReport(
        str(path),
        info.fps,
        stride,
        used,
        num_frames - used,
        decoded,
        info.num_frames,
        error is not None or short_read,
        faces_first,
    )
    if check_faces:
        report.checked = True
        with LandmarkDetector(max_faces=2, video=True) as det:
            for i in tqdm(range(used), desc="faces", disable=not progress):
                n = len(det.detect_all(out[i], f"frame {i} of {path}"))
                if n == 0:
                    report.no_face.append(i)
                elif n > 1:
                    report.several_faces.append(i)
    return out, report


def load_input_video(
    path, num_frames: int = NUM_FRAMES, height: int = HEIGHT, width: int = WIDTH
) -> tuple[np.ndarray, float]:
    """:func:`prepare_input_video` without the per-frame face check: (num_frames, height, width, 3)
    uint8 and the source fps."""
    frames, report = prepare_input_video(path, num_frames, height, width, check_faces=False)
    return frames, report.fps
