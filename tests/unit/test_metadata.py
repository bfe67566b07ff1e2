"""The metadata step's logic on real photos: EXIF summary, GPS flag (never the coordinates), the
perceptual hash's near-duplicate distances, dominant colours, and bad input failing as in every step.

Photos: scikit-image's data photos and the bundled samples; variants (re-encoded, resized, cropped,
EXIF-rotated, GPS-tagged) are made here with Pillow's own APIs.
"""

from __future__ import annotations

import io
import itertools
import json
from collections.abc import Callable

import numpy as np
import pytest
import scipy.fftpack
from PIL import ExifTags, Image

from pixelpipe.config import settings
from pixelpipe.logic.errors import PermanentError
from pixelpipe.logic.images import ImageLimits, make_thumbnails
from pixelpipe.logic.job_message import JobMessage
from pixelpipe.logic.metadata import PALETTE_COLOURS, describe_image, dominant_colours, summarise
from pixelpipe.logic.perceptual_hash import NEAR_DUPLICATE_DISTANCE, hamming_distance, is_hash, phash
from support import inputs
from support.inputs import BLUE, GREEN, RED, SAMPLES, SKIMAGE_DATA, WHITE

LIMITS = ImageLimits.from_config(settings().limits)

# Photographs (not textures or synthetic charts): what a user uploads.
PHOTOS = [
    "chelsea.png",
    "astronaut.png",
    "coffee.png",
    "motorcycle_left.png",
    "rocket.jpg",
    "camera.png",
    "coins.png",
    "hubble_deep_field.jpg",
    "retina.jpg",
    "horse.png",
]


def photo(name: str) -> Image.Image:
    with Image.open(SKIMAGE_DATA / name) as image:
        return image.convert("RGB")


def encoded(image: Image.Image, fmt: str = "JPEG", **params) -> bytes:
    return inputs.encoded(image, fmt, **params)


def crop(image: Image.Image, fraction: float) -> Image.Image:
    """`image` with `fraction` of its width and height cut away, half on each side."""
    dx, dy = int(image.width * fraction / 2), int(image.height * fraction / 2)
    return image.crop((dx, dy, image.width - dx, image.height - dy))


def hash_of(data: bytes) -> str:
    return summarise(data, LIMITS)["phash"]


# --- the hash itself --------------------------------------------------------------------------


def reference_phash(image: Image.Image) -> str:
    """imagehash.phash's bits, computed with numpy/scipy (test-only dependencies): 32x32 Lanczos
    greyscale, DCT-II along both axes, the top-left 8x8 against their median, row-major."""
    grey = np.asarray(image.convert("L").resize((32, 32), Image.Resampling.LANCZOS), dtype=float)
    low = scipy.fftpack.dct(scipy.fftpack.dct(grey, axis=0), axis=1)[:8, :8]
    bits = "".join("1" if bit else "0" for bit in (low > np.median(low)).flatten())
    return f"{int(bits, 2):016x}"


@pytest.mark.parametrize("name", PHOTOS[:5])
def test_the_pure_python_phash_has_the_bits_of_the_numpy_reference(name):
    # GIVEN a photo / WHEN hashed without numpy / THEN the 64 bits equal the scipy DCT reference's
    image = photo(name)
    assert phash(image) == reference_phash(image)
    assert is_hash(phash(image))


def test_hamming_distance_counts_differing_bits():
    assert hamming_distance("0000000000000000", "0000000000000000") == 0
    assert hamming_distance("0000000000000000", "ffffffffffffffff") == 64
    assert hamming_distance("8000000000000001", "0000000000000000") == 2


def test_is_hash_accepts_only_sixteen_lowercase_hex_digits():
    assert is_hash("0123456789abcdef")
    for wrong in ("0x23456789abcdef", "0123456789ABCDEF", "123", None, 7, "0123456789abcdeg"):
        assert not is_hash(wrong)


# --- duplicates and near-duplicates -----------------------------------------------------------

VARIANTS: dict[str, Callable[[Image.Image], bytes]] = {
    "same pixels, lossless re-save": lambda image: encoded(image, "PNG"),
    "re-encoded JPEG q60": lambda image: encoded(image, quality=60),
    "half size": lambda image: encoded(image.resize((image.width // 2, image.height // 2)), "PNG"),
    "2% cropped": lambda image: encoded(crop(image, 0.02), quality=90),
    "5% cropped and re-encoded q75": lambda image: encoded(crop(image, 0.05), quality=75),
    "WEBP": lambda image: encoded(image, "WEBP", quality=80),
}


@pytest.mark.parametrize("variant", VARIANTS)
def test_a_near_duplicate_of_each_photo_is_within_the_documented_distance(variant):
    # GIVEN each photo and a copy of it changed as people change photos
    distances = {}
    for name in PHOTOS:
        image = photo(name)
        # WHEN both go through the step
        distances[name] = hamming_distance(hash_of(encoded(image, "PNG")), hash_of(VARIANTS[variant](image)))
    # THEN every pair is a near-duplicate
    assert max(distances.values()) <= NEAR_DUPLICATE_DISTANCE, distances


def test_the_same_file_hashes_identically():
    data = (SAMPLES / "rocket.jpg").read_bytes()
    assert hash_of(data) == hash_of(bytes(data))


def test_different_photos_are_never_near_duplicates():
    # GIVEN every pair of different photos / WHEN hashed by the step
    hashes = {name: hash_of(encoded(photo(name), "PNG")) for name in PHOTOS}
    distances = {(a, b): hamming_distance(hashes[a], hashes[b]) for a, b in itertools.combinations(PHOTOS, 2)}
    # THEN each pair is further apart than the near-duplicate distance, with a margin
    closest = min(distances, key=distances.get)
    assert distances[closest] > NEAR_DUPLICATE_DISTANCE + 4, (closest, distances[closest])


# --- EXIF orientation -------------------------------------------------------------------------


def test_the_exif_rotated_sample_is_summarised_as_displayed_and_hashes_as_the_upright_cat():
    # GIVEN the cat stored sideways with Orientation = 6, and the upright cat
    sideways = summarise((SAMPLES / "cat-sideways-exif.jpg").read_bytes(), LIMITS)
    upright = summarise((SAMPLES / "cat.png").read_bytes(), LIMITS)
    # THEN the record gives the displayed size and the stored orientation, and the hashes match
    assert (sideways["width"], sideways["height"]) == (upright["width"], upright["height"]) == (451, 300)
    assert sideways["exif"]["orientation"] == 6
    assert sideways["format"] == "JPEG"
    assert hamming_distance(sideways["phash"], upright["phash"]) <= 2


@pytest.mark.parametrize("orientation", range(1, 9))
def test_every_exif_orientation_of_a_photo_gives_the_upright_size_and_hash(orientation):
    # GIVEN a photo stored as a camera would for this orientation tag
    upright = photo("motorcycle_left.png")
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = orientation
    stored = inputs.stored_for_orientation(upright, orientation)
    # WHEN summarised
    result = summarise(encoded(stored, quality=92, exif=exif), LIMITS)
    # THEN it is described as displayed
    assert (result["width"], result["height"]) == upright.size
    assert result["exif"]["orientation"] == orientation
    assert hamming_distance(result["phash"], hash_of(encoded(upright, quality=92))) <= 4


# --- the EXIF summary -------------------------------------------------------------------------


def camera_jpeg(**tags) -> bytes:
    exif = Image.Exif()
    details = exif.get_ifd(ExifTags.IFD.Exif)
    for tag, value in tags.items():
        if tag in ("Make", "Model", "DateTime", "Orientation"):
            exif[ExifTags.Base[tag]] = value
        else:
            details[ExifTags.Base[tag]] = value
    return encoded(photo("coffee.png"), quality=85, exif=exif)


def test_camera_lens_and_capture_time_are_summarised():
    data = camera_jpeg(
        Make="Canon",
        Model="Canon EOS R6",
        LensMake="Canon",
        LensModel="RF24-105mm F4 L IS USM",
        DateTimeOriginal="2026:07:14 18:03:52",
        OffsetTimeOriginal="+02:00",
        DateTime="2026:08:01 09:00:00",
        Orientation=1,
    )
    assert summarise(data, LIMITS)["exif"] == {
        "make": "Canon",
        "model": "Canon EOS R6",
        "lens": "Canon RF24-105mm F4 L IS USM",
        "capturedAt": "2026-07-14T18:03:52+02:00",
        "orientation": 1,
    }


def test_the_file_time_stands_in_for_a_missing_capture_time_and_a_bad_time_is_left_out():
    assert summarise(camera_jpeg(DateTime="2020:01:02 03:04:05"), LIMITS)["exif"] == {
        "capturedAt": "2020-01-02T03:04:05"
    }
    assert summarise(camera_jpeg(DateTimeOriginal="    :  :     :  :  "), LIMITS)["exif"] == {}
    assert summarise(camera_jpeg(DateTimeOriginal="2020:13:45 99:00:00"), LIMITS)["exif"] == {}


def test_exif_text_is_cut_and_cleaned_of_control_characters():
    result = summarise(camera_jpeg(Make="Evil\x1b[31m\nCam", Model="M" * 500), LIMITS)["exif"]
    assert result == {"make": "Evil [31m Cam", "model": "M" * 64}


def test_a_photo_without_exif_has_an_empty_summary_and_no_gps():
    for data in ((SAMPLES / "rocket.jpg").read_bytes(), (SAMPLES / "coffee.png").read_bytes()):
        result = summarise(data, LIMITS)
        assert result["exif"] == {}
        assert result["hasGps"] is False


def test_a_60_kb_exif_block_is_summarised_without_its_description():
    result = summarise(inputs.jpeg_with_huge_exif(), LIMITS)
    assert result["exif"] == {"make": "Test Camera", "orientation": 1}
    assert "xxxx" not in json.dumps(result)


# --- GPS: flagged, never copied ---------------------------------------------------------------

LATITUDE = (51.0, 30.0, 26.123)  # 51°30'26.123" N
LONGITUDE = (0.0, 7.0, 39.456)  # 0°7'39.456" W


def gps_exif() -> Image.Exif:
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "Pixel Phone"
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef], gps[ExifTags.GPS.GPSLatitude] = "N", LATITUDE
    gps[ExifTags.GPS.GPSLongitudeRef], gps[ExifTags.GPS.GPSLongitude] = "W", LONGITUDE
    gps[ExifTags.GPS.GPSAltitude] = 35.5
    return exif


def assert_no_coordinates(result: dict) -> None:
    """No figure of the location in any form: DMS parts, decimal degrees, the altitude, the refs."""
    text = json.dumps(result)
    decimal_lat = LATITUDE[0] + LATITUDE[1] / 60 + LATITUDE[2] / 3600
    decimal_lon = LONGITUDE[0] + LONGITUDE[1] / 60 + LONGITUDE[2] / 3600
    for figure in ("26.123", "39.456", "35.5", f"{decimal_lat:.3f}", f"{decimal_lon:.3f}", "51.5"):
        assert figure not in text, figure
    assert "gps" not in text.lower().replace('"hasgps"', "")


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_a_gps_tagged_photo_is_flagged_and_its_coordinates_appear_nowhere(fmt):
    # GIVEN a photo whose EXIF carries a position (written with Pillow's Exif API)
    data = encoded(photo("astronaut.png"), fmt, exif=gps_exif())
    with Image.open(io.BytesIO(data)) as written:  # the position really is in the file
        assert written.getexif().get_ifd(ExifTags.IFD.GPSInfo)[ExifTags.GPS.GPSLatitude] == LATITUDE
    # WHEN summarised
    result = summarise(data, LIMITS)
    # THEN the record says it has GPS, and nothing of the position itself
    assert result["hasGps"] is True
    assert result["exif"] == {"make": "Pixel Phone"}
    assert_no_coordinates(result)


def test_a_position_only_in_xmp_is_flagged_too():
    xmp = (
        b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF>'
        b'<rdf:Description exif:GPSLatitude="51,30.43N"/></rdf:RDF></x:xmpmeta>'
    )
    result = summarise(encoded(photo("coffee.png"), xmp=xmp), LIMITS)
    assert result["hasGps"] is True
    assert "51,30" not in json.dumps(result)


def test_a_gps_block_without_a_position_is_not_flagged():
    exif = Image.Exif()
    exif.get_ifd(ExifTags.IFD.GPSInfo)[ExifTags.GPS.GPSVersionID] = b"\x02\x02\x00\x00"
    assert summarise(encoded(photo("coffee.png"), exif=exif), LIMITS)["hasGps"] is False


# --- dominant colours -------------------------------------------------------------------------


def test_the_dominant_colours_of_the_quadrant_pattern_are_its_four_colours_in_equal_shares():
    colours = summarise(encoded(inputs.quadrants(), "PNG"), LIMITS)["colours"]
    assert sorted(c["hex"] for c in colours) == sorted(
        f"#{r:02x}{g:02x}{b:02x}" for r, g, b in (RED, GREEN, BLUE, WHITE)
    )
    # a 64 px sample of 120x80: 21 or 22 of 43 rows per half
    assert [c["share"] for c in colours] == pytest.approx([0.25] * 4, abs=0.01)


def test_a_photo_has_at_most_the_palette_size_most_common_first_sharing_the_whole():
    colours = dominant_colours(photo("coffee.png"))
    assert len(colours) == PALETTE_COLOURS
    shares = [c["share"] for c in colours]
    assert shares == sorted(shares, reverse=True)
    assert sum(shares) == pytest.approx(1, abs=0.01)
    # the coffee photo is mostly the red-brown of its cup and saucer: red dominates the first colour
    red, green, blue = (int(colours[0]["hex"][i : i + 2], 16) for i in (1, 3, 5))
    assert red > green + 50 and red > blue + 50


# --- bad input: the decoder's reasons ---------------------------------------------------------

BAD = {
    "text": lambda: (SAMPLES / "not-an-image.jpg").read_bytes(),
    "heic": inputs.heic_bytes,
    "avif": inputs.avif_bytes,
    "bomb": inputs.bomb_png_50k,
    "zero-size gif": inputs.gif_declaring_zero_size,
    "zero-width jpeg": lambda: inputs.jpeg_declaring_width(0),
    "3 MB PNG iCCP": inputs.png_with_huge_icc,
    "truncated jpeg": lambda: (SAMPLES / "rocket.jpg").read_bytes()[:5000],
    "empty": lambda: b"",
}


def reason(call: Callable[[], object]) -> str:
    with pytest.raises(PermanentError) as failure:
        call()
    return failure.value.reason


@pytest.mark.parametrize("name", BAD)
def test_a_bad_input_fails_the_step_with_the_reason_the_resize_step_gives(name):
    data = BAD[name]()
    expected = reason(lambda: make_thumbnails(data, (256,), "JPEG", 85, LIMITS))
    assert reason(lambda: summarise(data, LIMITS)) == expected


@pytest.mark.parametrize("name", ["frames-10000.gif", "tall-1x65535.png", "icc-3mb.jpg"])
def test_the_worst_legitimate_inputs_are_summarised(name):
    result = summarise(inputs.MEMORY_WORST[name](), LIMITS)
    assert is_hash(result["phash"]) and result["colours"]


def test_the_work_function_reads_the_named_version_within_the_byte_limit():
    calls = []

    class Storage:
        def read(self, bucket, key, version_id, max_bytes):
            calls.append((bucket, key, version_id, max_bytes))
            return (SAMPLES / "cat.png").read_bytes()

    message = JobMessage("job-1", "uploads", "uploads/cat.png", "v7", ["metadata"])
    result = describe_image(message, Storage(), LIMITS)
    assert calls == [("uploads", "uploads/cat.png", "v7", LIMITS.max_input_bytes)]
    assert result["format"] == "PNG" and (result["width"], result["height"]) == (451, 300)
