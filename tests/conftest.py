import numpy as np
import pytest

from facecam_kit.assets import load_sample_portrait
from facecam_kit.face.landmarks import detect_landmarks
from facecam_kit.face.template import load_template


@pytest.fixture(scope="session")
def portrait() -> np.ndarray:
    return load_sample_portrait()


@pytest.fixture(scope="session")
def portrait_landmarks(portrait) -> np.ndarray:
    return detect_landmarks(portrait)


@pytest.fixture(scope="session")
def template() -> np.ndarray:
    return load_template()
