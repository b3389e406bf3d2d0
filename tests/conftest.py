import os

import pytest

# Under pytest-xdist (`make test` runs two workers on the two cores) each worker, and every notebook
# kernel or CLI it starts, gets one thread: two processes of two spinning threads each on two cores
# run many times slower. Set here, before any test module imports torch, OpenCV or MediaPipe.
if os.environ.get("PYTEST_XDIST_WORKER"):
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = "1"


@pytest.fixture(scope="session")
def portrait():
    from facecam_kit.assets import load_sample_portrait

    return load_sample_portrait()


@pytest.fixture(scope="session")
def portrait_landmarks(portrait):
    from facecam_kit.face.landmarks import detect_landmarks

    return detect_landmarks(portrait)


@pytest.fixture(scope="session")
def template():
    from facecam_kit.face.template import load_template

    return load_template()
