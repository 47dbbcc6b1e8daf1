"""The EmojiBench pack file: one self-checking binary file (format version 1).

Layout, all integers little-endian:

    offset  size  field
    0       8     magic "EMOJBNCH"
    8       4     u32 format version (1)
    12      4     u32 header size in bytes (64)
    16      4     u32 image side (32)
    20      4     u32 channels (3, RGB)
    24      4     u32 pixel compression (0 = none, 1 = zlib)
    28      4     u32 reserved (0)
    32      8     u64 metadata size M
    40      8     u64 image count N
    48      8     u64 stored pixel bytes P
    56      8     u64 reserved (0)
    64      M     metadata: UTF-8 JSON (sorted keys, no whitespace)
    64+M    8N    image records: u32 class id, u16 family id, u16 variant
    64+M+8N P     pixels: N × side × side × channels uint8, row-major, in record order (zlib'd
                  as one stream when compression = 1)
    end-32  32    SHA-256 of every byte before it

Records are sorted by (class, family, variant). The file size must be exactly
64 + M + 8N + P + 32. The metadata also holds `content_sha256`, the SHA-256 of the uncompressed
records + pixels, which compares packs independently of the zlib build.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import struct
import tempfile
import zlib
from pathlib import Path
from typing import Any, Dict, List, Sequence, Tuple

MAGIC = b"EMOJBNCH"
FORMAT_VERSION = 1
HEADER = struct.Struct("<8sIIIIIIQQQQ")
RECORD = struct.Struct("<IHH")
COMPRESSION_NONE, COMPRESSION_ZLIB = 0, 1
ZLIB_LEVEL = 6
CHECKSUM_BYTES = 32
assert HEADER.size == 64


class PackError(RuntimeError):
    pass


@dataclasses.dataclass
class Pack:
    """A parsed pack. `pixels` is the raw N × side × side × channels byte string."""
    metadata: Dict[str, Any]
    records: List[Tuple[int, int, int]]
    side: int
    channels: int
    pixels: bytes

    @property
    def image_bytes(self) -> int:
        return self.side * self.side * self.channels

    def image(self, index: int) -> bytes:
        return self.pixels[index * self.image_bytes:(index + 1) * self.image_bytes]

    def as_numpy(self):
        import numpy as np
        return np.frombuffer(self.pixels, np.uint8).reshape(len(self.records), self.side, self.side, self.channels)


def encode_metadata(metadata: Dict[str, Any]) -> bytes:
    return json.dumps(metadata, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8")


def pack_bytes(metadata: Dict[str, Any], records: Sequence[Tuple[int, int, int]], pixels,
               side: int = 0, channels: int = 3, compression: int = COMPRESSION_ZLIB) -> bytes:
    """Serialise a pack. `pixels`: a uint8 array N × side × side × channels (numpy) or the same
    bytes flat with `side` / `channels` given; images in the order of `records`."""
    records = [tuple(int(v) for v in r) for r in records]
    if records != sorted(records) or len(set(records)) != len(records):
        raise PackError("image records must be unique and sorted by (class, family, variant)")
    if hasattr(pixels, "shape"):
        if len(pixels.shape) != 4 or pixels.shape[1] != pixels.shape[2] or str(pixels.dtype) != "uint8":
            raise PackError("pixels must be a uint8 array N x side x side x channels, got %s %s"
                            % (pixels.shape, pixels.dtype))
        side, channels = int(pixels.shape[1]), int(pixels.shape[3])
        raw_pixels = pixels.tobytes()  # C order
    else:
        raw_pixels = bytes(pixels)
    if side <= 0 or len(raw_pixels) != len(records) * side * side * channels:
        raise PackError("%d pixel bytes do not hold %d images of %dx%dx%d"
                        % (len(raw_pixels), len(records), side, side, channels))
    for c, f, v in records:
        if not (0 <= c < 2 ** 32 and 0 <= f < 2 ** 16 and 0 <= v < 2 ** 16):
            raise PackError("record %r does not fit u32/u16/u16" % ((c, f, v),))
    record_bytes = b"".join(RECORD.pack(c, f, v) for c, f, v in records)
    metadata = dict(metadata)
    metadata["content_sha256"] = hashlib.sha256(record_bytes + raw_pixels).hexdigest()
    metadata_bytes = encode_metadata(metadata)
    stored = zlib.compress(raw_pixels, ZLIB_LEVEL) if compression == COMPRESSION_ZLIB else raw_pixels
    header = HEADER.pack(MAGIC, FORMAT_VERSION, HEADER.size, side, channels, compression, 0,
                         len(metadata_bytes), len(records), len(stored), 0)
    body = header + metadata_bytes + record_bytes + stored
    return body + hashlib.sha256(body).digest()


def write_atomically(path: Path, data: bytes) -> None:
    """Temp file in the target directory, flush + fsync, rename over the target, fsync the dir."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp_name = tempfile.mkstemp(prefix="." + path.name + ".", suffix=".partial", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temp_name, 0o644)
        os.replace(temp_name, path)
    except BaseException:
        try:
            os.unlink(temp_name)
        except FileNotFoundError:
            pass
        raise
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def write_pack(path: Path, metadata: Dict[str, Any], records: Sequence[Tuple[int, int, int]], pixels,
               side: int = 0, channels: int = 3, compression: int = COMPRESSION_ZLIB) -> bytes:
    data = pack_bytes(metadata, records, pixels, side, channels, compression)
    write_atomically(path, data)
    return data


def read_pack_bytes(data: bytes, name: str = "pack") -> Pack:
    """Parse and verify a pack (the Python twin of skiptune/data/emoji_pack.hpp)."""
    if len(data) < HEADER.size + CHECKSUM_BYTES:
        raise PackError("%s: %d bytes, too short for an EmojiBench pack (truncated?)" % (name, len(data)))
    (magic, version, header_size, side, channels, compression, _, metadata_size, count,
     stored_size, _) = HEADER.unpack_from(data, 0)
    if magic != MAGIC:
        raise PackError("%s: not an EmojiBench pack (bad magic)" % name)
    if version != FORMAT_VERSION:
        raise PackError("%s: pack format version %d, expected %d" % (name, version, FORMAT_VERSION))
    expected = header_size + metadata_size + RECORD.size * count + stored_size + CHECKSUM_BYTES
    if len(data) != expected:
        raise PackError("%s: %d bytes, header says %d (truncated or corrupted)" % (name, len(data), expected))
    if hashlib.sha256(data[:-CHECKSUM_BYTES]).digest() != data[-CHECKSUM_BYTES:]:
        raise PackError("%s: SHA-256 checksum mismatch (corrupted)" % name)
    offset = header_size
    metadata = json.loads(data[offset:offset + metadata_size].decode("utf-8"))
    offset += metadata_size
    records = [RECORD.unpack_from(data, offset + RECORD.size * i) for i in range(count)]
    offset += RECORD.size * count
    stored = data[offset:offset + stored_size]
    raw = zlib.decompress(stored) if compression == COMPRESSION_ZLIB else bytes(stored)
    if len(raw) != count * side * side * channels:
        raise PackError("%s: pixel data has %d bytes, expected %d" % (name, len(raw), count * side * side * channels))
    return Pack(metadata, records, side, channels, raw)


def read_pack(path: Path) -> Pack:
    return read_pack_bytes(Path(path).read_bytes(), str(path))
