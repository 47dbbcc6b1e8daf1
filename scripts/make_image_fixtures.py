#!/usr/bin/python3
"""Make the image fixtures for tests/io/test_image.cpp: synthetic images plus Pillow's results.

Run with Debian's interpreter and packages (python3-pil, python3-numpy):

    /usr/bin/python3 scripts/make_image_fixtures.py

Writes into tests/fixtures/images/:
  * a handful of deterministic synthetic images of odd sizes (gradients + noise + sharp edges,
    so that the bicubic overshoot is clipped at 0 and 255): RGB PNGs, one BMP (odd width, so its
    rows are padded), one grayscale PNG and one RGBA PNG with varying alpha, decode-only PNGs
    (palette with a transparent index, 16-bit gray, 16-bit RGB), and five JPEGs written by
    Pillow (JPEG_SAVE): baseline 4:2:0, baseline 4:4:4, progressive 4:2:2, grayscale, CMYK;
  * for every source, Pillow's own results, saved losslessly as RGB PNGs under ref/:
      - Image.resize((w, h), BICUBIC) to a few sizes (down, up, one axis only, one with a box);
      - the CLIP eval preprocessing at 224 and 32 as uint8 before normalisation
        (torchvision Resize(size, BICUBIC) + CenterCrop(size), written out below), for every
        source with resize targets and for every JPEG;
  * for every JPEG, Pillow's decoded pixels (ref/<name>.pillow.png, lossless): the C++ decoder
    (libjpeg-turbo, set up as Pillow sets it up) must reproduce them exactly, and resize is
    compared on them so that a decoder fault cannot hide a resize fault;
  * manifest.txt: one line per source and per reference, each with the FNV-1a 64-bit hash of the
    RGB bytes, so the C++ test can check that it read exactly what Pillow produced;
  * README.md with the Pillow version used.

Every image is `Image.open(path).convert("RGB")` first (alpha dropped, no compositing, EXIF
orientation ignored) — the decode semantics skiptune implements.
"""
import os
import struct
import sys
import zlib

import numpy as np
import PIL
from PIL import Image, features

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "tests", "fixtures", "images")
REF = os.path.join(OUT, "ref")
BICUBIC = Image.Resampling.BICUBIC


def fnv1a64(data: bytes) -> str:
    h = 0xCBF29CE484222325
    for b in data:
        h ^= b
        h = (h * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return "%016x" % h


def synthetic(width, height, seed, channels=3):
    """Gradients + mild noise + saturated rectangles, a diagonal edge and a fine checkerboard."""
    rng = np.random.RandomState(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    u, v = x / max(width - 1, 1), y / max(height - 1, 1)
    planes = [255 * u, 255 * v, 255 * (0.5 + 0.5 * np.sin(6.0 * u + 4.0 * v + seed))]
    if channels == 4:
        planes.append(255 * (1 - u * v))  # alpha: fully opaque corner to nearly transparent
    img = np.stack(planes[:channels], axis=-1)
    img += rng.normal(0, 6, size=img.shape)
    # saturated blocks (black and white) with sharp edges: bicubic over/undershoot gets clipped
    for k in range(4):
        x0, y0 = rng.randint(0, width), rng.randint(0, height)
        x1, y1 = x0 + 1 + rng.randint(0, max(width // 3, 1)), y0 + 1 + rng.randint(0, max(height // 3, 1))
        img[y0:y1, x0:x1, :3] = 255.0 if k % 2 == 0 else 0.0
    # a diagonal hard edge and a 1-pixel checkerboard in one corner (aliasing test)
    img[(x + 2 * y) % max(width, 8) < 2, :3] = 255.0
    cw, ch = max(width // 5, 2), max(height // 5, 2)
    checker = ((x[:ch, :cw] + y[:ch, :cw]) % 2) * 255.0
    img[:ch, :cw, 0] = checker
    img[:ch, :cw, 1] = 255.0 - checker
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def write_png16(path, samples, color_type):
    """A minimal 16-bit PNG (colour type 0 = gray, 2 = RGB): Pillow cannot create such files."""
    height, width = samples.shape[:2]
    rows = b"".join(b"\x00" + samples[y].astype(">u2").tobytes() for y in range(height))

    def chunk(tag, data):
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 16, color_type, 0, 0, 0)
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr))
        f.write(chunk(b"IDAT", zlib.compress(rows, 9)) + chunk(b"IEND", b""))


def clip_eval_uint8(im: Image.Image, size: int) -> Image.Image:
    """torchvision Resize(size, BICUBIC) + CenterCrop(size) on a PIL image, as CLIP does it.

    Resize(int): the shorter side becomes `size`, the longer int(size * long / short) (Python
    float division, truncated) — torchvision's _compute_resized_output_size. CenterCrop:
    top = int(round((h - size) / 2.0)), left likewise (Python round: half to even).
    """
    w, h = im.size
    short, long = (w, h) if w <= h else (h, w)
    new_short, new_long = size, int(size * long / short)
    new_w, new_h = (new_short, new_long) if w <= h else (new_long, new_short)
    im = im.resize((new_w, new_h), BICUBIC)
    top = int(round((new_h - size) / 2.0))
    left = int(round((new_w - size) / 2.0))
    return im.crop((left, top, left + size, top + size))


# name, (width, height), seed, how to save, resize targets [(w, h) or (w, h, box)]
SOURCES = [
    ("rgb_37x23.png", (37, 23), 1, "RGB", [(16, 11), (101, 67), (37, 50), (5, 3)]),
    ("rgb_300x201.png", (300, 201), 2, "RGB",
     [(150, 100), (97, 61), (301, 201), (64, 64, (10.5, 20.25, 210.0, 180.0))]),
    ("rgb_225x224.jpg", (225, 224), 3, "RGB", [(224, 224), (100, 77), (7, 9)]),
    ("rgb_640x97.png", (640, 97), 4, "RGB", [(320, 48), (111, 17), (640, 96)]),
    ("gray_31x500.png", (31, 500), 5, "L", [(15, 250), (62, 333), (31, 17)]),
    ("rgb_97x61.bmp", (97, 61), 6, "RGB", [(48, 30), (150, 94)]),
    ("rgba_64x45.png", (64, 45), 7, "RGBA", [(32, 22), (90, 70)]),
    # more JPEG kinds (decode + CLIP eval only): see JPEG_SAVE for how each is written
    ("rgb444_97x64.jpg", (97, 64), 11, "RGB", []),
    ("rgb422_75x51_progressive.jpg", (75, 51), 12, "RGB", []),
    ("gray_50x41.jpg", (50, 41), 13, "L", []),
    ("cmyk_43x30.jpg", (43, 30), 14, "CMYK", []),
    # decode-only sources: the PNG kinds whose RGB conversion has its own rules
    ("palette_23x17.png", (23, 17), 8, "P", []),      # palette + a transparent index
    ("gray16_7x5.png", (7, 5), 9, "I", []),           # 16-bit gray: Pillow clips to 255
    ("rgb16_6x4.png", (6, 4), 10, "RGB", []),         # 48-bit RGB: Pillow keeps the high byte
]
CLIP_SIZES = [224, 32]

# Pillow's JPEG writer settings per JPEG source. subsampling 0 = 4:4:4, 1 = 4:2:2, 2 = 4:2:0 (the
# default); "L" images are single-component JPEGs; "CMYK" ones are written Adobe-style (inverted,
# with an Adobe APP14 marker) by Pillow + libjpeg.
JPEG_SAVE = {
    "rgb_225x224.jpg": dict(quality=90),                                       # baseline 4:2:0
    "rgb444_97x64.jpg": dict(quality=95, subsampling=0, optimize=True),      # baseline 4:4:4, optimised Huffman
    "rgb422_75x51_progressive.jpg": dict(quality=75, subsampling=1, progressive=True),  # progressive 4:2:2
    "gray_50x41.jpg": dict(quality=85),                                       # 1 component
    "cmyk_43x30.jpg": dict(quality=80),                                       # 4 components, Adobe CMYK
}


def main():
    os.makedirs(REF, exist_ok=True)
    manifest = [
        "# Written by scripts/make_image_fixtures.py with Pillow %s, numpy %s." % (PIL.__version__, np.__version__),
        "# source <file> <width> <height> <fnv1a64 of Pillow's convert('RGB') bytes> <file holding those pixels>",
        "# resize <source> <out_w> <out_h> <box x0 y0 x1 y1 | full> <ref file> <fnv1a64>",
        "# clip <source> <size> <resized_w> <resized_h> <crop_left> <crop_top> <ref file> <fnv1a64>",
    ]
    mode_notes = {}
    for name, (w, h), seed, mode, targets in SOURCES:
        path = os.path.join(OUT, name)
        if name.startswith("gray16"):
            values = np.random.RandomState(seed).randint(0, 65536, size=(h, w)).astype(np.uint16)
            values[0, :4] = [0, 255, 256, 65535]
            write_png16(path, values, 0)
        elif name.startswith("rgb16"):
            write_png16(path, np.random.RandomState(seed).randint(0, 65536, size=(h, w, 3)).astype(np.uint16), 2)
        elif mode == "P":
            quantized = Image.fromarray(synthetic(w, h, seed), "RGB").quantize(colors=16)
            quantized.save(path, transparency=3)
        elif name.endswith(".jpg"):
            rgb = synthetic(w, h, seed)
            if mode == "L":
                im = Image.fromarray(rgb[:, :, 1], "L")
            elif mode == "CMYK":
                black = synthetic(w, h, seed + 100)[:, :, 2] // 2  # some K everywhere, up to 127
                im = Image.fromarray(np.dstack([255 - rgb, black]), "CMYK")
            else:
                im = Image.fromarray(rgb, "RGB")
            im.save(path, **JPEG_SAVE[name])
        elif mode == "L":
            Image.fromarray(synthetic(w, h, seed)[:, :, 1], "L").save(path)
        elif mode == "RGBA":
            Image.fromarray(synthetic(w, h, seed, channels=4), "RGBA").save(path)
        else:
            Image.fromarray(synthetic(w, h, seed), "RGB").save(path)

        with Image.open(path) as opened:
            assert opened.mode == mode, (name, opened.mode)
            src = opened.convert("RGB")
        pixels_file = name
        if name.endswith(".jpg"):
            pixels_file = "ref/%s.pillow.png" % name
            src.save(os.path.join(OUT, pixels_file))
        manifest.append("source %s %d %d %s %s" % (name, w, h, fnv1a64(src.tobytes()), pixels_file))

        for target in targets:
            tw, th = target[0], target[1]
            box = target[2] if len(target) > 2 else None
            out = src.resize((tw, th), BICUBIC, box=box)
            box_tag = "full" if box is None else " ".join(repr(float(b)) for b in box)
            ref = "ref/%s.resize_%dx%d%s.png" % (name, tw, th, "" if box is None else "_box")
            out.save(os.path.join(OUT, ref))
            manifest.append("resize %s %d %d %s %s %s" % (name, tw, th, box_tag, ref, fnv1a64(out.tobytes())))

        for size in CLIP_SIZES if targets or name.endswith(".jpg") else []:
            out = clip_eval_uint8(src, size)
            short, long = (w, h) if w <= h else (h, w)
            new_long = int(size * long / short)
            rw, rh = (size, new_long) if w <= h else (new_long, size)
            left, top = int(round((rw - size) / 2.0)), int(round((rh - size) / 2.0))
            ref = "ref/%s.clip_%d.png" % (name, size)
            out.save(os.path.join(OUT, ref))
            manifest.append("clip %s %d %d %d %d %d %s %s"
                            % (name, size, rw, rh, left, top, ref, fnv1a64(out.tobytes())))

        if mode in ("RGBA", "P", "CMYK"):
            # What CLIP's own _transform does with such a file: Resize on the original mode (RGBA:
            # Pillow premultiplies alpha for that; P: Pillow silently uses NEAREST; CMYK: bicubic
            # on the C, M, Y, K planes, before the non-linear CMYK→RGB), then convert("RGB").
            # Recorded for docs/images.md.
            with Image.open(path) as opened:
                clip_way = np.asarray(clip_eval_uint8(opened, 224).convert("RGB"), dtype=np.int16)
            ours = np.asarray(clip_eval_uint8(src, 224), dtype=np.int16)
            diff = np.abs(clip_way - ours)
            mode_notes[mode] = (name, int(diff.max()), float((diff == 0).mean()))

    with open(os.path.join(OUT, "manifest.txt"), "w") as f:
        f.write("\n".join(manifest) + "\n")

    with open(os.path.join(OUT, "README.md"), "w") as f:
        f.write(
            "# Image fixtures\n\n"
            "Generated by `/usr/bin/python3 scripts/make_image_fixtures.py` (deterministic: "
            "numpy `RandomState` seeds; rerunning rewrites identical files).\n\n"
            "- Pillow version used: **%s** (Debian `python3-pil`; JPEG through libjpeg-turbo %s), "
            "numpy %s, Python %s.\n"
            "- Sources: synthetic images of odd sizes (PNG RGB, BMP with padded rows, grayscale PNG, "
            "RGBA PNG with varying alpha), three decode-only PNGs (palette with a transparent index, "
            "16-bit grayscale, 16-bit RGB) and five JPEGs written by Pillow: %s.\n"
            "- `ref/*.resize_WxH.png`: `Image.open(f).convert('RGB').resize((W, H), Image.Resampling.BICUBIC)` "
            "(`_box`: with the box listed in manifest.txt).\n"
            "- `ref/*.clip_N.png`: torchvision `Resize(N, BICUBIC)` + `CenterCrop(N)` as uint8 "
            "(before ToTensor/Normalize), computed on the RGB-converted image.\n"
            "- `ref/*.jpg.pillow.png`: Pillow's (libjpeg-turbo) decoding of each JPEG, "
            "`Image.open(f).convert('RGB')`.\n"
            "- `manifest.txt`: sizes, crop offsets and FNV-1a 64 hashes of every pixel buffer.\n\n"
            "CLIP's own `_transform` resizes before converting to RGB. For an RGBA file Pillow then "
            "resizes premultiplied alpha; for a palette file it silently resizes with NEAREST. At 224 "
            "that differs from resizing the RGB-converted image (what these references and skiptune "
            "do) by up to %d levels on `%s` (%.1f%% of values equal) and up to %d levels on `%s` "
            "(%.1f%% equal). A CMYK JPEG is resized in CMYK before the (non-linear) conversion: up "
            "to %d levels on `%s` (%.1f%% equal). Grayscale JPEGs and PNGs: no difference.\n"
            % (PIL.__version__, features.version_feature("libjpeg_turbo"), np.__version__, sys.version.split()[0],
               "; ".join("`%s` %s" % (n, ", ".join("%s=%s" % kv for kv in o.items())) for n, o in JPEG_SAVE.items()),
               mode_notes["RGBA"][1], mode_notes["RGBA"][0], 100 * mode_notes["RGBA"][2],
               mode_notes["P"][1], mode_notes["P"][0], 100 * mode_notes["P"][2],
               mode_notes["CMYK"][1], mode_notes["CMYK"][0], 100 * mode_notes["CMYK"][2])
        )
    total = 0
    for root, _, files in os.walk(OUT):
        total += sum(os.path.getsize(os.path.join(root, f)) for f in files)
    print("wrote %s (%.0f kB)" % (os.path.normpath(OUT), total / 1024))


if __name__ == "__main__":
    main()
