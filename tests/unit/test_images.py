"""Uploaded images: accepted formats, refusals, metadata stripping and renditions,
on images made in memory with Pillow."""
import io
import random
import struct
import time
import zlib

import PIL.Image
import PIL.ImageChops
import PIL.ImageStat
import PIL.JpegImagePlugin
import PIL.PngImagePlugin
import pytest

from contracts.media.errors import ImageTooLarge, InvalidImage
from services.media.images import RENDITIONS, decode, prepare

MB = 1024 * 1024
MAX_BYTES = 10 * MB
MAX_PIXELS = 25_000_000
SECRETS = (b"SpyCam", b"secret-comment", b"secret-icc", b"secret-xmp", b"secret-text")


def encoded(fmt, size=(64, 48), mode="RGB", noise=False, **options):
    image = PIL.Image.new(mode, size, "red" if mode in ("RGB", "RGBA", "P") else 128)
    if noise:
        noisy = random.Random(str(size)).randbytes(size[0] * size[1] * 3)
        image = PIL.Image.frombytes("RGB", size, noisy)
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def reopened(image):
    opened = PIL.Image.open(io.BytesIO(image.data))
    opened.load()
    return opened


def prepared(data, **limits):
    return prepare(data, limits.get("max_bytes", MAX_BYTES), limits.get("max_pixels", MAX_PIXELS),
                   renditions=True)


def png_chunk(kind, body):
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_claiming(width, height, rows=None):
    """A 1-bit grey PNG of `width` x `height` zero pixels: a few KB that would
    decompress to width * height pixels. With `rows`, only that many rows of
    data follow the header's claim."""
    row = bytes(1 + (width + 7) // 8)
    compressor = zlib.compressobj(9)
    data = b"".join(compressor.compress(row) for _ in range(height if rows is None else rows))
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header)
            + png_chunk(b"IDAT", data + compressor.flush()) + png_chunk(b"IEND", b""))


# accepted formats


@pytest.mark.parametrize("fmt, mode, content_type", [
    ("JPEG", "RGB", "image/jpeg"),
    ("JPEG", "L", "image/jpeg"),
    ("PNG", "RGBA", "image/png"),
    ("PNG", "P", "image/png"),
    ("WEBP", "RGB", "image/webp"),
    ("WEBP", "RGBA", "image/webp"),
    ("GIF", "P", "image/png"),
])
def test_each_accepted_format_round_trips_with_its_content_type_and_size(fmt, mode, content_type):
    original = prepare(encoded(fmt, (64, 48), mode), MAX_BYTES, MAX_PIXELS)["original"]
    assert (original.content_type, original.width, original.height) == (content_type, 64, 48)
    assert PIL.Image.MIME[reopened(original).format] == content_type
    assert reopened(original).size == (64, 48)


def test_without_renditions_only_the_original_is_prepared():
    assert list(prepare(encoded("PNG"), MAX_BYTES, MAX_PIXELS)) == ["original"]


def test_a_gif_is_stored_as_a_png_keeping_its_transparency():
    original = prepared(encoded("GIF", mode="P", transparency=0))["original"]
    assert reopened(original).format == "PNG"
    assert reopened(original).has_transparency_data


def test_an_animated_gif_keeps_its_first_frame():
    frames = [PIL.Image.new("RGB", (20, 10), colour) for colour in ("red", "green", "blue")]
    buffer = io.BytesIO()
    frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:])
    assert PIL.Image.open(io.BytesIO(buffer.getvalue())).n_frames == 3
    original = prepared(buffer.getvalue())["original"]
    assert getattr(reopened(original), "n_frames", 1) == 1


def test_a_multi_picture_jpeg_from_a_camera_is_a_jpeg():
    second = PIL.Image.new("RGB", (64, 48), "blue")
    data = encoded("MPO", save_all=True, append_images=[second])
    assert PIL.Image.open(io.BytesIO(data)).format == "MPO"
    original = prepared(data)["original"]
    assert (original.content_type, reopened(original).format) == ("image/jpeg", "JPEG")


def test_a_cmyk_jpeg_is_stored_as_rgb():
    original = prepared(encoded("JPEG", mode="CMYK"))["original"]
    assert reopened(original).mode == "RGB"


def test_an_image_at_the_limits_is_accepted():
    data = encoded("PNG", (100, 50))
    assert prepare(data, max_bytes=len(data), max_pixels=5000)["original"].width == 100


# refusals


@pytest.mark.parametrize("fmt, name", [("BMP", "BMP"), ("TIFF", "TIFF"), ("ICO", "ICO")])
def test_a_format_pillow_knows_but_not_accepted_is_named(fmt, name):
    with pytest.raises(InvalidImage) as caught:
        prepared(encoded(fmt))
    assert caught.value.detail == f"{name} is not accepted; send JPEG, PNG, WebP or GIF"


@pytest.mark.parametrize("data", [
    b"", b"hello, world\n", b"<!doctype html><html><body><img src=x></body></html>",
    b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF89a", b"RIFF\x00\x00\x00\x00WEBPVP8 ",
])
def test_bytes_that_are_not_an_image_are_invalid(data):
    with pytest.raises(InvalidImage):
        prepared(data)


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "GIF"])
def test_an_image_cut_in_half_is_invalid(fmt):
    data = encoded(fmt, (200, 150), noise=True)
    with pytest.raises(InvalidImage, match="corrupt"):
        prepared(data[: len(data) // 2])


def test_bytes_over_the_limit_are_too_large_before_any_decoding(monkeypatch):
    monkeypatch.setattr(PIL.Image, "open", lambda *args, **kwargs: pytest.fail("decoded"))
    with pytest.raises(ImageTooLarge):
        prepared(b"x" * 101, max_bytes=100)


def test_a_decompression_bomb_is_too_large_from_its_header():
    bomb = png_claiming(6000, 6000)
    assert len(bomb) < 50_000
    assert decode(bomb, MAX_BYTES, max_pixels=36_000_000).size == (6000, 6000)  # a real image
    with pytest.raises(ImageTooLarge, match="6000x6000"):
        prepared(bomb, max_pixels=MAX_PIXELS)


@pytest.mark.parametrize("max_pixels", [MAX_PIXELS, 10**12])
def test_a_header_claiming_30000_squared_is_too_large_quickly(max_pixels):
    """Above Pillow's own bomb limit, its error becomes ImageTooLarge too."""
    started = time.perf_counter()
    with pytest.raises(ImageTooLarge):
        prepared(png_claiming(30000, 30000, rows=1), max_pixels=max_pixels)
    assert time.perf_counter() - started < 1


def test_the_pixel_limit_is_width_times_height():
    with pytest.raises(ImageTooLarge):
        prepared(encoded("PNG", (100, 50)), max_pixels=4999)


# metadata


def spy_exif(orientation=None):
    exif = PIL.Image.Exif()
    exif[0x010F] = "SpyCam"
    exif[0x8825] = {1: "N", 2: (52.0, 31.0, 7.5), 3: "E", 4: (13.0, 24.0, 1.5)}
    if orientation:
        exif[0x0112] = orientation
    return exif


def spy_text():
    text = PIL.PngImagePlugin.PngInfo()
    text.add_text("Comment", "secret-text")
    text.add_text("Author", "secret-text", zip=True)
    text.add_itxt("Description", "secret-text")
    return text


@pytest.mark.parametrize("fmt, options", [
    ("JPEG", {"comment": b"secret-comment", "xmp": b"<secret-xmp/>"}),
    ("WEBP", {"xmp": b"<secret-xmp/>"}),
    ("PNG", {"pnginfo": spy_text()}),
    ("GIF", {"comment": b"secret-comment"}),
])
def test_every_kind_of_metadata_is_gone(fmt, options):
    exif = {} if fmt == "GIF" else {"exif": spy_exif(), "icc_profile": b"secret-icc"}
    data = encoded(fmt, **exif, **options)
    assert any(secret in data for secret in SECRETS)
    for image in prepared(data).values():
        assert not any(secret in image.data for secret in SECRETS)
        stored = reopened(image)
        assert not {"exif", "icc_profile", "xmp", "comment", "Comment"} & set(stored.info)
        assert not stored.getexif()
        assert not getattr(stored, "text", {})


def test_a_photo_with_gps_exif_loses_it():
    original = prepared(encoded("JPEG", (64, 48), exif=spy_exif()))["original"]
    assert not reopened(original).getexif().get_ifd(0x8825)
    assert "exif" not in reopened(original).info


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_an_exif_orientation_is_applied_then_dropped(fmt):
    images = prepared(encoded(fmt, (80, 40), exif=spy_exif(orientation=6)))
    assert (images["original"].width, images["original"].height) == (40, 80)
    assert reopened(images["original"]).size == (40, 80)
    assert (images["icon"].width, images["icon"].height) == (15, 30)


def test_the_orientation_turns_the_pixels_not_only_the_size():
    image = PIL.Image.new("RGB", (80, 40), "white")
    image.paste("black", (0, 0, 40, 40))  # black on the left
    buffer = io.BytesIO()
    image.save(buffer, "PNG", exif=spy_exif(orientation=6))  # displayed turned 90° clockwise
    upright = decode(buffer.getvalue(), MAX_BYTES, MAX_PIXELS)
    assert upright.getpixel((20, 10)) == (0, 0, 0)  # black on top
    assert upright.getpixel((20, 70)) == (255, 255, 255)


def test_a_photo_with_unreadable_exif_is_kept_as_it_is():
    data = encoded("WEBP", (80, 40), exif=b"not a TIFF header")
    with pytest.raises(SyntaxError):
        PIL.Image.open(io.BytesIO(data)).getexif()
    original = prepared(data)["original"]
    assert (original.width, original.height) == (80, 40)
    assert "exif" not in reopened(original).info


# renditions


@pytest.mark.parametrize("size", [(2600, 1000), (1000, 2600), (1500, 1500), (4000, 333), (7, 3000)])
def test_renditions_fit_their_boxes_and_keep_the_aspect_ratio(size):
    images = prepared(encoded("JPEG", size))
    for name, (box_width, box_height) in RENDITIONS.items():
        image = images[name]
        assert image.width <= box_width and image.height <= box_height
        assert image.width == box_width or image.height == box_height
        scale = min(box_width / size[0], box_height / size[1])
        assert abs(image.width - size[0] * scale) <= 1 and abs(image.height - size[1] * scale) <= 1
        assert reopened(image).size == (image.width, image.height)
        assert image.content_type == "image/jpeg"


def test_a_small_image_is_never_enlarged():
    images = prepared(encoded("PNG", (60, 20)))
    assert {name: (image.width, image.height) for name, image in images.items()} == {
        "original": (60, 20), "large": (60, 20), "thumbnail": (60, 20), "icon": (60, 20)}


def test_renditions_of_a_palette_image_are_smooth_and_keep_transparency():
    icon = prepared(encoded("GIF", (750, 300), mode="P", transparency=0))["icon"]
    assert icon.content_type == "image/png"
    assert reopened(icon).mode == "RGBA"


def test_renditions_of_16_bit_grey_are_scaled_not_clipped():
    image = PIL.Image.new("I;16", (750, 300), 30000)
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    icon = prepared(buffer.getvalue())["icon"]
    assert reopened(icon).getpixel((10, 10)) == 30000 // 256


@pytest.mark.parametrize("mode", ["RGBA", "P"])
def test_renditions_of_a_large_png_reduced_by_bands_match_a_whole_image_resize(mode):
    grey = PIL.Image.linear_gradient("L").resize((1001, 3103))  # reduced by 2
    image = PIL.Image.merge("RGBA", (grey, grey.transpose(PIL.Image.Transpose.FLIP_TOP_BOTTOM),
                                     grey.transpose(PIL.Image.Transpose.FLIP_LEFT_RIGHT), grey))
    image = image if mode == "RGBA" else image.convert("RGB").quantize(64)
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    for name, image_out in prepared(buffer.getvalue()).items():
        made = reopened(image_out).convert("RGBA")
        whole = image.convert("RGBA").resize(made.size, PIL.Image.Resampling.LANCZOS)
        difference = PIL.ImageStat.Stat(PIL.ImageChops.difference(made, whole)).mean
        assert max(difference) < 1, (name, difference)


def test_a_jpeg_decodes_smaller_in_draft_mode_other_formats_whole():
    assert decode(encoded("JPEG", (4000, 2000)), MAX_BYTES, MAX_PIXELS, scale=0.3).size == (
        2000, 1000)  # 1/2: the smallest scale not below 0.3
    assert decode(encoded("PNG", (4000, 2000)), MAX_BYTES, MAX_PIXELS, scale=0.3).size == (
        4000, 2000)


def test_a_large_jpeg_s_renditions_come_from_a_draft_yet_are_exact_and_upright(monkeypatch):
    drafts = []
    draft = PIL.JpegImagePlugin.JpegImageFile.draft
    monkeypatch.setattr(PIL.JpegImagePlugin.JpegImageFile, "draft",
                        lambda image, *args: drafts.append(draft(image, *args)) or drafts[-1])
    image = PIL.Image.new("RGB", (4000, 2000), "white")
    image.paste("black", (0, 0, 2000, 2000))  # black on the left
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", exif=spy_exif(orientation=6))  # displayed turned 90° clockwise
    images = prepared(buffer.getvalue())
    assert drafts == [("RGB", (0, 0, 2000, 1000))]  # decoded at 1/2 for the renditions
    assert {name: (image.width, image.height) for name, image in images.items()} == {
        "original": (2000, 4000), "large": (250, 500), "thumbnail": (100, 200), "icon": (15, 30)}
    large = reopened(images["large"])
    assert max(large.getpixel((125, 60))) < 30 and min(large.getpixel((125, 440))) > 225


# fuzzing: nothing but the two refusals, whatever the bytes

MAGIC = [b"", b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff\xe0", b"GIF89a", b"RIFF\x00\x10\x00\x00WEBPVP8L"]
VALID = [encoded("PNG", (40, 30), noise=True), encoded("JPEG", (40, 30), noise=True),
         encoded("GIF", (40, 30), noise=True), encoded("WEBP", (40, 30), noise=True),
         encoded("JPEG", (40, 30), exif=spy_exif(orientation=6))]


def survives(data):
    try:
        prepared(data, max_pixels=1_000_000)
    except (InvalidImage, ImageTooLarge):
        pass


def mutated(data, rng):
    data = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        at = rng.randrange(len(data))
        choice = rng.random()
        if choice < 0.6:
            data[at] = rng.randrange(256)
        elif choice < 0.8:
            del data[at: at + rng.randint(1, 64)]
        else:
            data[at:at] = rng.randbytes(rng.randint(1, 16))
    return bytes(data)


def test_random_bytes_are_refused_cleanly():
    rng = random.Random(20240601)
    for _ in range(200):
        survives(rng.choice(MAGIC) + rng.randbytes(rng.randint(0, 2000)))


def test_random_mutations_of_valid_images_are_refused_cleanly_or_accepted():
    rng = random.Random(20240602)
    for _ in range(200):
        survives(mutated(rng.choice(VALID), rng))
