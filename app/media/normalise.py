"""Turn a dealer's photo into the one file every marketplace accepts: sRGB WebP, no metadata.

The pipeline, in the order that keeps memory and time down:

1. identify from the bytes (``sniff``) and open with an explicit format list, so a file can never
   pick its own decoder (no EPS/PSD/TIFF plugins reachable from a URL);
2. refuse more than ``MAX_PIXELS`` from the header, before any pixel is decoded
   (``Image.MAX_IMAGE_PIXELS`` is set too, as a backstop for code paths that bypass our check);
3. refuse multi-frame images (animated WebP/PNG/GIF);
4. JPEG draft mode: libjpeg decodes straight to 1/2, 1/4 or 1/8 scale when the target is that much
   smaller, so a 40 MP photo never exists at full size in memory;
5. resize to the long edge, then honour EXIF orientation (rotating the small image is cheaper, and
   fitting a long edge does not depend on orientation);
6. convert to sRGB through the embedded ICC profile (CMYK, Display P3, Adobe RGB...), composite
   alpha over white, and encode WebP at quality 82 with no EXIF, GPS, XMP or ICC chunks.
"""

from __future__ import annotations

import hashlib
import io
import logging
import re
import warnings
from dataclasses import dataclass
from functools import lru_cache

from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError

log = logging.getLogger("forecourt.media")

MAX_PIXELS = 40_000_000  # Carzle's cap ("max 40 megapixels"); refusing here reports it per photo
DEFAULT_LONG_EDGE = 2560  # no Settings field yet: callers pass ``long_edge`` to change it
WEBP_QUALITY = 82  # what Carzle re-encodes to; encoding at the same quality avoids a visible second loss
WEBP_METHOD = 4  # libwebp's default speed/size trade-off
FORMATS = ("JPEG", "PNG", "WEBP")
RECIPE_VERSION = 1  # bump when the output of ``normalise`` changes for the same input

# The global decoder limit is a backstop only: Pillow raises DecompressionBombError at twice this.
Image.MAX_IMAGE_PIXELS = MAX_PIXELS

_WHITE = (255, 255, 255)


class ImageError(Exception):
    """A photo that can never be used as it is; ``message`` is written for the dealer."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class NormalisedImage:
    data: bytes  # the WebP file
    sha256: str  # of ``data``: the store's content address
    width: int
    height: int
    source_format: str  # "jpeg" | "png" | "webp"


def recipe(long_edge: int = DEFAULT_LONG_EDGE, quality: int = WEBP_QUALITY) -> str:
    """Names the output settings, so a cached result is only reused for identical settings."""
    return f"webp-q{quality}-{long_edge}-v{RECIPE_VERSION}"


_UNSUPPORTED_NAMES = {"gif": "GIF", "heic": "HEIC", "avif": "AVIF", "tiff": "TIFF", "bmp": "BMP",
                      "jpeg2000": "JPEG 2000", "ico": "ICO"}
_NOT_IMAGES = {"html": "an HTML page", "svg": "an SVG drawing", "xml": "an XML document",
               "pdf": "a PDF document", "json": "JSON", "zip": "a ZIP archive"}


def sniff(head: bytes) -> str | None:
    """The file type from its first bytes; ``None`` when it is not a raster image we recognise.

    Recognised non-images come back prefixed ``text:`` / ``doc:`` so messages can name them.
    """
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if len(head) >= 12 and head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    if len(head) >= 12 and head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in (b"avif", b"avis"):
            return "avif"
        if brand in (b"heic", b"heix", b"hevc", b"heim", b"heis", b"mif1", b"msf1"):
            return "heic"
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return "tiff"
    if head[:2] == b"BM":
        return "bmp"
    if head.startswith(b"\x00\x00\x00\x0cjP  ") or head.startswith(b"\xff\x4f\xff\x51"):
        return "jpeg2000"
    if head[:4] == b"\x00\x00\x01\x00":
        return "ico"
    text = head.lstrip()[:512].lower()
    if text.startswith(b"%pdf"):
        return "doc:pdf"
    if text.startswith(b"pk\x03\x04"):
        return "doc:zip"
    if b"<svg" in text:
        return "text:svg"
    if text.startswith((b"<!doctype html", b"<html", b"<head", b"<body")) or b"<html" in text:
        return "text:html"
    if text.startswith(b"<?xml"):
        return "text:xml"
    if text.startswith((b"{", b"[")):
        return "text:json"
    return None


def describe_non_image(kind: str | None, content_type: str | None = None) -> str:
    """A dealer-readable reason for bytes that are not a supported photo."""
    if kind in ("jpeg", "png", "webp"):
        return "not a readable image"
    if kind in _UNSUPPORTED_NAMES:
        return f"{_UNSUPPORTED_NAMES[kind]} images are not supported (use JPEG, PNG or WebP)"
    if kind and ":" in kind and kind.split(":", 1)[1] in _NOT_IMAGES:
        return f"not an image: the URL returned {_NOT_IMAGES[kind.split(':', 1)[1]]}"
    if content_type:
        return f"not an image: the content is not JPEG, PNG or WebP (served as {content_type[:60]})"
    return "not an image: the content is not JPEG, PNG or WebP"


def fit(width: int, height: int, long_edge: int) -> tuple[int, int]:
    """(width, height) scaled so the longer side is at most ``long_edge``; never upscales."""
    longest = max(width, height)
    if longest <= long_edge:
        return width, height
    scale = long_edge / longest
    return max(1, round(width * scale)), max(1, round(height * scale))


def normalise(
    data: bytes,
    *,
    long_edge: int = DEFAULT_LONG_EDGE,
    quality: int = WEBP_QUALITY,
    max_pixels: int = MAX_PIXELS,
) -> NormalisedImage:
    """Decode ``data`` and re-encode it as an sRGB WebP without metadata.

    Raises ``ImageError`` (codes: ``not_an_image``, ``unsupported_format``, ``too_large``,
    ``animated``, ``corrupt``) for photos that will never work; nothing here is worth retrying.
    """
    kind = sniff(data[:512])
    if kind == "gif":
        _refuse_gif(data)
    if kind not in ("jpeg", "png", "webp"):
        code = "unsupported_format" if kind in _UNSUPPORTED_NAMES else "not_an_image"
        raise ImageError(code, describe_non_image(kind))
    try:
        with warnings.catch_warnings():
            # Between the limit and twice it Pillow only warns; the explicit check below refuses.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data), formats=FORMATS)
    except Image.DecompressionBombError as exc:
        raise ImageError("too_large", _too_large_message(_pixels_from(str(exc)), max_pixels)) from None
    except UnidentifiedImageError:
        raise ImageError("corrupt", f"the {kind.upper()} file is damaged and cannot be read") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageError("corrupt", f"the {kind.upper()} file is damaged and cannot be read ({exc})") from None
    with img:
        return _normalise_open(img, kind, long_edge=long_edge, quality=quality, max_pixels=max_pixels)


def _normalise_open(img: Image.Image, kind: str, *, long_edge: int, quality: int, max_pixels: int) -> NormalisedImage:
    width, height = img.size
    if width * height > max_pixels:
        raise ImageError("too_large", _too_large_message(width * height, max_pixels))
    # MPO is a JPEG with extra pictures (camera previews, depth maps): frame 0 is the photo.
    if img.format != "MPO" and getattr(img, "n_frames", 1) > 1:
        raise ImageError("animated", "animated images are not supported")
    target = fit(width, height, long_edge)
    if img.format in ("JPEG", "MPO") and target != (width, height):
        # Decodes at the smallest 1/2^n scale still >= target: the biggest saving in the pipeline.
        img.draft("RGB", target)
    icc = img.info.get("icc_profile")
    try:
        img.load()
    except Image.DecompressionBombError as exc:
        raise ImageError("too_large", _too_large_message(_pixels_from(str(exc)), max_pixels)) from None
    except (OSError, SyntaxError, ValueError) as exc:
        message = str(exc)
        if "truncated" in message:
            raise ImageError("corrupt", "the image file is truncated (incomplete download or upload)") from None
        raise ImageError("corrupt", f"the image data is corrupt ({message})") from None

    work = _working_mode(img)
    if work.size != target:
        work = _resize(work, target, release=img)
    # Orientation is read from the EXIF the resized copy inherited; in place avoids a copy.
    ImageOps.exif_transpose(work, in_place=True)
    work = _to_srgb(work, icc)
    if work.mode == "RGBA":
        background = Image.new("RGB", work.size, _WHITE)
        background.paste(work, mask=work.getchannel("A"))
        work = background
    elif work.mode != "RGB":
        work = work.convert("RGB")

    # A fresh info dict and explicit empty metadata: nothing of the source file survives.
    work.info = {}
    out = io.BytesIO()
    work.save(out, "WEBP", quality=quality, method=WEBP_METHOD, exif=b"", xmp=b"", icc_profile=None)
    data = out.getvalue()
    return NormalisedImage(
        data=data,
        sha256=hashlib.sha256(data).hexdigest(),
        width=work.width,
        height=work.height,
        source_format=kind,
    )


def _resize(work: Image.Image, target: tuple[int, int], *, release: Image.Image) -> Image.Image:
    """Lanczos to ``target`` in two passes, freeing the full-size decode between them.

    Pillow's own resize is also horizontal-then-vertical through an 8-bit intermediate, so the
    pixels are the same; splitting it lets the decoded image (48 MB for 12 MP: Pillow keeps RGB
    as 4 bytes a pixel) go before the second pass allocates its output, which keeps one photo's
    peak under 100 MB.
    """
    width, height = work.size
    if width == target[0] or height == target[1]:
        return work.resize(target, Image.Resampling.LANCZOS)
    half = work.resize((target[0], height), Image.Resampling.LANCZOS)
    if work is not release:
        work.close()
    release.close()  # the decoded pixels; info (EXIF orientation) was copied to ``half``
    return half.resize(target, Image.Resampling.LANCZOS)


def _refuse_gif(data: bytes) -> None:
    animated = False
    try:
        with Image.open(io.BytesIO(data), formats=["GIF"]) as gif:
            animated = bool(getattr(gif, "is_animated", False))
    except Exception:  # a broken GIF is refused below all the same
        animated = False
    if animated:
        raise ImageError("animated", "animated images are not supported")
    raise ImageError("unsupported_format", describe_non_image("gif"))


def _too_large_message(pixels: int | None, max_pixels: int) -> str:
    limit = f"{max_pixels / 1_000_000:g}"
    if pixels is None:
        return f"the image is larger than {limit} megapixels"
    return f"the image is {pixels / 1_000_000:.1f} megapixels; the limit is {limit}"


def _pixels_from(message: str) -> int | None:
    match = re.search(r"\((\d+) pixels\)", message)
    return int(match.group(1)) if match else None


def _working_mode(img: Image.Image) -> Image.Image:
    """A mode resize and ICC conversion both handle: RGB, RGBA, L or CMYK."""
    mode = img.mode
    if mode in ("RGB", "RGBA", "L", "CMYK"):
        return img
    if mode == "P":
        return img.convert("RGBA" if "transparency" in img.info else "RGB")
    if mode in ("PA", "LA", "La", "RGBa", "RGBX"):
        return img.convert("RGBA")
    if mode == "1":
        return img.convert("L")
    if mode.startswith("I;16") or mode in ("I", "F"):
        # convert("L") clips 16-bit values at 255 (a white image); scale them instead.
        return img.convert("I").point(lambda v: v * (1 / 257)).convert("L")
    return img.convert("RGB")


_SRGB = ImageCms.createProfile("sRGB")


@lru_cache(maxsize=16)
def _transform(icc: bytes, in_mode: str, out_mode: str) -> ImageCms.ImageCmsTransform | None:
    """A cached source-profile → sRGB transform; ``None`` when the profile is sRGB already."""
    profile = ImageCms.ImageCmsProfile(io.BytesIO(icc))
    description = (ImageCms.getProfileDescription(profile) or "").strip()
    if "srgb" in description.lower() and in_mode in ("RGB", "RGBA"):
        return None  # camera JPEGs usually embed sRGB; skipping saves a full-image pass
    return ImageCms.buildTransform(
        profile, _SRGB, in_mode, out_mode, renderingIntent=ImageCms.Intent.PERCEPTUAL
    )


def _to_srgb(img: Image.Image, icc: bytes | None) -> Image.Image:
    if not icc:
        return img
    out_mode = "RGBA" if img.mode == "RGBA" else "RGB"
    try:
        transform = _transform(bytes(icc), img.mode, out_mode)
    except (ImageCms.PyCMSError, OSError, ValueError, TypeError) as exc:
        # A broken or mismatched profile (an RGB profile on a CMYK file) is common enough on dealer
        # sites that refusing the photo would be worse than the small colour shift of ignoring it.
        log.info("ignoring unusable ICC profile", extra={"error": str(exc)})
        return img
    if transform is None:
        return img
    try:
        return ImageCms.applyTransform(img, transform)
    except (ImageCms.PyCMSError, OSError, ValueError) as exc:
        log.info("ICC conversion failed; using the raw values", extra={"error": str(exc)})
        return img
