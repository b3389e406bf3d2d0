"""Facial landmarks with MediaPipe FaceMesh (legacy solution API, model bundled in the wheel).

Detection returns 478 landmarks (468 mesh points + 10 iris points) in *pixel* units:
``x * W``, ``y * H`` and MediaPipe's relative depth ``z * W`` (z uses roughly the scale of x;
smaller is closer to the camera).

MediaPipe's native start-up messages (TFLite's "Created TensorFlow Lite XNNPACK delegate", absl's
"All log messages before absl::InitializeLog()", inference_feedback_manager warnings) go straight
to file descriptor 2 when a subgraph starts; they are filtered out while a detector is open, so
that notebooks show no red boxes for a normal start.

Taught in notebook 02 (PnP from landmarks).
"""

from __future__ import annotations

import atexit
import os
import re
import sys
import threading
import warnings

import numpy as np
from tqdm.auto import tqdm

from facecam_kit.face.topology import NUM_LANDMARKS


class NoFaceDetected(ValueError):
    """MediaPipe found no face. ``frame_index`` is set for videos, ``source`` names the input."""

    def __init__(self, source: str = "image", frame_index: int | None = None):
        self.source, self.frame_index = source, frame_index
        where = f"frame {frame_index} of {source}" if frame_index is not None else source
        super().__init__(
            f"No face detected in {where}. FaceCam needs one clearly visible face in every frame: "
            f"check that the frame shows a face, not turned further than profile, and at least "
            f"~60 px tall (crop or upscale small faces); images must be RGB uint8."
        )


def check_image(image, name: str = "image") -> np.ndarray:
    """Validate an RGB image: (H, W, 3) uint8, H and W >= 1.

    An RGBA image (H, W, 4) is composited over white, as a photo editor flattens it, with a
    warning; anything else raises ValueError naming ``name``.
    """
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[2] not in (3, 4) or image.dtype != np.uint8:
        raise ValueError(
            f"{name} must be an RGB image of shape (H, W, 3) and dtype uint8, got "
            f"shape {image.shape} and dtype {image.dtype}"
        )
    if image.shape[0] == 0 or image.shape[1] == 0:
        raise ValueError(f"{name} is empty ({image.shape[0]}x{image.shape[1]} pixels); pass an image that shows a face")
    if image.shape[2] == 4:
        warnings.warn(f"{name} has an alpha channel: composited over white", stacklevel=2)
        alpha = image[..., 3:].astype(np.float32) / 255
        image = (image[..., :3] * alpha + 255 * (1 - alpha) + 0.5).astype(np.uint8)
    return image


# MediaPipe's start-up lines: TFLite's delegate notice, absl's pre-init warning, absl-format
# warnings ("W0000 00:00:1795.. 17953 inference_feedback_manager.cc:114] ...")
_NATIVE_LOG = re.compile(
    rb"^(INFO: Created TensorFlow Lite|WARNING: All log messages before absl::InitializeLog"
    rb"|[IWE]\d{4} [\d:.]+ +\d+ \w+\.cc:\d+\])"
)
_MAYBE_NATIVE_LOG = (b"INFO: ", b"WARNING: ", b"I0", b"W0", b"E0")


class _StderrFilter:
    """While any detector is open, file descriptor 2 goes through a pipe, and a thread passes on
    everything but MediaPipe's start-up lines. Its graph threads log at unpredictable moments
    (on creation, at the first face, on close, sometimes just after ``process`` returns), so
    silencing only around the calls lets some through. Python's own stderr (tqdm bars,
    tracebacks) still arrives: the last detector to close, or the interpreter's exit, drains it."""

    def __init__(self):
        self._users, self._lock = 0, threading.Lock()
        atexit.register(self._stop)  # a detector never closed: the last lines still come out

    def acquire(self) -> None:
        with self._lock:
            self._users += 1
            if self._users == 1:
                sys.stderr.flush()
                self._saved = os.dup(2)
                read, write = os.pipe()
                os.dup2(write, 2)
                os.close(write)
                self._thread = threading.Thread(target=self._forward, args=(read, self._saved), daemon=True)
                self._thread.start()

    def release(self) -> None:
        with self._lock:
            self._users -= 1
            if self._users == 0:
                self._restore()

    def _stop(self) -> None:
        with self._lock:
            if self._users > 0:
                self._users = 0
                self._restore()

    def _restore(self) -> None:
        sys.stderr.flush()
        os.dup2(self._saved, 2)  # closes the pipe's write end: the thread sees EOF
        self._thread.join(timeout=2)  # longer only if a child process still holds the pipe
        if not self._thread.is_alive():  # else it still writes there
            os.close(self._saved)

    @staticmethod
    def _forward(read: int, out: int) -> None:
        buf = b""
        while chunk := os.read(read, 65536):
            *lines, buf = (buf + chunk).split(b"\n")
            kept = b"".join(line + b"\n" for line in lines if not _NATIVE_LOG.match(line))
            if buf and not buf.startswith(_MAYBE_NATIVE_LOG):  # a progress bar's "\r..." goes on at once
                kept, buf = kept + buf, b""
            if kept:
                os.write(out, kept)
        if buf and not _NATIVE_LOG.match(buf):
            os.write(out, buf)
        os.close(read)


#: shared by every MediaPipe graph the kit opens (FaceMesh here, selfie segmentation in data.augment)
STDERR_FILTER = _StderrFilter()


class LandmarkDetector:
    """A reusable MediaPipe FaceMesh with iris refinement (478 points).

    Use as a context manager, or call :meth:`close`. By default (``video=False``) every frame is
    detected from scratch, so results do not depend on the previous frame (deterministic);
    ``video=True`` is MediaPipe's video mode (tracking between consecutive frames, faster).
    ``max_faces`` > 1 lets :meth:`detect_all` count the faces; :meth:`detect` returns the largest.
    """

    def __init__(self, min_detection_confidence: float = 0.5, max_faces: int = 1, video: bool = False):
        import mediapipe as mp

        STDERR_FILTER.acquire()
        try:
            self._mesh = mp.solutions.face_mesh.FaceMesh(
                static_image_mode=not video,
                max_num_faces=max_faces,
                refine_landmarks=True,
                min_detection_confidence=min_detection_confidence,
            )
        except BaseException:
            STDERR_FILTER.release()
            raise
        self._open = True

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self) -> None:
        if self._open:
            self._open = False
            try:
                self._mesh.close()
            finally:
                STDERR_FILTER.release()

    def __del__(self):
        if getattr(self, "_open", False):
            self.close()

    def detect_all(self, image, source: str = "image") -> list[np.ndarray]:
        """Every face found in ``image`` (H, W, 3) uint8 RGB, largest first: a list of (478, 3)
        float64 pixel arrays (empty when there is none)."""
        image = check_image(image, source)
        h, w = image.shape[:2]
        result = self._mesh.process(np.ascontiguousarray(image))
        faces = []
        for face in result.multi_face_landmarks or []:
            xyz = np.array([(p.x, p.y, p.z) for p in face.landmark], dtype=np.float64)
            assert xyz.shape == (NUM_LANDMARKS, 3)
            faces.append(xyz * np.array([w, h, w]))
        return sorted(faces, key=lambda f: -np.prod(np.ptp(f[:, :2], axis=0)))

    def detect(self, image, source: str = "image", frame_index: int | None = None) -> np.ndarray:
        """Landmarks of the (largest) face in ``image`` (H, W, 3) uint8 RGB: (478, 3) float64 pixels."""
        faces = self.detect_all(image, source)
        if not faces:
            raise NoFaceDetected(source, frame_index)
        return faces[0]


def detect_landmarks(image, source: str = "image") -> np.ndarray:
    """Landmarks of one RGB image (H, W, 3) uint8: (478, 3) float64 pixels. Raises NoFaceDetected."""
    image = check_image(image, source)
    with LandmarkDetector() as det:
        return det.detect(image, source)


def detect_landmarks_video(
    frames, source: str = "video", progress: bool = True, allow_missing: bool = False
) -> np.ndarray:
    """Landmarks of every frame, (F, H, W, 3) uint8 RGB -> (F, 478, 3) float64 pixels.

    Raises NoFaceDetected with the index of the first frame without a face, or with
    ``allow_missing`` fills such frames with NaN (to measure detection rates).
    """
    frames = np.asarray(frames)
    if frames.ndim != 4:
        raise ValueError(f"{source} must be frames of shape (F, H, W, 3) uint8, got {frames.shape}")
    out = np.full((len(frames), NUM_LANDMARKS, 3), np.nan)
    with LandmarkDetector() as det:
        for i, f in enumerate(tqdm(frames, desc="landmarks", disable=not progress)):
            try:
                out[i] = det.detect(f, source, i)
            except NoFaceDetected:
                if not allow_missing:
                    raise
    return out
