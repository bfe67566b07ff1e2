"""Behaviour of pixelpipe.logic.images on real images: Pillow-built ones and scikit-image's sample photos."""

from __future__ import annotations

import io
import pathlib
import random

import numpy as np
import pytest
import skimage
from PIL import Image, ImageFile

from pixelpipe.config import settings
from pixelpipe.logic.errors import PermanentError
from pixelpipe.logic.images import ImageLimits, encode_jpeg, make_thumbnails, open_image, to_rgb
from support.inputs import zero_filled_png

SKIMAGE_DATA = pathlib.Path(skimage.__file__).parent / "data"
LIMITS = ImageLimits.from_config(settings().limits)
RED, BLUE, WHITE = (255, 0, 0), (0, 0, 255), (255, 255, 255)


# --- helpers ----------------------------------------------------------------------------------


def sample_photo(name: str) -> Image.Image:
    with Image.open(SKIMAGE_DATA / name) as image:
        return image.convert("RGB")


def encoded(image: Image.Image, fmt: str, **params) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **params)
    return buffer.getvalue()


def decoded(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def mean_colour(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("RGB"), dtype=np.float64).reshape(-1, 3).mean(axis=0)


def assert_close(colour, expected, tolerance: float = 12) -> None:
    assert np.all(np.abs(np.asarray(colour, dtype=float) - np.asarray(expected, dtype=float)) <= tolerance), (
        f"{tuple(colour)} is not within {tolerance} of {tuple(expected)}"
    )


def permanent_reason(data: bytes, limits: ImageLimits = LIMITS) -> str:
    with pytest.raises(PermanentError) as caught:
        make_thumbnails(data, [256], "JPEG", 85, limits)
    with pytest.raises(PermanentError) as caught_open:
        open_image(data, limits)
    assert caught.value.reason == caught_open.value.reason
    return caught.value.reason


# --- sizes and fidelity -----------------------------------------------------------------------


def test_thumbnails_of_a_real_photo_keep_aspect_ratio_and_never_upscale():
    # GIVEN the 451x300 chelsea photo as a PNG upload
    source = sample_photo("chelsea.png")
    data = (SKIMAGE_DATA / "chelsea.png").read_bytes()

    # WHEN thumbnails of 1024, 256 and 64 are made
    thumbs = make_thumbnails(data, [1024, 256, 64], "JPEG", 85, LIMITS)

    # THEN they come back in the requested order with the expected sizes (1024 is not upscaled)
    assert [t.size for t in thumbs] == [1024, 256, 64]
    assert (thumbs[0].width, thumbs[0].height) == (451, 300)
    assert thumbs[1].width == 256 and abs(thumbs[1].height - 170) <= 1
    assert thumbs[2].width == 64 and abs(thumbs[2].height - 43) <= 1
    for thumb in thumbs:
        # AND each is a real JPEG of the stated size that looks like the source
        image = decoded(thumb.data)
        assert image.format == "JPEG" and image.mode == "RGB"
        assert image.size == (thumb.width, thumb.height)
        assert thumb.format == "JPEG" and thumb.content_type == "image/jpeg"
        reference = source.resize(image.size, Image.Resampling.LANCZOS)
        assert_close(mean_colour(image), mean_colour(reference), tolerance=3)
        difference = np.abs(np.asarray(image, dtype=float) - np.asarray(reference, dtype=float))
        assert difference.mean() < 8


def test_results_follow_the_requested_order_even_with_duplicates():
    # GIVEN the coffee photo (600x400)
    data = (SKIMAGE_DATA / "coffee.png").read_bytes()

    # WHEN sizes are given smallest first, with a repeat
    thumbs = make_thumbnails(data, [64, 300, 64], "JPEG", 85, LIMITS)

    # THEN the results mirror that order
    assert [(t.size, t.width, t.height) for t in thumbs] == [(64, 64, 43), (300, 300, 200), (64, 64, 43)]


def test_large_jpeg_uses_reduced_decoding_and_still_matches_the_source():
    # GIVEN a 2400x1600 JPEG (large enough for a 1/4-scale draft decode for the 512 thumbnail)
    source = sample_photo("coffee.png").resize((2400, 1600), Image.Resampling.BICUBIC)
    data = encoded(source, "JPEG", quality=92)

    # WHEN thumbnails are made
    big, small = make_thumbnails(data, [512, 128], "JPEG", 85, LIMITS)

    # THEN sizes are exact and colours match a full-quality resize of the source
    assert (big.width, big.height, small.width, small.height) == (512, 341, 128, 85)
    for thumb in (big, small):
        image = decoded(thumb.data)
        reference = source.resize(image.size, Image.Resampling.LANCZOS)
        assert_close(mean_colour(image), mean_colour(reference), tolerance=3)


@pytest.mark.parametrize(("fmt", "content_type"), [("WEBP", "image/webp"), ("PNG", "image/png")])
def test_thumbnails_can_be_encoded_as_webp_or_png(fmt, content_type):
    # GIVEN the astronaut photo (512x512)
    data = (SKIMAGE_DATA / "astronaut.png").read_bytes()

    # WHEN thumbnails are requested in another output format
    (thumb,) = make_thumbnails(data, [128], fmt, 80, LIMITS)

    # THEN the bytes really are that format
    image = decoded(thumb.data)
    assert image.format == fmt and image.size == (128, 128)
    assert thumb.content_type == content_type


# --- orientation and metadata -----------------------------------------------------------------


SAMPLES = pathlib.Path(__file__).parents[2] / "samples"


def test_a_sideways_exif_photo_is_turned_upright_exactly_once():
    # GIVEN the cat photo stored on its side (300x451 px) with EXIF Orientation 6, and the upright original
    sideways = (SAMPLES / "cat-sideways-exif.jpg").read_bytes()
    upright = Image.open(SAMPLES / "cat.png").convert("RGB")
    assert decoded(sideways).size == (300, 451)

    # WHEN made into a thumbnail, and opened for labelling
    (thumb,) = make_thumbnails(sideways, [256], "JPEG", 90, LIMITS)
    opened = open_image(sideways, LIMITS)

    # THEN both are landscape, like the original (a second rotation would turn it 180 degrees or portrait)
    image = decoded(thumb.data)
    assert (thumb.width, thumb.height) == image.size == (256, 170)
    assert opened.size == (451, 300)
    # AND their pixels match the upright original, not the original turned upside down
    for result in (image, opened):
        reference = upright.resize(result.size, Image.Resampling.LANCZOS)
        pixels = np.asarray(result.convert("RGB"), dtype=float)
        assert np.abs(pixels - np.asarray(reference, dtype=float)).mean() < 8
        turned = np.asarray(reference.rotate(180), dtype=float)
        assert np.abs(pixels - turned).mean() > 30


def test_exif_orientation_is_applied_and_not_left_in_the_output():
    # GIVEN a 200x100 JPEG, left half red and right half blue, tagged Orientation=6 (rotate 90 CW)
    image = Image.new("RGB", (200, 100), BLUE)
    image.paste(RED, (0, 0, 100, 100))
    exif = Image.Exif()
    exif[0x0112] = 6
    exif[0x010F] = "Test Camera"  # Make, to prove metadata is stripped
    data = encoded(image, "JPEG", quality=95, exif=exif)

    # WHEN a thumbnail is made
    (thumb,) = make_thumbnails(data, [1024], "JPEG", 90, LIMITS)

    # THEN it is displayed portrait with red on top and blue below
    result = decoded(thumb.data)
    assert (thumb.width, thumb.height) == (100, 200) == result.size
    assert_close(result.getpixel((50, 50)), RED)
    assert_close(result.getpixel((50, 150)), BLUE)
    # AND the output carries no EXIF that could rotate it a second time
    assert dict(result.getexif()) == {}


def test_open_image_applies_orientation_too():
    # GIVEN the same kind of EXIF-rotated JPEG
    image = Image.new("RGB", (200, 100), BLUE)
    image.paste(RED, (0, 0, 100, 100))
    exif = Image.Exif()
    exif[0x0112] = 6
    data = encoded(image, "JPEG", quality=95, exif=exif)

    # WHEN it is opened for labelling
    opened = open_image(data, LIMITS)

    # THEN the pixels are upright and the orientation tag is gone
    assert opened.size == (100, 200)
    assert_close(opened.getpixel((50, 10)), RED)
    assert opened.getexif().get(0x0112) in (None, 1)


# --- source formats and modes -----------------------------------------------------------------


def test_cmyk_jpeg_becomes_rgb_with_the_right_colour():
    # GIVEN a CMYK JPEG of pure red (C=0, M=100%, Y=100%, K=0)
    data = encoded(Image.new("CMYK", (300, 200), (0, 255, 255, 0)), "JPEG", quality=95)
    assert decoded(data).mode == "CMYK"

    # WHEN thumbnailed
    (thumb,) = make_thumbnails(data, [150], "JPEG", 90, LIMITS)

    # THEN the result is an RGB JPEG that is red
    result = decoded(thumb.data)
    assert result.mode == "RGB" and result.size == (150, 100)
    assert_close(mean_colour(result), RED)


def test_16_bit_greyscale_png_is_stretched_over_the_full_8_bit_range():
    # GIVEN a 16-bit PNG whose values run left to right from 1000 to 5000 (far below 65535)
    gradient = np.tile(np.linspace(1000, 5000, 400), (100, 1)).astype(np.uint16)
    data = encoded(Image.fromarray(gradient), "PNG")
    assert decoded(data).mode == "I;16"

    # WHEN thumbnailed
    (thumb,) = make_thumbnails(data, [200], "JPEG", 95, LIMITS)

    # THEN the output is neither black nor white but a full-range gradient from dark to light
    grey = np.asarray(decoded(thumb.data).convert("L"), dtype=float)
    assert grey.shape == (50, 200)
    assert grey.min() <= 5 and grey.max() >= 250
    assert 100 < grey.mean() < 155
    assert grey[:, :10].mean() < 20 and grey[:, -10:].mean() > 235


def test_transparent_areas_of_a_palette_png_become_white():
    # GIVEN a palette PNG: left half uses a transparent black entry, right half opaque red
    image = Image.new("P", (200, 100), 0)
    image.putpalette([0, 0, 0, 255, 0, 0])
    image.paste(1, (100, 0, 200, 100))
    data = encoded(image, "PNG", transparency=0)

    # WHEN thumbnailed
    (thumb,) = make_thumbnails(data, [100], "JPEG", 95, LIMITS)

    # THEN transparent pixels are white (not black) and the opaque ones stay red
    result = decoded(thumb.data)
    assert result.size == (100, 50)
    assert_close(result.getpixel((20, 25)), WHITE)
    assert_close(result.getpixel((80, 25)), RED)


def test_animated_gif_uses_the_first_frame():
    # GIVEN a 3-frame GIF: red, then green, then blue
    frames = [Image.new("RGB", (120, 80), colour) for colour in (RED, (0, 255, 0), BLUE)]
    data = encoded(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    assert decoded(data).n_frames == 3

    # WHEN thumbnailed and opened
    (thumb,) = make_thumbnails(data, [60], "JPEG", 90, LIMITS)
    opened = open_image(data, LIMITS)

    # THEN both show frame 1 (red)
    assert (thumb.width, thumb.height) == (60, 40)
    assert_close(mean_colour(decoded(thumb.data)), RED)
    assert_close(mean_colour(opened), RED, tolerance=1)
    assert not getattr(opened, "is_animated", False)


@pytest.mark.parametrize(
    ("photo", "fmt", "expected"),
    [
        ("coffee.png", "WEBP", (256, 171)),
        ("astronaut.png", "TIFF", (256, 256)),
        ("chelsea.png", "BMP", (256, 170)),
    ],
)
def test_webp_tiff_and_bmp_sources_produce_valid_thumbnails(photo, fmt, expected):
    # GIVEN a real photo re-encoded as WEBP, TIFF or BMP
    source = sample_photo(photo)
    data = encoded(source, fmt)

    # WHEN thumbnailed
    (thumb,) = make_thumbnails(data, [256], "JPEG", 85, LIMITS)

    # THEN the thumbnail has the right size and resembles the photo
    result = decoded(thumb.data)
    assert result.size == expected == (thumb.width, thumb.height)
    assert_close(mean_colour(result), mean_colour(source.resize(expected, Image.Resampling.LANCZOS)), 4)


def _image_in_mode(mode: str) -> Image.Image:
    """A 240x160 image in `mode` with real content (the chelsea photo or a gradient)."""
    photo = sample_photo("chelsea.png").resize((240, 160))
    ramp = np.tile(np.linspace(0.0, 1.0, 240), (160, 1))
    if mode == "I":
        return Image.fromarray((ramp * 100_000 - 20_000).astype(np.int32))
    if mode == "I;16":
        return Image.fromarray((ramp * 60_000).astype(np.uint16))
    if mode == "F":
        return Image.fromarray((ramp * 3.5 - 1.0).astype(np.float32))
    if mode in ("RGBA", "LA"):
        with_alpha = photo.convert(mode)
        with_alpha.putalpha(Image.fromarray((ramp * 255).astype(np.uint8)))
        return with_alpha
    return photo.convert(mode)


ALL_MODES = ["1", "L", "P", "RGB", "RGBA", "LA", "CMYK", "I", "I;16", "F"]
PNG_MODES = {"1", "L", "P", "RGB", "RGBA", "LA", "I;16"}


@pytest.mark.parametrize("mode", ALL_MODES)
def test_every_common_mode_converts_to_rgb_and_thumbnails(mode):
    # GIVEN an image with real content in this mode, stored as TIFF (and PNG where PNG can hold it)
    image = _image_in_mode(mode)
    assert image.mode == mode
    containers = ["TIFF", "PNG"] if mode in PNG_MODES else ["TIFF"]

    # WHEN it is converted directly
    rgb = to_rgb(image)

    # THEN it is 8-bit RGB with some contrast left
    assert rgb.mode == "RGB" and rgb.size == image.size
    low, high = zip(*rgb.getextrema(), strict=True)
    assert max(high) - min(low) > 100

    for container in containers:
        # AND thumbnails from the stored file work
        (thumb,) = make_thumbnails(encoded(image, container), [120], "JPEG", 85, LIMITS)
        result = decoded(thumb.data)
        assert result.mode == "RGB" and result.size == (120, 80)


@pytest.mark.parametrize("mode", ["YCbCr", "LAB", "HSV", "RGBX", "PA", "RGBa", "La", "I;16B"])
def test_less_common_modes_also_convert_to_rgb(mode):
    # GIVEN a small image in an unusual mode
    base = Image.new("RGB", (16, 16), RED)
    if mode == "PA":
        image = base.convert("P").convert("PA")
    elif mode == "La":
        image = Image.new("LA", (16, 16), (120, 255)).convert("La")
    elif mode == "I;16B":
        image = Image.new("I;16B", (16, 16), 1000)
    else:
        image = base.convert(mode)
    assert image.mode == mode

    # WHEN converted
    rgb = to_rgb(image)

    # THEN it is RGB, and colour survives where the mode carries colour
    assert rgb.mode == "RGB" and rgb.size == (16, 16)
    if mode in ("YCbCr", "LAB", "HSV", "RGBX", "PA", "RGBa"):
        assert_close(rgb.getpixel((8, 8)), RED, tolerance=8)


def test_semi_transparent_pixels_are_blended_onto_white():
    # GIVEN red at 50% opacity
    image = Image.new("RGBA", (4, 4), (255, 0, 0, 128))

    # WHEN converted
    pixel = to_rgb(image).getpixel((0, 0))

    # THEN it is pink (red over white), not dark red (red over black)
    assert_close(pixel, (255, 127, 127), tolerance=2)


# --- bad inputs -------------------------------------------------------------------------------


def test_empty_file_is_rejected():
    # GIVEN / WHEN zero bytes / THEN
    assert permanent_reason(b"") == "empty file"


def test_random_bytes_are_not_an_image():
    # GIVEN 4 KiB of random bytes
    data = random.Random(20240601).randbytes(4096)

    # WHEN / THEN
    assert permanent_reason(data) == "not a recognised image format"


def test_text_renamed_as_jpg_is_reported_as_text():
    # GIVEN the bytes of a text file (its name is irrelevant: only bytes are passed)
    # WHEN / THEN
    assert permanent_reason(b"hello world") == "not an image: content looks like text"


def test_other_file_types_are_named():
    # GIVEN a PDF and some HTML
    # WHEN / THEN the reason says what the content looks like
    assert "PDF" in permanent_reason(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n")
    assert "HTML" in permanent_reason(b"<!DOCTYPE html><html><body>hi</body></html>")


@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_truncated_image_is_rejected_as_corrupt(fmt):
    # GIVEN a valid photo cut off at half its length
    data = encoded(sample_photo("chelsea.png"), fmt)
    truncated = data[: len(data) // 2]

    # WHEN / THEN
    assert permanent_reason(truncated).startswith("corrupt or truncated image")


def test_truncation_stays_an_error_even_if_pillow_was_told_to_tolerate_it(monkeypatch):
    # GIVEN some other code switched Pillow to tolerate truncated files
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)
    data = encoded(sample_photo("chelsea.png"), "JPEG")

    # WHEN / THEN a truncated file is still rejected, and the setting is left as it was
    assert permanent_reason(data[: len(data) // 2]).startswith("corrupt or truncated image")
    assert ImageFile.LOAD_TRUNCATED_IMAGES is True


def test_header_of_an_image_that_cannot_be_read_is_reported_as_corrupt():
    # GIVEN a PNG signature followed by garbage
    # WHEN / THEN
    assert permanent_reason(b"\x89PNG\r\n\x1a\n" + b"\x07" * 100).startswith("corrupt or truncated image")


def test_an_image_over_our_pixel_limit_but_under_pillows_is_rejected_before_decoding(monkeypatch):
    # GIVEN a tiny PNG declaring 48 MP: over the 40 MP limit, under Pillow's own bomb limit (a bomb far
    # past both is tests/unit/test_bad_inputs.py's)
    data = zero_filled_png(8_000, 6_000, 8)
    assert len(data) < 200_000
    loads = []
    real_load = ImageFile.ImageFile.load
    monkeypatch.setattr(ImageFile.ImageFile, "load", lambda self: loads.append(self) or real_load(self))
    pillow_limit_before = Image.MAX_IMAGE_PIXELS

    # WHEN it is submitted
    reason = permanent_reason(data)

    # THEN it is rejected as too large without any pixel decoding
    assert reason.startswith("image too large") and "megapixel limit" in reason
    assert loads == []
    assert pillow_limit_before == Image.MAX_IMAGE_PIXELS


def test_file_larger_than_the_byte_limit_is_rejected():
    # GIVEN a valid JPEG and a limit smaller than it
    data = encoded(sample_photo("chelsea.png"), "JPEG")
    limits = ImageLimits(
        max_input_bytes=len(data) - 1, max_input_pixels=40_000_000, allowed_formats=("JPEG",)
    )

    # WHEN / THEN
    assert permanent_reason(data, limits).startswith("file too large")


def test_bad_arguments_are_programming_errors_not_permanent_failures():
    # GIVEN a valid image
    data = (SKIMAGE_DATA / "chelsea.png").read_bytes()

    # WHEN called with an unknown output format or a zero size / THEN ValueError
    with pytest.raises(ValueError):
        make_thumbnails(data, [256], "GIF", 85, LIMITS)
    with pytest.raises(ValueError):
        make_thumbnails(data, [0], "JPEG", 85, LIMITS)


# --- helpers for other callers ----------------------------------------------------------------


def test_limits_normalise_format_names_as_users_write_them():
    # GIVEN a limits section spelling formats as file extensions, in any case, with stray spaces
    limits = ImageLimits.from_config(
        settings().limits.model_copy(
            update={
                "max_input_bytes": 1024,
                "max_input_pixels": 4096,
                "allowed_formats": ["jpg", " Tif ", "png"],
            }
        )
    )

    # THEN they become Pillow's names, so a JPEG (or a phone's MPO) and a TIFF are accepted
    assert limits.allowed_formats == ("JPEG", "TIFF", "PNG")
    assert open_image(encoded(Image.new("RGB", (8, 8), RED), "TIFF"), limits).size == (8, 8)
    # AND a format left out of the list is refused by name
    assert (
        permanent_reason(encoded(Image.new("RGB", (8, 8), RED), "GIF"), limits) == "unsupported format: GIF"
    )


def test_encode_jpeg_limits_the_longest_side():
    # GIVEN the astronaut photo opened for labelling
    image = open_image((SKIMAGE_DATA / "astronaut.png").read_bytes(), LIMITS)

    # WHEN encoded for Rekognition with a 256 px cap, and with a byte cap
    data = encode_jpeg(to_rgb(image), 256, 90)
    capped = encode_jpeg(image, 2048, 95, max_bytes=20_000)

    # THEN the JPEGs respect the caps
    assert decoded(data).format == "JPEG" and decoded(data).size == (256, 256)
    assert len(capped) <= 20_000 and decoded(capped).format == "JPEG"
