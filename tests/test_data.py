import numpy as np

from facecam_kit.assets import DATA_DIR, load_sample_portrait
from facecam_kit.data.samples import make_data_samples
from facecam_kit.face import topology
from facecam_kit.face.template import FACE_HEIGHT, load_template


def test_samples_regenerate_from_source(tmp_path):
    make_data_samples(tmp_path)
    import imageio.v3 as iio

    np.testing.assert_array_equal(iio.imread(tmp_path / "portrait.png"), load_sample_portrait())
    np.testing.assert_allclose(np.load(tmp_path / "head_template.npy"), load_template(), atol=1e-9)
    from facecam_kit.assets import data_path
    from facecam_kit.video import read_video

    fresh, committed = read_video(tmp_path / "sample_clip.mp4")[0], read_video(data_path("sample_clip.mp4"))[0]
    assert fresh.shape == committed.shape == (33, 512, 348, 3)
    assert np.abs(fresh.astype(int) - committed).mean() < 1
    assert (DATA_DIR / "README.md").read_text().count("public domain")


def test_template_is_a_symmetric_frontal_head(template):
    assert template.shape == (478, 3)
    # symmetric: the mirrored point set is the same set
    mirrored = template * [-1, 1, 1]
    d = np.linalg.norm(mirrored[:, None] - template[None], axis=-1).min(1)
    assert d.max() < 1e-9
    # facing -Y, +Z up, forehead above chin, nose in front, scaled as documented
    assert template[topology.NOSE_TIP, 1] == template[:, 1].min()
    assert template[topology.FOREHEAD, 2] > template[topology.CHIN, 2]
    assert np.linalg.norm(template[topology.FOREHEAD] - template[topology.CHIN]) == FACE_HEIGHT
    assert template[topology.CHEEK_LEFT, 0] > 0 > template[topology.CHEEK_RIGHT, 0]
