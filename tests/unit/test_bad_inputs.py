"""The bad-input corpus through the real step logic: each input ends FAILED with its exact reason or
COMPLETE with thumbnails of the right size and the right pixels.

The functions called are the ones the workers call (`create_thumbnails` for resize, `detect_labels` for
analysis), with pipeline.json's limits; only S3 is replaced by memory.
"""

from __future__ import annotations

import io
from collections.abc import Callable

import numpy as np
import pytest
from PIL import GifImagePlugin, Image, ImageCms, ImageFile

from pixelpipe.adapters.onnx_labels import preprocess
from pixelpipe.config import settings
from pixelpipe.logic.analysis import LabelSettings, detect_labels
from pixelpipe.logic.errors import PermanentError
from pixelpipe.logic.images import ImageLimits
from pixelpipe.logic.job_message import JobMessage
from pixelpipe.logic.labels import Label
from pixelpipe.logic.resize import ThumbnailSettings, create_thumbnails
from support import inputs
from support.inputs import BLUE, GREEN, RED, WHITE

CONFIG = settings()
LIMITS = ImageLimits.from_config(CONFIG.limits)
THUMBNAILS = ThumbnailSettings.from_config(CONFIG.thumbnails, CONFIG.storage, "thumbnails")  # 1024, 512, 256
LABELS = LabelSettings(max_labels=5, min_confidence=5, max_side=CONFIG.labels.max_side)


class MemoryStorage:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.written: dict[str, bytes] = {}

    def read(self, bucket: str, key: str, version_id: str | None, max_bytes: int) -> bytes:
        return self.data

    def write(self, bucket: str, key: str, data: bytes, image_format: str) -> None:
        self.written[key] = data


class RecordingBackend:
    name = "recording"

    def __init__(self) -> None:
        self.seen: list[Image.Image] = []

    def detect(self, image: Image.Image, max_labels: int, min_confidence: float) -> list[Label]:
        self.seen.append(image)
        return [Label("thing", 90.0)]


def resize(data: bytes, limits: ImageLimits = LIMITS) -> tuple[list[dict], dict[str, Image.Image]]:
    """The resize step's record and the decoded thumbnails it wrote, by requested size."""
    storage = MemoryStorage(data)
    message = JobMessage("job-1", "uploads", "uploads/input", "v1", ["resize"])
    records = create_thumbnails(message, storage, THUMBNAILS, limits)
    images = {}
    for record in records:
        image = Image.open(io.BytesIO(storage.written[record["key"]]))
        image.load()
        assert image.format == "JPEG" and image.size == (record["width"], record["height"])
        images[record["size"]] = image
    return records, images


def analyse(data: bytes) -> Image.Image:
    """The image the analysis step hands its label backend."""
    backend = RecordingBackend()
    message = JobMessage("job-1", "uploads", "uploads/input", "v1", ["analysis"])
    assert detect_labels(message, MemoryStorage(data), backend, LABELS, LIMITS) == [
        {"name": "thing", "confidence": 90.0}
    ]
    (image,) = backend.seen
    return image


def failure(data: bytes) -> str:
    """The reason both steps fail `data` with (they must agree)."""
    with pytest.raises(PermanentError) as resize_error:
        resize(data)
    with pytest.raises(PermanentError) as analysis_error:
        analyse(data)
    assert resize_error.value.reason == analysis_error.value.reason
    return resize_error.value.reason


def sizes(records: list[dict]) -> list[tuple[int, int, int]]:
    return [(r["size"], r["width"], r["height"]) for r in records]


def assert_colour(image: Image.Image, xy: tuple[int, int], expected: tuple[int, int, int], tol: int = 24):
    actual = image.convert("RGB").getpixel(xy)
    assert all(abs(a - e) <= tol for a, e in zip(actual, expected, strict=True)), (xy, actual, expected)


def assert_quadrants(image: Image.Image, colours=(RED, GREEN, BLUE, WHITE)) -> None:
    """Top-left, top-right, bottom-left, bottom-right of the test pattern, sampled at quadrant centres."""
    w, h = image.size
    centres = [(w // 4, h // 4), (3 * w // 4, h // 4), (w // 4, 3 * h // 4), (3 * w // 4, 3 * h // 4)]
    for xy, colour in zip(centres, colours, strict=True):
        assert_colour(image, xy, colour)


def icc_of(image: Image.Image) -> bytes | None:
    return image.info.get("icc_profile")


# --- rejected inputs: the exact reason --------------------------------------------------------

REJECTED: dict[str, tuple[Callable[[], bytes], str]] = {
    "heic": (inputs.heic_bytes, "unsupported format: HEIC/HEIF"),
    "heic-header-only": (inputs.heic_header, "unsupported format: HEIC/HEIF"),
    # brand mif1 is also claimed by Pillow's AVIF plugin, which must not turn it into "corrupt"
    "heic-brand-mif1": (lambda: inputs.heic_header(b"mif1"), "unsupported format: HEIC/HEIF"),
    "avif": (inputs.avif_bytes, "unsupported format: AVIF"),
    "bomb-50000x50000-1bit.png": (
        inputs.bomb_png_50k,
        "image too large: 2500.0 megapixels is over the 40-megapixel limit (possible decompression bomb)",
    ),
    "zero-0x0.png": (lambda: inputs.png_declaring(0, 0), "empty image: its header declares 0x0 pixels"),
    "zero-width-0x100.png": (
        lambda: inputs.png_declaring(0, 100),
        "empty image: its header declares 0x100 pixels",
    ),
    "zero-0x0.gif": (inputs.gif_declaring_zero_size, "empty image: its header declares 0x0 pixels"),
    "zero-width.jpg": (
        lambda: inputs.jpeg_declaring_width(0),
        "empty image: its header declares 0x80 pixels",
    ),
    "zero-width.bmp": (
        lambda: inputs.bmp_declaring_width(0),
        "empty image: its header declares 0x80 pixels",
    ),
    "png-iccp-3mb.png": (
        inputs.png_with_huge_icc,
        "metadata too large: a compressed PNG chunk (ICC profile or text) expands past 1 MB",
    ),
}


@pytest.mark.parametrize("name", REJECTED)
def test_each_rejected_input_fails_both_steps_with_its_specific_reason(name):
    # GIVEN an input the pipeline must refuse
    make, reason = REJECTED[name]
    # WHEN the resize and analysis steps run on it / THEN both fail permanently with this exact reason
    assert failure(make()) == reason


def test_the_50000_pixel_square_bomb_is_refused_from_its_header_without_decoding(monkeypatch):
    # GIVEN the 2,500-megapixel one-bit PNG, a few hundred KB on disk
    data = inputs.bomb_png_50k()
    assert len(data) < 400_000
    loads = []
    real_load = ImageFile.ImageFile.load
    monkeypatch.setattr(ImageFile.ImageFile, "load", lambda self: loads.append(self) or real_load(self))
    # WHEN both steps run / THEN it fails on the pixel limit and no pixel data was ever decoded
    assert "2500.0 megapixels" in failure(data)
    assert loads == []


# --- accepted inputs: the right output --------------------------------------------------------


@pytest.mark.parametrize("make", [inputs.jpeg_then_zip, inputs.png_then_junk], ids=["jpeg+zip", "png+junk"])
def test_a_polyglot_is_processed_as_its_image_and_nothing_after_the_image_reaches_the_output(make):
    # GIVEN a valid image with a ZIP archive or 64 KB of junk after its end marker
    data = make()
    # WHEN the steps run
    records, images = resize(data)
    labelled = analyse(data)
    # THEN it is the 120x80 quadrant pattern, never upscaled, with the right pixels
    assert sizes(records) == [(1024, 120, 80), (512, 120, 80), (256, 120, 80)]
    for image in images.values():
        assert_quadrants(image)
    assert labelled.size == (120, 80)
    assert_quadrants(labelled, colours=(RED, GREEN, BLUE, WHITE))


def test_the_trailing_zip_of_a_polyglot_is_not_copied_into_thumbnails():
    storage = MemoryStorage(inputs.jpeg_then_zip())
    create_thumbnails(JobMessage("j", "b", "k", None, ["resize"]), storage, THUMBNAILS, LIMITS)
    assert storage.written and all(b"PK\x03\x04" not in data for data in storage.written.values())


@pytest.mark.parametrize("orientation", range(1, 9))
@pytest.mark.parametrize(("width", "height"), [(120, 80), (2400, 1600)], ids=["small", "draft-decoded"])
def test_every_exif_orientation_comes_out_upright(orientation, width, height):
    # GIVEN the quadrant pattern stored as a camera would for this orientation, tagged with it
    # (the 2400x1600 one is large enough for JPEG draft decoding at reduced scale)
    data = inputs.oriented_jpeg(orientation, width, height)
    # WHEN the steps run
    records, images = resize(data)
    labelled = analyse(data)
    # THEN every thumbnail and the labelling input are landscape with red top-left, green top-right,
    # blue bottom-left, white bottom-right, and the thumbnails carry no orientation tag
    expected = (
        [(1024, 120, 80), (512, 120, 80), (256, 120, 80)]
        if width == 120
        else [(1024, 1024, 683), (512, 512, 341), (256, 256, 171)]
    )
    assert sizes(records) == expected
    for image in images.values():
        assert_quadrants(image)
        assert image.getexif().get(0x0112) is None
    assert labelled.size == (width, height)
    assert_quadrants(labelled)


def test_a_60_kb_exif_block_is_read_but_never_copied_into_thumbnails():
    # GIVEN the quadrant pattern with a 60 KB EXIF block
    data = inputs.jpeg_with_huge_exif(60_000)
    assert len(data) > 60_000
    # WHEN thumbnailed
    storage = MemoryStorage(data)
    create_thumbnails(JobMessage("j", "b", "k", None, ["resize"]), storage, THUMBNAILS, LIMITS)
    # THEN each thumbnail is a few KB with no EXIF segment and the right pixels
    for thumb in storage.written.values():
        assert len(thumb) < 4_000 and b"Exif\x00\x00" not in thumb
        assert_quadrants(Image.open(io.BytesIO(thumb)))


def test_a_multi_megabyte_icc_profile_is_applied_to_the_pixels_not_copied_into_every_thumbnail():
    # GIVEN red/green quadrants tagged with a valid 3 MB RGB profile whose red and green are swapped:
    # stored red is displayed green and stored green is displayed red
    data = inputs.jpeg_with_huge_icc(3)
    assert len(data) > 3_000_000
    # WHEN thumbnailed
    records, images = resize(data)
    # THEN the thumbnails are small, carry no profile, and show the colours the profile meant (sRGB)
    assert sizes(records) == [(1024, 120, 80), (512, 120, 80), (256, 120, 80)]
    assert all(record["bytes"] < 4_000 for record in records)
    for image in images.values():
        assert icc_of(image) is None
        assert_quadrants(image, colours=(GREEN, RED, BLUE, WHITE))


def test_a_small_rgb_icc_profile_is_kept_with_the_pixels_untouched():
    # GIVEN the same swapped-primaries profile at its natural size (about 600 bytes)
    profile = inputs.swapped_primaries_icc()
    data = inputs.jpeg_bytes(inputs.quadrants(), quality=95, icc_profile=profile)
    # WHEN thumbnailed
    _, images = resize(data)
    # THEN each thumbnail carries that profile and the stored values, so a viewer shows what the source meant
    for image in images.values():
        assert icc_of(image) == profile
        assert_quadrants(image)


def test_an_unparseable_rgb_icc_profile_is_dropped_not_copied():
    # GIVEN a JPEG whose "profile" has an RGB header but is garbage after it
    junk = inputs.swapped_primaries_icc()[:20] + b"\xff" * 400
    data = inputs.jpeg_bytes(inputs.quadrants(), quality=95, icc_profile=junk)
    # WHEN thumbnailed / THEN it completes, the junk is not passed on, the pixels are as stored
    _, images = resize(data)
    for image in images.values():
        assert icc_of(image) is None
        assert_quadrants(image)


def test_a_10000_frame_gif_is_thumbnailed_from_its_first_frame_without_reading_the_others(monkeypatch):
    # GIVEN a 64x64 GIF of 10,000 frames: a red first frame, then a blue pixel per frame
    data = inputs.gif_with_frames(10_000)
    with Image.open(io.BytesIO(data)) as gif:
        assert gif.n_frames == 10_000
    frames_read = []
    real_seek = GifImagePlugin.GifImageFile._seek

    def recording_seek(self, frame, update_image=True):
        frames_read.append(frame)
        return real_seek(self, frame, update_image)

    monkeypatch.setattr(GifImagePlugin.GifImageFile, "_seek", recording_seek)
    # WHEN the steps run
    records, images = resize(data)
    labelled = analyse(data)
    # THEN the output is the red first frame, and no frame after the first was ever parsed
    assert sizes(records) == [(1024, 64, 64), (512, 64, 64), (256, 64, 64)]
    for image in [*images.values(), labelled]:
        assert_colour(image, (32, 32), RED)
        assert_colour(image, (1, 0), RED)  # frame 2 would have turned this pixel blue
    assert set(frames_read) == {0}


@pytest.mark.parametrize(
    ("make", "expected", "first", "last"),
    [
        (inputs.tall_png, [(1024, 1, 1024), (512, 1, 512), (256, 1, 256)], (0, 0), (0, -1)),
        (inputs.wide_png, [(1024, 1024, 1), (512, 512, 1), (256, 256, 1)], (0, 0), (-1, 0)),
    ],
    ids=["1x65535", "65535x1"],
)
def test_an_extreme_aspect_ratio_keeps_it_with_a_one_pixel_short_side(make, expected, first, last):
    # GIVEN a 1 x 65,535 (or 65,535 x 1) PNG: first half red, second half blue
    data = make()
    # WHEN the steps run
    records, images = resize(data)
    labelled = analyse(data)
    # THEN thumbnails keep the aspect ratio: the long side is the requested size, the short side 1 px
    # (never 0), and the colours run red then blue along the long side
    assert sizes(records) == expected
    for image in images.values():
        w, h = image.size
        assert_colour(image, (first[0] % w, first[1] % h), RED, tol=40)
        assert_colour(image, (last[0] % w, last[1] % h), BLUE, tol=40)
    assert sorted(labelled.size) == [1, 65_535]


@pytest.mark.parametrize("size", [(1, 65_535), (65_535, 1), (3, 40_000)])
def test_the_label_model_input_of_an_extreme_aspect_image_is_a_224_square_of_its_centre(size, monkeypatch):
    # GIVEN a long thin blue image with a red band across the middle of its long side
    w, h = size
    image = Image.new("RGB", size, BLUE)
    image.paste(RED, (w // 2 - 5, 0, w // 2 + 6, h) if w > h else (0, h // 2 - 5, w, h // 2 + 6))
    real_resize = Image.Image.resize

    def bounded_resize(self, size, *args, **kwargs):
        assert size[0] * size[1] <= 1_000_000, f"resize to {size} would hold {size[0] * size[1]:,} pixels"
        return real_resize(self, size, *args, **kwargs)

    monkeypatch.setattr(Image.Image, "resize", bounded_resize)
    # WHEN prepared for the offline model
    batch = preprocess(image)
    # THEN it is one 224x224 square of the centre (all red): the centre crop is taken before scaling,
    # not after a resize of the short side to 256 px (256 x 16.8 million pixels for 1 x 65,535)
    assert batch.shape == (1, 3, 224, 224)
    assert np.allclose(batch[0].mean(axis=(1, 2)), [1.0, -127 / 128, -127 / 128], atol=0.02)


def test_avif_would_be_thumbnailed_correctly_if_allowed_by_configuration():
    # GIVEN AVIF added to allowed_formats (Pillow 13 decodes it; pipeline.json leaves it out)
    limits = ImageLimits(LIMITS.max_input_bytes, LIMITS.max_input_pixels, (*LIMITS.allowed_formats, "AVIF"))
    # WHEN an AVIF is thumbnailed / THEN it is the quadrant pattern at its size
    records, images = resize(inputs.avif_bytes(), limits)
    assert sizes(records) == [(1024, 120, 80), (512, 120, 80), (256, 120, 80)]
    assert_quadrants(images[256])


def test_the_generated_heic_is_a_real_hevc_image_that_pillow_alone_cannot_open():
    import pillow_heif

    data = inputs.heic_bytes()
    assert data[4:12] == b"ftypheic"
    assert pillow_heif.open_heif(data).size == (120, 80)
    with pytest.raises(Image.UnidentifiedImageError):
        Image.open(io.BytesIO(data))


def test_the_generated_bomb_is_a_well_formed_png():
    # The bomb generator repeats one compressed block; prove the technique yields a PNG that decodes
    data = inputs.zero_filled_png(5_000, 2_000, 1)  # 1.25 MB of pixel bytes: two repeated blocks + rest
    with Image.open(io.BytesIO(data)) as image:
        image.load()
        assert image.size == (5_000, 2_000) and image.getextrema() == (0, 0)
    pixels = np.asarray(Image.open(io.BytesIO(inputs.zero_filled_png(3, 2, 8, 2))).convert("RGB"))
    assert pixels.shape == (2, 3, 3) and not pixels.any()


def test_icc_profile_generator_makes_a_profile_lcms_reads_with_red_and_green_swapped():
    profile = ImageCms.ImageCmsProfile(io.BytesIO(inputs.swapped_primaries_icc(1 << 20)))
    srgb = ImageCms.createProfile("sRGB")
    converted = ImageCms.profileToProfile(Image.new("RGB", (1, 1), RED), profile, srgb, outputMode="RGB")
    assert_colour(converted, (0, 0), GREEN, tol=60)
