"""Identity: does the generated face still look like the input's person (the paper's ArcFace column)?

ArcFace's weights cannot be downloaded here, so the kit uses the face-recognition network that
installs from the package registry with its weights inside: dlib's ResNet-29 (``dlib-bin`` for
the compiled library, ``face-recognition-models`` for the model files; 99.38% on LFW). A face is
found by dlib's HOG detector (frontal and mildly turned faces; at least ~40 px with upsampling),
aligned by dlib's 5-point shape predictor and mapped to a 128-d embedding.

Score: the cosine similarity of each generated frame's embedding with the input's embedding
(the normalised mean over the input's frames), as ArcFace scores are reported. For this network
the same person typically scores above ~0.9 and dlib's own rule is a Euclidean distance below
0.6; a frame without a detected face scores NaN, and the detection rate is reported beside it.

Taught in notebook 09 (learning camera control at mini scale).
"""

from __future__ import annotations

import functools
import importlib.util
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from facecam_kit.face.landmarks import check_image

EMBEDDING_DIM = 128
_INSTALL = "install them with `pip install dlib-bin==20.0.1.post1 face-recognition-models==0.3.0` (pinned in pyproject)"


def _model_file(name: str) -> Path:
    # find_spec locates the package without running its __init__, which needs setuptools' pkg_resources
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise ValueError(f"the identity metric needs dlib's model files (face-recognition-models): {_INSTALL}")
    path = Path(spec.submodule_search_locations[0]) / "models" / name
    if not path.is_file():
        raise ValueError(f"dlib model file {path} is missing; reinstall face-recognition-models: {_INSTALL}")
    return path


@functools.cache
def _models():
    try:
        import dlib
    except ImportError:
        raise ValueError(f"the identity metric needs dlib: {_INSTALL}") from None
    return (
        dlib.get_frontal_face_detector(),
        dlib.shape_predictor(str(_model_file("shape_predictor_5_face_landmarks.dat"))),
        dlib.face_recognition_model_v1(str(_model_file("dlib_face_recognition_resnet_model_v1.dat"))),
    )


def face_embedding(image) -> np.ndarray:
    """dlib's 128-d embedding of the largest face in an RGB image (H, W, 3) uint8; NaN (128,) if
    no face is found (the detector runs at the image's size, then upsampled once)."""
    image = np.ascontiguousarray(check_image(image))
    detector, shapes, net = _models()
    boxes = detector(image, 0) or detector(image, 1)
    if not boxes:
        return np.full(EMBEDDING_DIM, np.nan)
    box = max(boxes, key=lambda r: r.area())
    return np.array(net.compute_face_descriptor(image, shapes(image, box)), dtype=np.float64)


def face_embeddings(frames, progress: bool = False) -> np.ndarray:
    """Embeddings of every frame (F, H, W, 3) uint8: (F, 128), NaN rows where no face is found."""
    frames = np.asarray(frames)
    if frames.ndim != 4:
        raise ValueError(f"frames must have shape (F, H, W, 3) uint8, got {frames.shape}")
    return np.stack([face_embedding(f) for f in tqdm(frames, desc="identity", disable=not progress)])


def cosine_similarity(a, b) -> np.ndarray:
    """Cosine similarity of embeddings a (…, D) and b (…, D), broadcast; NaN where either is NaN."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return np.sum(a * b, -1) / (np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1))


def identity_similarity(source_frames, generated_frames, progress: bool = False) -> np.ndarray:
    """Cosine similarity of each generated frame's face with the source's (F,) (NaN: no face).

    source_frames: (F', H, W, 3) uint8, the input video (or one frame as (1, H, W, 3));
    generated_frames: (F, H, W, 3) uint8. Raises ValueError if no source frame shows a face.
    """
    src = face_embeddings(source_frames, progress)
    found = np.isfinite(src).all(1)
    if not found.any():
        raise ValueError(
            "dlib found no face in any source frame, so identity cannot be scored: the input needs "
            "a clearly visible, roughly frontal face at least ~40 px tall"
        )
    reference = (src[found] / np.linalg.norm(src[found], axis=1, keepdims=True)).mean(0)
    return cosine_similarity(face_embeddings(generated_frames, progress), reference)
