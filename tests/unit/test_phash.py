"""bot.phash gives the same pHash as imagehash.phash, bit for bit, without numpy or scipy.

Stored ``media.phash`` values were computed with imagehash; a hash that differed even in one
bit for some images would quietly weaken duplicate detection for them. The corpus below is
made to include the hard cases: flat and symmetric pictures, whose DCT coefficients are zero
on paper and whose bits therefore depend on how scipy rounds. imagehash and scipy come with
the ``test`` extra only (the bot itself does not need them); tests that compare against them
are skipped without them, and the fixed hashes at the end still pin the result.
"""

from __future__ import annotations

import io
import random
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pillow_heif
import pytest
from PIL import Image, ImageDraw, ImageFilter, ImageOps

from bot.duplicates import perceptual_hash
from bot.phash import SIDE, dct_corner, phash


def noise(seed: int, size: tuple[int, int], mode: str = "L") -> Image.Image:
    rng = random.Random(seed)
    bands = len(Image.new(mode, (1, 1)).getbands())
    data = rng.randbytes(size[0] * size[1] * bands)
    return Image.frombytes(mode, size, data)


def photo_like(seed: int, size: tuple[int, int] = (640, 480)) -> Image.Image:
    """Shapes, soft edges, grain and JPEG artefacts: closer to a phone photo than noise."""
    rng = random.Random(seed)
    image = Image.new("RGB", size, tuple(rng.randrange(256) for _ in range(3)))
    draw = ImageDraw.Draw(image)
    width, height = size
    for _ in range(rng.randrange(3, 12)):
        x0, y0 = rng.randrange(width), rng.randrange(height)
        box = (x0, y0, x0 + rng.randrange(1, width), y0 + rng.randrange(1, height))
        colour = tuple(rng.randrange(256) for _ in range(3))
        (draw.ellipse if rng.random() < 0.5 else draw.rectangle)(box, fill=colour)
    image = image.filter(ImageFilter.GaussianBlur(rng.uniform(0.5, 6)))
    grain = noise(seed, size, "RGB")
    image = Image.blend(image, grain, rng.uniform(0, 0.15))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=rng.randrange(30, 95))
    return Image.open(io.BytesIO(buffer.getvalue()))


def gradient(width: int, height: int, *, horizontal: bool = True) -> Image.Image:
    row = bytes(x * 255 // max(width - 1, 1) for x in range(width))
    image = Image.frombytes("L", (width, 1), row).resize((width, height))
    return image if horizontal else image.transpose(Image.Transpose.ROTATE_90)


def checkerboard(n: int) -> Image.Image:
    board = Image.new("L", (256, 256), 0)
    draw = ImageDraw.Draw(board)
    step = 256 // n
    for i in range(n):
        for j in range(n):
            if (i + j) % 2:
                draw.rectangle((i * step, j * step, (i + 1) * step - 1, (j + 1) * step - 1), 255)
    return board


def mirrored_noise(seed: int) -> Image.Image:
    """Left half noise, right half its mirror image."""
    half = noise(seed, (50, 100))
    mirrored = Image.new("L", (100, 100))
    mirrored.paste(half, (0, 0))
    mirrored.paste(ImageOps.mirror(half), (50, 0))
    return mirrored


def corpus() -> Iterator[tuple[str, Image.Image]]:
    """Named test images: flat, gradients, symmetric, noise, photo-like; many modes and sizes."""
    for colour in ("black", "white", "gray", "#808081", "navy", "firebrick", "#010000"):
        for size in ((1, 1), (32, 32), (640, 480), (3, 1000)):
            yield f"flat {colour} {size}", Image.new("RGB", size, colour)
    yield "linear gradient", Image.linear_gradient("L")
    yield "radial gradient", Image.radial_gradient("L")
    for size in ((256, 256), (1000, 10), (7, 300), (32, 32), (33, 31)):
        yield f"gradient {size}", gradient(*size)
        yield f"gradient vertical {size}", gradient(*size, horizontal=False)
    for n in (2, 4, 8, 16, 32, 64):
        yield f"checkerboard {n}", checkerboard(n)
        stripes = Image.new("L", (300, 200), 30)
        for i in range(0, 300, max(300 // n, 1) * 2):
            ImageDraw.Draw(stripes).rectangle((i, 0, i + 300 // n - 1, 199), 220)
        yield f"stripes {n}", stripes
    circles = Image.new("L", (400, 400), 0)
    for radius in range(200, 0, -25):
        ImageDraw.Draw(circles).ellipse(
            (200 - radius, 200 - radius, 200 + radius, 200 + radius), fill=(radius * 5) % 256
        )
    yield "concentric circles", circles
    for seed in range(12):
        mirrored = mirrored_noise(seed)
        yield f"mirrored noise {seed}", mirrored
        yield f"flipped noise {seed}", mirrored.transpose(Image.Transpose.ROTATE_90)
        quad = mirrored.crop((0, 0, 100, 50))
        both = Image.new("L", (100, 100))
        both.paste(quad, (0, 0))
        both.paste(ImageOps.flip(quad), (0, 50))
        yield f"two-way symmetric noise {seed}", both
    for seed in range(40):
        size = random.Random(seed).choice([(64, 64), (300, 200), (33, 47), (1, 5), (2000, 3)])
        yield f"noise L {seed}", noise(seed, size)
        yield f"noise RGB {seed}", noise(seed + 1000, size, "RGB")
    for seed in range(60):
        yield f"photo-like {seed}", photo_like(seed)
    base = photo_like(1234, (800, 600))
    with_alpha = base.convert("RGBA")
    with_alpha.putalpha(gradient(800, 600))
    yield "RGBA", with_alpha
    yield "LA", base.convert("LA")
    yield "L", base.convert("L")
    yield "P adaptive", base.convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
    yield "P web", base.convert("P")
    yield "CMYK", base.convert("CMYK")
    yield "1 (dithered)", base.convert("1")
    yield "I", base.convert("I")
    yield "F", base.convert("F")
    yield "YCbCr", base.convert("YCbCr")
    yield "HSV", base.convert("HSV")
    transparent = Image.new("P", (120, 80), 0)
    transparent.putpalette([0, 0, 0, 255, 0, 0, 0, 0, 255] + [0] * 759)
    ImageDraw.Draw(transparent).rectangle((20, 20, 70, 60), fill=1)
    transparent.info["transparency"] = 0
    yield "P with transparency", transparent
    yield "very wide", photo_like(5, (6000, 40))
    yield "very tall", photo_like(6, (30, 5000))
    yield "one pixel", Image.new("RGB", (1, 1), (12, 200, 7))
    yield "one row", noise(77, (500, 1), "RGB")
    yield "text", text_image()
    yield "small resized photo", base.resize((40, 30))


def text_image() -> Image.Image:
    image = Image.new("L", (400, 120), 255)
    draw = ImageDraw.Draw(image)
    for line in range(4):
        draw.text((10, 10 + line * 25), "Звернення №42 — 24.02.2022 Харків", fill=0)
    return image


def test_dct_is_scipys_bit_for_bit() -> None:
    """The 8×8 corner equals scipy.fftpack.dct(dct(p, axis=0), axis=1) exactly, floats and all."""
    numpy = pytest.importorskip("numpy")
    fftpack = pytest.importorskip("scipy.fftpack")
    rng = random.Random(10)
    arrays: list[list[int]] = []
    for _ in range(300):
        arrays.append([rng.randrange(256) for _ in range(SIDE * SIDE)])
    for value in (0, 1, 127, 128, 255):  # flat: all coefficients but one are zero on paper
        arrays.append([value] * (SIDE * SIDE))
    for _ in range(100):  # mirror-symmetric rows: half the coefficients are zero on paper
        rows = []
        for _ in range(SIDE):
            half = [rng.randrange(256) for _ in range(SIDE // 2)]
            rows.extend(half + half[::-1])
        arrays.append(rows)
    for _ in range(50):  # a few grey levels only, like graphics
        arrays.append([rng.choice((0, 128, 255)) for _ in range(SIDE * SIDE)])
    for pixels in arrays:
        grid = numpy.array(pixels, dtype=numpy.uint8).reshape(SIDE, SIDE)
        expected = fftpack.dct(fftpack.dct(grid, axis=0), axis=1)[:8, :8].flatten().tolist()
        assert dct_corner([float(p) for p in pixels]) == expected


def test_hash_equals_imagehash_on_the_corpus() -> None:
    imagehash = pytest.importorskip("imagehash")
    images = list(corpus())
    mismatches: list[tuple[str, int]] = []
    for name, image in images:
        mine, theirs = phash(image), str(imagehash.phash(image))
        if mine != theirs:
            mismatches.append((name, (int(mine, 16) ^ int(theirs, 16)).bit_count()))
    print(f"\npHash: {len(images)} images, {len(mismatches)} differ from imagehash")
    assert not mismatches, f"bits differ (name, bits): {mismatches}"


def test_speed_is_printed(capsys: pytest.CaptureFixture[str]) -> None:
    """Printed, not asserted: decoding and resizing a photo costs far more than the DCT."""
    imagehash = pytest.importorskip("imagehash")
    small = photo_like(3).convert("L").resize((SIDE, SIDE), Image.Resampling.LANCZOS)
    photo = photo_like(4, (4000, 3000))

    def per_call(fn: Callable[[Image.Image], object], image: Image.Image, times: int) -> float:
        start = time.perf_counter()
        for _ in range(times):
            fn(image)
        return (time.perf_counter() - start) / times * 1000

    imagehash.phash(small)  # scipy's first import is not part of the comparison
    with capsys.disabled():
        print(
            f"\npHash per call: 32×32 image {per_call(phash, small, 200):.2f} ms "
            f"(imagehash {per_call(imagehash.phash, small, 200):.2f} ms); "
            f"12 MP photo {per_call(phash, photo, 3):.0f} ms "
            f"(imagehash {per_call(imagehash.phash, photo, 3):.0f} ms)"
        )


# Computed once with imagehash 4.3.2 (scipy 1.17.1, Pillow 13.0): they hold without imagehash.
KNOWN = {
    "flat black": (lambda: Image.new("RGB", (640, 480), "black"), "0000000000000000"),
    "flat gray": (lambda: Image.new("RGB", (640, 480), "gray"), "8000000000000000"),
    "linear gradient": (lambda: Image.linear_gradient("L"), "8000800080008000"),
    "checkerboard": (lambda: checkerboard(4), "8005000500500050"),
    "mirrored noise": (lambda: mirrored_noise(3), "a88a02aa200a28aa"),
    "noise": (lambda: noise(1, (64, 64)), "e99080cfcdea2bc9"),
    "photo-like": (lambda: photo_like(7), "f6c16b94b6896a70"),
}


@pytest.mark.parametrize("name", sorted(KNOWN))
def test_known_hashes(name: str) -> None:
    make, expected = KNOWN[name]
    assert phash(make()) == expected


def test_files_are_hashed_and_bad_ones_have_none(tmp_path: Path) -> None:
    base = photo_like(9)
    expected = phash(base.convert("RGB"))
    for fmt in ("PNG", "WEBP", "BMP", "TIFF"):
        path = tmp_path / f"photo.{fmt.lower()}"
        base.save(path, fmt, **({"lossless": True} if fmt == "WEBP" else {}))
        assert perceptual_hash(path) == expected, fmt
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    assert perceptual_hash(broken) is None


def test_heic_photos_get_a_perceptual_hash(tmp_path: Path) -> None:
    """iPhones send HEIC "as File": such originals get a pHash like any JPEG of the picture."""
    picture = Image.new("RGB", (320, 240), (90, 120, 160))
    draw = ImageDraw.Draw(picture)
    draw.rectangle((40, 60, 150, 200), fill=(200, 180, 140))  # a house
    draw.polygon([(30, 60), (95, 15), (160, 60)], fill=(120, 40, 30))  # its roof
    draw.ellipse((220, 30, 290, 100), fill=(250, 230, 120))  # the sun
    draw.rectangle((0, 200, 320, 240), fill=(60, 110, 50))  # grass
    heic = tmp_path / "photo.heic"
    pillow_heif.from_pillow(picture).save(heic, quality=95)
    png = tmp_path / "photo.png"
    picture.save(png)
    assert heic.read_bytes()[4:12] == b"ftypheic"
    from_heic, from_png = perceptual_hash(heic), perceptual_hash(png)
    assert from_heic is not None
    assert from_png is not None
    assert (int(from_heic, 16) ^ int(from_png, 16)).bit_count() <= 4
