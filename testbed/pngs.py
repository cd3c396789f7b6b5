"""A tiny PNG writer and reader: enough to serve real badge images without an imaging library.

Only 8-bit RGB, unfiltered rows, one IDAT chunk: every browser and image library decodes it.
"""

from __future__ import annotations

import struct
import zlib

SIGNATURE = b"\x89PNG\r\n\x1a\n"
_RGB = 2  # PNG colour type: truecolour without alpha


class PngError(ValueError):
    """The bytes are not a PNG image this module understands."""


def _chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def encode_rgb(width: int, height: int, pixels: bytes) -> bytes:
    """A PNG of ``width`` × ``height`` from ``pixels``: rows of R, G, B bytes, top row first."""
    if width < 1 or height < 1:
        raise ValueError(f"a PNG needs at least one pixel, not {width}×{height}")
    stride = width * 3
    if len(pixels) != stride * height:
        raise ValueError(f"{width}×{height} RGB needs {stride * height} bytes, not {len(pixels)}")
    raw = b"".join(b"\x00" + pixels[row * stride : (row + 1) * stride] for row in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, _RGB, 0, 0, 0)
    return (
        SIGNATURE
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(raw, 9))
        + _chunk(b"IEND", b"")
    )


def png_size(data: bytes) -> tuple[int, int]:
    """(width, height) read from the IHDR chunk; raises PngError if ``data`` is no PNG."""
    if len(data) < 24 or not data.startswith(SIGNATURE) or data[12:16] != b"IHDR":
        raise PngError("not a PNG image (no signature and IHDR chunk)")
    width, height = struct.unpack(">II", data[16:24])
    return int(width), int(height)


__all__ = ["SIGNATURE", "PngError", "encode_rgb", "png_size"]
