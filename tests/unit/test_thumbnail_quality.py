"""Thumbnails are as sharp and as faithful as libvips's: scored by SSIM against a float Lanczos reference.

The resize benchmark times these same contenders; here only their outputs are checked (no timing).
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from resize_contenders import SIZES, SOURCES, Reference, output_sizes, project, vips_cascade, write_source

# Small and medium versions of the benchmark's JPEG sources: big enough for JPEG draft decoding to kick in.
CASES = {
    "1 MP": replace(SOURCES[0]),
    "3 MP": replace(SOURCES[1], name="3 MP JPEG", width=2120, height=1414),
    "2 MP PNG": replace(SOURCES[3], name="2 MP PNG", width=1730, height=1152),
}
SSIM_FLOOR = 0.90  # far above what a blurred or aliased thumbnail scores against the reference


@pytest.fixture(scope="module", params=list(CASES))
def source(request, tmp_path_factory):
    path = write_source(CASES[request.param], tmp_path_factory.mktemp("sources"))
    return path, Reference(path)


def test_thumbnails_have_the_configured_longest_sides(source):
    path, _ = source
    sizes = output_sizes(project(path))
    assert [max(size) for size in sizes] == SIZES


def test_thumbnails_are_close_to_the_reference_and_no_worse_than_libvips(source):
    path, reference = source
    ours = [reference.ssim(encoded) for encoded in project(path)]
    libvips = [reference.ssim(encoded) for encoded in vips_cascade(path)]
    assert min(ours) >= SSIM_FLOOR
    for size, mine, theirs in zip(SIZES, ours, libvips, strict=True):
        assert mine >= theirs - 0.01, f"{size} px: SSIM {mine:.4f} against libvips's {theirs:.4f}"


def test_a_blurred_thumbnail_scores_lower_than_ours(source):
    """The yardstick can fail: blurring the 512 px thumbnail costs it SSIM."""
    import io

    from PIL import Image, ImageFilter

    path, reference = source
    sharp = project(path)[1]
    buffer = io.BytesIO()
    Image.open(io.BytesIO(sharp)).filter(ImageFilter.GaussianBlur(1.5)).save(buffer, "JPEG", quality=85)
    assert reference.ssim(buffer.getvalue()) < reference.ssim(sharp) - 0.02
