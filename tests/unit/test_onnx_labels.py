"""The offline label backend names real photos sensibly and refuses a model that is not the shipped one."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import skimage
from PIL import Image

from pixelpipe.adapters.onnx_labels import (
    DEFAULT_MODEL_PATH,
    ModelChecksumError,
    OnnxImageNetLabels,
    merge_duplicates,
    preprocess,
)
from pixelpipe.logic.labels import Label

SKIMAGE_DATA = Path(skimage.__file__).parent / "data"


def skimage_photo(name: str) -> Image.Image:
    """A real photo shipped inside the scikit-image wheel, fully loaded."""
    image = Image.open(SKIMAGE_DATA / name)
    image.load()
    return image


@pytest.fixture(scope="module")
def backend() -> OnnxImageNetLabels:
    return OnnxImageNetLabels()


def test_backend_name_names_the_model_file_it_runs(backend):
    # GIVEN the backend with its default model; WHEN it runs once (so the file is really the one loaded)
    backend.detect(skimage_photo("chelsea.png"), max_labels=1, min_confidence=0)

    # THEN its name (what traces show as the labels' source) is that file's model, not a stale constant
    assert backend.model_path.is_file()
    assert backend.name == "onnx-" + backend.model_path.stem.replace("_", "-")


def test_cat_photo_is_labelled_as_a_cat_with_real_confidence(backend):
    # GIVEN the scikit-image photo of Chelsea the cat
    photo = skimage_photo("chelsea.png")
    # WHEN labelled
    labels = backend.detect(photo, max_labels=5, min_confidence=0)
    # THEN the top label is a kind of cat, as a percent
    assert "cat" in labels[0].name.lower()
    assert 30 < labels[0].confidence <= 100


def test_coffee_photo_is_labelled_espresso(backend):
    labels = backend.detect(skimage_photo("coffee.png"), max_labels=3, min_confidence=0)
    assert labels[0].name in {"espresso", "cup", "coffee mug", "tea cup"}
    assert labels[0].confidence > 50


@pytest.mark.parametrize("max_labels,min_confidence", [(1, 0), (5, 0), (10, 5), (3, 99.9)])
def test_labels_are_sorted_limited_and_above_the_threshold(backend, max_labels, min_confidence):
    labels = backend.detect(skimage_photo("motorcycle_left.png"), max_labels, min_confidence)
    confidences = [label.confidence for label in labels]
    assert all(isinstance(label, Label) for label in labels)
    assert confidences == sorted(confidences, reverse=True)
    assert len(labels) <= max_labels
    assert all(c >= min_confidence for c in confidences)


def test_duplicate_class_names_become_one_label_whose_share_is_summed(backend):
    # GIVEN every label asked for (ImageNet has two "missile" and two "sunglasses" classes)
    labels = backend.detect(skimage_photo("rocket.jpg"), max_labels=1000, min_confidence=0)
    names = [label.name for label in labels]
    # THEN each name appears once and the confidences still add up to 100 %
    assert len(names) == len(set(names)) == 998
    assert sum(label.confidence for label in labels) == pytest.approx(100, abs=1e-3)


def test_merge_duplicates_sums_probabilities_of_equal_names():
    merged = merge_duplicates(["missile", "cat", "missile"], np.array([0.2, 0.5, 0.3]))
    assert merged == pytest.approx({"missile": 0.5, "cat": 0.5})


@pytest.mark.parametrize("mode", ["L", "RGBA", "P", "CMYK"])
def test_non_rgb_images_are_labelled_too(backend, mode):
    # GIVEN the cat photo in another colour mode
    photo = skimage_photo("chelsea.png").convert(mode)
    # WHEN labelled
    labels = backend.detect(photo, max_labels=3, min_confidence=0)
    # THEN labels come back rather than a shape error
    assert len(labels) == 3
    assert labels[0].confidence > 0


def test_preprocess_gives_one_normalised_224_square_whatever_the_aspect():
    for size in [(451, 300), (300, 451), (224, 224), (50, 3000)]:
        batch = preprocess(Image.new("RGB", size, (255, 0, 127)))
        assert batch.shape == (1, 3, 224, 224)
        assert batch.dtype == np.float32
        assert batch[0, :, 112, 112] == pytest.approx([1.0, -127 / 128, 0.0])


def test_model_is_not_loaded_until_the_first_image():
    backend = OnnxImageNetLabels()
    assert backend._session is None
    backend.detect(skimage_photo("coffee.png"), max_labels=1, min_confidence=0)
    session = backend._session
    backend.detect(skimage_photo("chelsea.png"), max_labels=1, min_confidence=0)
    assert backend._session is session


def _copy_model(tmp_path: Path) -> Path:
    for name in ("efficientnet_lite0.onnx", "SHA256SUMS"):
        shutil.copyfile(DEFAULT_MODEL_PATH.with_name(name), tmp_path / name)
    return tmp_path / "efficientnet_lite0.onnx"


def test_a_copied_untouched_model_passes_its_checksum(tmp_path):
    backend = OnnxImageNetLabels(model_path=_copy_model(tmp_path))
    labels = backend.detect(skimage_photo("chelsea.png"), max_labels=1, min_confidence=0)
    assert "cat" in labels[0].name


def test_a_tampered_model_file_is_refused_naming_the_checksum(tmp_path):
    # GIVEN a copy of the model with one byte flipped
    model = _copy_model(tmp_path)
    data = bytearray(model.read_bytes())
    data[len(data) // 2] ^= 0xFF
    model.write_bytes(bytes(data))
    backend = OnnxImageNetLabels(model_path=model)
    # WHEN it is first used THEN it refuses, saying why
    with pytest.raises(ModelChecksumError, match="sha256 checksum mismatch"):
        backend.detect(skimage_photo("chelsea.png"), max_labels=1, min_confidence=0)


def test_a_model_without_recorded_checksum_is_refused(tmp_path):
    model = _copy_model(tmp_path)
    (tmp_path / "SHA256SUMS").unlink()
    with pytest.raises(ModelChecksumError, match="checksum"):
        OnnxImageNetLabels(model_path=model).detect(skimage_photo("chelsea.png"), 1, 0)
