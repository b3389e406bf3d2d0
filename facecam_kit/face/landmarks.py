"""Facial landmarks with MediaPipe FaceMesh (legacy solution API, model bundled in the wheel).

Detection returns 478 landmarks (468 mesh points + 10 iris points) in *pixel* units:
``x * W``, ``y * H`` and MediaPipe's relative depth ``z * W`` (z uses roughly the scale of x;
smaller is closer to the camera).

Taught in notebook 02 (PnP from landmarks).
"""

from __future__ import annotations

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
    """Validate an RGB image: (H, W, 3) uint8."""
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(
            f"{name} must be an RGB image of shape (H, W, 3) and dtype uint8, got "
            f"shape {image.shape} and dtype {image.dtype}"
        )
    return image


class LandmarkDetector:
    """A reusable MediaPipe FaceMesh: one face, iris refinement on (478 points).

    Use as a context manager, or call :meth:`close`. ``static_image_mode=True`` detects every
    frame from scratch, so results do not depend on the previous frame (deterministic).
    """

    def __init__(self, min_detection_confidence: float = 0.5):
        import mediapipe as mp

        self._mesh = mp.solutions.face_mesh.FaceMesh(
            static_image_mode=True,
            max_num_faces=1,
            refine_landmarks=True,
            min_detection_confidence=min_detection_confidence,
        )

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self) -> None:
        self._mesh.close()

    def detect(self, image, source: str = "image", frame_index: int | None = None) -> np.ndarray:
        """Landmarks of the face in ``image`` (H, W, 3) uint8 RGB: (478, 3) float64 pixels."""
        image = check_image(image, source)
        h, w = image.shape[:2]
        result = self._mesh.process(np.ascontiguousarray(image))
        if not result.multi_face_landmarks:
            raise NoFaceDetected(source, frame_index)
        lm = result.multi_face_landmarks[0].landmark
        xyz = np.array([(p.x, p.y, p.z) for p in lm], dtype=np.float64)
        assert xyz.shape == (NUM_LANDMARKS, 3)
        return xyz * np.array([w, h, w])


def detect_landmarks(image, source: str = "image") -> np.ndarray:
    """Landmarks of one RGB image (H, W, 3) uint8: (478, 3) float64 pixels. Raises NoFaceDetected."""
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
