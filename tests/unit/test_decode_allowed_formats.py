"""Only the parsers of the formats pipeline.json allows ever run on an upload.

Pillow's `Image.open` tries every plugin it has; a TIFF or BMP parser bug is reachable by anyone who can
upload, even when those formats are not wanted. The decode step passes `formats=` from the limits, so a
format left out is named from its magic bytes and refused without its parser being called.
"""

from __future__ import annotations

import io

import pytest
from PIL import BmpImagePlugin, Image, TiffImagePlugin

from pixelpipe.config import settings
from pixelpipe.logic.errors import PermanentError
from pixelpipe.logic.images import ImageLimits, open_image

JPEG_AND_PNG_ONLY = ImageLimits.from_config(
    settings().limits.model_copy(update={"allowed_formats": ["JPEG", "PNG"]})
)
PARSERS = {"TIFF": (TiffImagePlugin.TiffImageFile, "TIFF"), "BMP": (BmpImagePlugin.BmpImageFile, "BMP")}


def encoded(fmt: str) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (16, 16), (200, 30, 30)).save(buffer, fmt)
    return buffer.getvalue()


@pytest.fixture
def parser_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every call of the TIFF or BMP plugin's header parser, by format."""
    calls: list[str] = []
    for name, (plugin, _) in PARSERS.items():
        original = plugin._open

        def spied(self, original=original, name=name):
            calls.append(name)
            return original(self)

        monkeypatch.setattr(plugin, "_open", spied)
    return calls


@pytest.mark.parametrize("fmt", list(PARSERS))
def test_a_format_not_allowed_is_refused_without_running_its_parser(
    fmt: str, parser_calls: list[str]
) -> None:
    # GIVEN a well-formed TIFF or BMP, and limits that allow only JPEG and PNG
    data = encoded(fmt)
    # WHEN it is opened
    with pytest.raises(PermanentError) as refused:
        open_image(data, JPEG_AND_PNG_ONLY)
    # THEN it is refused by name, and Pillow's parser for it never saw the bytes
    assert str(refused.value) == f"unsupported format: {fmt}"
    assert parser_calls == []


@pytest.mark.parametrize("fmt", list(PARSERS))
def test_an_allowed_format_still_opens_through_its_own_parser(fmt: str, parser_calls: list[str]) -> None:
    # pipeline.json allows TIFF and BMP today
    limits = ImageLimits.from_config(settings().limits)
    assert fmt in limits.allowed_formats
    assert open_image(encoded(fmt), limits).size == (16, 16)
    assert parser_calls == [fmt]


def test_the_formats_handed_to_pillow_are_exactly_the_allowed_ones() -> None:
    assert set(JPEG_AND_PNG_ONLY.pillow_formats) == {"JPEG", "PNG"}
    everything = ImageLimits.from_config(settings().limits)
    assert set(everything.pillow_formats) == set(everything.allowed_formats)


def test_an_unknown_file_is_still_described_not_named_a_format() -> None:
    with pytest.raises(PermanentError) as refused:
        open_image(b"%PDF-1.7 not a photo", JPEG_AND_PNG_ONLY)
    assert str(refused.value) == "not an image: content looks like a PDF document"
