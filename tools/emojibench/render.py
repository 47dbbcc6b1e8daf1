"""Rendering a drawable to a small RGB image, the same way for every family.

Pipeline: draw large (SVG at 128 px, colour bitmaps at their 109 ppem strike, outline fonts at
128 px) into premultiplied RGBA → bounding box of alpha ≥ ALPHA_THRESHOLD → composite on white
(exact integer arithmetic) → pad the crop to a white square with a `margin` on the longer side →
one resize to `side` × `side` (Lanczos by default). Everything is integer or Pillow's own
deterministic resampling, so the same inputs give the same bytes.
"""

from __future__ import annotations

from typing import Optional

import numpy as np
from PIL import Image, ImageDraw, ImageFont

import artwork

RENDER_SIZE = 128
ALPHA_THRESHOLD = 4  # of 255: ignore faint anti-aliasing specks when finding the bounding box
FILTERS = {"lanczos": Image.LANCZOS, "box": Image.BOX}


class RenderError(RuntimeError):
    """The drawable produced nothing usable (empty, or a font fell back to several glyphs)."""


def _load_rsvg():
    try:
        import gi
        gi.require_version("Rsvg", "2.0")
        from gi.repository import Rsvg
        import cairo
    except (ImportError, ValueError) as error:
        raise artwork.SourceError(
            "SVG rendering needs librsvg and pycairo from Debian: "
            "apt-get install gir1.2-rsvg-2.0 python3-gi python3-gi-cairo python3-cairo (%s)" % error)
    return Rsvg, cairo


class Renderer:
    def __init__(self, side: int = 32, margin: float = 0.06, filter_name: str = "lanczos"):
        self.side = side
        self.margin = margin
        self.filter = FILTERS[filter_name]
        self._fonts = {}
        self._rsvg = None

    # -- drawing -------------------------------------------------------------------------------
    def _svg_premultiplied(self, svg: str) -> np.ndarray:
        if self._rsvg is None:
            self._rsvg = _load_rsvg()
        rsvg, cairo = self._rsvg
        handle = rsvg.Handle.new_from_data(svg.encode("utf-8"))
        surface = cairo.ImageSurface(cairo.FORMAT_ARGB32, RENDER_SIZE, RENDER_SIZE)
        context = cairo.Context(surface)
        viewport = rsvg.Rectangle()
        viewport.x, viewport.y, viewport.width, viewport.height = 0, 0, RENDER_SIZE, RENDER_SIZE
        handle.render_document(context, viewport)
        surface.flush()
        stride = surface.get_stride()
        bgra = np.frombuffer(surface.get_data(), np.uint8).reshape(RENDER_SIZE, stride // 4, 4)
        bgra = bgra[:, :RENDER_SIZE]
        # cairo ARGB32 is native-endian premultiplied: B, G, R, A bytes on little-endian machines.
        return np.ascontiguousarray(bgra[..., [2, 1, 0, 3]])

    def _font(self, path: str, size: int):
        key = (path, size)
        if key not in self._fonts:
            layout = ImageFont.Layout.RAQM if ImageFont.core.HAVE_RAQM else ImageFont.Layout.BASIC
            self._fonts[key] = ImageFont.truetype(path, size, layout_engine=layout)
        return self._fonts[key]

    def _text_premultiplied(self, drawable: "artwork.Drawable") -> np.ndarray:
        font = self._font(drawable.font, drawable.font_size)
        if drawable.colour:
            # One glyph of a 109 ppem CBDT strike is ~136 px wide; more means the shaper fell back
            # to several glyphs (an unsupported sequence): refuse rather than draw a row of emoji.
            if font.getlength(drawable.payload) > 1.5 * font.getlength("\U0001F600"):
                raise RenderError("font shaped %r into several glyphs" % drawable.payload)
        left, top, right, bottom = font.getbbox(drawable.payload)
        width, height = max(1, right - min(0, left)), max(1, bottom - min(0, top))
        canvas = Image.new("RGBA", (width + 8, height + 8), (0, 0, 0, 0))
        draw = ImageDraw.Draw(canvas)
        origin = (4 - min(0, left), 4 - min(0, top))
        if drawable.colour:
            draw.text(origin, drawable.payload, font=font, embedded_color=True)
        else:
            draw.text(origin, drawable.payload, font=font, fill=(0, 0, 0, 255))
        # Pillow pastes the glyph through its coverage mask onto the transparent canvas, so the
        # canvas already holds premultiplied colour (colour × coverage) with alpha = coverage:
        # multiplying again would put a dark fringe around every colour glyph.
        return np.asarray(canvas, dtype=np.uint8).copy()

    # -- the shared pipeline -----------------------------------------------------------------
    def render(self, drawable: "artwork.Drawable") -> np.ndarray:
        if drawable.kind == "svg":
            premultiplied = self._svg_premultiplied(drawable.payload)
        elif drawable.kind == "text":
            premultiplied = self._text_premultiplied(drawable)
        else:
            raise ValueError("unknown drawable kind %r" % drawable.kind)
        return self.finish(premultiplied)

    def finish(self, premultiplied: np.ndarray) -> np.ndarray:
        """Premultiplied RGBA (H×W×4 uint8) → side×side×3 uint8 on white, cropped and centred."""
        alpha = premultiplied[..., 3]
        rows = np.flatnonzero((alpha >= ALPHA_THRESHOLD).any(axis=1))
        cols = np.flatnonzero((alpha >= ALPHA_THRESHOLD).any(axis=0))
        if rows.size == 0:
            raise RenderError("nothing visible was drawn")
        crop = premultiplied[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1].astype(np.uint16)
        on_white = (crop[..., :3] + (255 - crop[..., 3:4])).astype(np.uint8)
        height, width = on_white.shape[:2]
        square = int(np.ceil(max(height, width) / (1.0 - 2.0 * self.margin)))
        canvas = np.full((square, square, 3), 255, np.uint8)
        top, left = (square - height) // 2, (square - width) // 2
        canvas[top:top + height, left:left + width] = on_white
        small = Image.fromarray(canvas, "RGB").resize((self.side, self.side), self.filter)
        return np.asarray(small, dtype=np.uint8).copy()


def try_render(renderer: Renderer, drawable: "artwork.Drawable") -> Optional[np.ndarray]:
    try:
        return renderer.render(drawable)
    except RenderError:
        return None
