"""Pillow normalisation on realistic generated photos: orientation, colour, metadata, refusals."""

from __future__ import annotations

import io
import struct

import pytest
from PIL import Image, JpegImagePlugin

from app.media.normalise import ImageError, fit, normalise, sniff
from tests.media.conftest import SRGB_SAMPLE


def webp_chunks(data: bytes) -> list[bytes]:
    assert data[:4] == b"RIFF" and data[8:12] == b"WEBP"
    chunks, i = [], 12
    while i + 8 <= len(data):
        kind, size = data[i : i + 4], struct.unpack("<I", data[i + 4 : i + 8])[0]
        chunks.append(kind)
        i += 8 + size + (size & 1)
    return chunks


def decoded(data: bytes) -> Image.Image:
    img = Image.open(io.BytesIO(data))
    img.load()
    return img


def close(pixel, expected, tolerance=6) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(pixel, expected, strict=True))


# (photo, size, {point: colour}) — points are in output coordinates.
GOOD = [
    ("progressive.jpg", (1600, 1200), {(800, 2): (0, 0, 0), (800, 1197): (255, 255, 255)}),
    ("cmyk.jpg", (1200, 800), {(600, 400): (255, 0, 0)}),
    # Transparent left half over white; opaque green right half; half-transparent blue band.
    ("alpha.png", (800, 600), {(100, 100): (255, 255, 255), (600, 100): (10, 160, 40), (100, 550): (127, 127, 255)}),
    ("palette.png", (300, 200), {(50, 100): (255, 255, 255), (250, 100): (200, 30, 30)}),
    ("grey16.png", (320, 240), {(160, 120): (156, 156, 156)}),
    ("display-p3.png", (640, 480), {(320, 240): SRGB_SAMPLE}),
    ("display-p3.jpg", (640, 480), {(320, 240): SRGB_SAMPLE}),
    ("camera.mpo", (640, 480), {(320, 240): (20, 120, 220)}),
    ("photo.webp", (1024, 768), {(512, 384): (90, 90, 200)}),
]


@pytest.mark.parametrize("name, size, colours", GOOD, ids=[g[0] for g in GOOD])
def test_good_photos_become_clean_srgb_webp(name, size, colours, photos):
    result = normalise(photos[name])
    assert (result.width, result.height) == size
    assert set(webp_chunks(result.data)) <= {b"VP8 ", b"VP8L", b"VP8X", b"ALPH"}
    img = decoded(result.data)
    assert img.format == "WEBP" and img.mode == "RGB" and img.size == size
    assert not {"exif", "icc_profile", "xmp"} & set(img.info)
    for point, colour in colours.items():
        assert close(img.getpixel(point), colour), (point, img.getpixel(point), colour)


def test_display_p3_values_are_converted_not_copied(photos):
    raw = Image.open(io.BytesIO(photos["display-p3.png"])).convert("RGB").getpixel((5, 5))
    # If the profile were ignored the output would keep these values; they are visibly off.
    assert max(abs(a - b) for a, b in zip(raw, SRGB_SAMPLE, strict=True)) > 10
    out = decoded(normalise(photos["display-p3.png"]).data).getpixel((5, 5))
    assert close(out, SRGB_SAMPLE, 3)


def test_a_rotated_12mp_camera_photo(photos):
    source = Image.open(io.BytesIO(photos["rotated-12mp.jpg"]))
    assert source.size == (4000, 3000) and source.getexif()[0x0112] == 6
    assert source.getexif().get_ifd(0x8825) and "xmp" in source.info  # GPS and XMP are really there

    result = normalise(photos["rotated-12mp.jpg"])
    assert (result.width, result.height) == (1920, 2560)  # portrait, long edge 2560
    img = decoded(result.data)
    assert not img.getexif() and not {"exif", "xmp", "icc_profile"} & set(img.info)
    assert b"Exif" not in result.data and b"xmpmeta" not in result.data and b"Canon" not in result.data
    # The stored top-left red quarter is displayed top-right after orientation 6.
    assert close(img.getpixel((1900, 20)), (230, 20, 20), 12)
    assert not close(img.getpixel((20, 20)), (230, 20, 20), 60)
    assert not close(img.getpixel((1900, 2540)), (230, 20, 20), 60)


def test_jpeg_draft_mode_decodes_big_photos_at_reduced_scale(photos, monkeypatch):
    seen = []
    original = JpegImagePlugin.JpegImageFile.draft

    def spy(self, mode, size):
        result = original(self, mode, size)
        seen.append((size, self.size))
        return result

    monkeypatch.setattr(JpegImagePlugin.JpegImageFile, "draft", spy)
    result = normalise(photos["rotated-12mp.jpg"], long_edge=1000)
    assert seen == [((1000, 750), (1000, 750))]  # asked for the fitted size; decoded at 1/4 scale
    assert (result.width, result.height) == (750, 1000)


@pytest.mark.parametrize(
    "name, code, words",
    [
        ("truncated.jpg", "corrupt", "truncated"),
        ("bomb-900mp.png", "too_large", "900.0 megapixels; the limit is 40"),
        ("over-40mp.jpg", "too_large", "40.8 megapixels; the limit is 40"),
        ("animated.webp", "animated", "animated images are not supported"),
        ("animated.png", "animated", "animated images are not supported"),
        ("animated.gif", "animated", "animated images are not supported"),
        ("still.gif", "unsupported_format", "GIF images are not supported"),
        ("iphone.heic", "unsupported_format", "HEIC images are not supported"),
        ("not-a-photo.jpg", "not_an_image", "not an image"),
        ("error-page.jpg", "not_an_image", "HTML page"),
    ],
)
def test_bad_files_get_a_clear_error(name, code, words, photos):
    with pytest.raises(ImageError) as info:
        normalise(photos[name])
    assert info.value.code == code
    assert words in info.value.message


def test_corrupt_jpeg_body():
    out = io.BytesIO()
    Image.new("RGB", (64, 64), "white").save(out, "JPEG")
    data = bytearray(out.getvalue())
    data[200:400] = b"\xff" * 200
    with pytest.raises(ImageError) as info:
        normalise(bytes(data))
    assert info.value.code == "corrupt"


@pytest.mark.parametrize(
    "size, edge, expected",
    [((4000, 3000), 2560, (2560, 1920)), ((3000, 4000), 2560, (1920, 2560)), ((800, 600), 2560, (800, 600)),
     ((7744, 5164), 2560, (2560, 1707)), ((10000, 10), 2560, (2560, 3))],
)
def test_fit(size, edge, expected):
    assert fit(*size, edge) == expected


@pytest.mark.parametrize(
    "head, kind",
    [(b"\xff\xd8\xff\xe0", "jpeg"), (b"\x89PNG\r\n\x1a\n", "png"), (b"RIFF\0\0\0\0WEBPVP8 ", "webp"),
     (b"GIF89a", "gif"), (b"\0\0\0\x18ftypheic", "heic"), (b"II*\0", "tiff"), (b"  <!DOCTYPE html>", "text:html"),
     (b"<svg xmlns=", "text:svg"), (b"%PDF-1.7", "doc:pdf"), (b"hello", None)],
)
def test_sniff(head, kind):
    assert sniff(head) == kind
