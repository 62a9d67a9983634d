"""Painting the stills with Pillow: backgrounds, the title card, captions and the thumbnail.

All text is drawn here, as pixels; no title, caption or script text ever reaches FFmpeg's filter
or expansion syntax.
"""

from __future__ import annotations

import colorsys
import contextlib
import hashlib
from pathlib import Path

import fontpkg_open_sans
from PIL import Image, ImageDraw, ImageFilter, ImageFont, ImageOps

FONT_FILE = fontpkg_open_sans.ROOT / "files" / "OpenSans[wdth,wght].ttf"
ACCENT = (255, 196, 61)
LAYERS_KEPT = 4  # caption layers kept painted (a fade needs two at once)


def _colour(seed: bytes, offset: int, lightness: float) -> tuple[int, int, int]:
    hue = seed[offset] / 255
    saturation = 0.45 + seed[offset + 1] / 255 * 0.35
    r, g, b = colorsys.hls_to_rgb(hue, lightness, saturation)
    return round(r * 255), round(g * 255), round(b * 255)


class Painter:
    def __init__(self, width: int, height: int, font_path: Path | None = None) -> None:
        self.size = (width, height)
        self.font_path = font_path or FONT_FILE
        self._fonts: dict[tuple[int, str], ImageFont.FreeTypeFont] = {}
        self._layers: dict[tuple[str, int, str], tuple[Image.Image, tuple[int, int]]] = {}

    def font(self, px: int, weight: str = "Bold") -> ImageFont.FreeTypeFont:
        key = (px, weight)
        if key not in self._fonts:
            font = ImageFont.truetype(str(self.font_path), px)
            with contextlib.suppress(OSError, ValueError):  # a static font (VFO_FONT_PATH) has no weights
                font.set_variation_by_name(weight)
            self._fonts[key] = font
        return self._fonts[key]

    def generated(self, seed_text: str, index: int) -> Image.Image:
        """A calm two-colour gradient with soft shapes, different for every title and index."""
        seed = hashlib.sha256(f"{seed_text}\0{index}".encode()).digest()
        small = (self.size[0] // 8, self.size[1] // 8)
        ramp = Image.linear_gradient("L").rotate(seed[4] % 360, resample=Image.Resampling.BILINEAR)
        ramp = ImageOps.fit(ramp.crop((38, 38, 218, 218)), small)  # the inner square has no corners
        base = ImageOps.colorize(ramp, _colour(seed, 0, 0.22), _colour(seed, 2, 0.45))
        glow = Image.new("L", small, 0)
        draw = ImageDraw.Draw(glow)
        for n in range(4):
            x, y = seed[6 + n] * small[0] // 255, seed[10 + n] * small[1] // 255
            r = small[1] // 4 + seed[14 + n] % (small[1] // 3)
            draw.ellipse((x - r, y - r, x + r, y + r), fill=60 + seed[18 + n] % 60)
        glow = glow.filter(ImageFilter.GaussianBlur(small[1] // 10))
        lit = Image.composite(Image.new("RGB", small, _colour(seed, 22, 0.62)), base, glow)
        return lit.resize(self.size, Image.Resampling.BICUBIC)

    def fitted(self, path: Path) -> Image.Image:
        with Image.open(path) as image:
            upright = ImageOps.exif_transpose(image).convert("RGB")
        return self.fitted_image(upright)

    def fitted_image(self, image: Image.Image) -> Image.Image:
        """The picture cropped from its middle and scaled to fill the frame."""
        return ImageOps.fit(image.convert("RGB"), self.size, Image.Resampling.LANCZOS)

    def _wrap(self, text: str, font: ImageFont.FreeTypeFont, width: int, max_lines: int) -> list[str]:
        lines: list[str] = []
        for word in text.split():
            if lines and font.getlength(f"{lines[-1]} {word}") <= width:
                lines[-1] = f"{lines[-1]} {word}"
            else:
                lines.append(word)
        if len(lines) > max_lines:
            lines = [*lines[: max_lines - 1], " ".join(lines[max_lines - 1 :])]
        return lines

    def _fit_text(
        self, text: str, width: int, max_lines: int, start_px: int
    ) -> tuple[ImageFont.FreeTypeFont, list[str]]:
        px = start_px
        while True:
            font = self.font(px)
            lines = self._wrap(text, font, width, max_lines)
            if px <= 18 or all(font.getlength(line) <= width for line in lines):
                return font, lines
            px = int(px * 0.9)

    def title_card(self, background: Image.Image, title: str) -> Image.Image:
        w, h = self.size
        card = ImageOps.fit(background, self.size).filter(ImageFilter.GaussianBlur(h // 60))
        card = Image.blend(card, Image.new("RGB", self.size, (8, 10, 16)), 0.45)
        font, lines = self._fit_text(title, int(w * 0.82), 4, start_px=h // 9)
        draw = ImageDraw.Draw(card)
        line_h = int(font.size * 1.2)
        top = (h - line_h * len(lines)) // 2
        for n, line in enumerate(lines):
            draw.text((w // 2, top + n * line_h), line, font=font, fill="white", anchor="ma")
        bar_w = w // 10
        bar_y = top + line_h * len(lines) + h // 40
        draw.rectangle(
            (w // 2 - bar_w // 2, bar_y, w // 2 + bar_w // 2, bar_y + max(4, h // 180)), fill=ACCENT
        )
        return card

    def captioned(
        self, background: Image.Image, caption: str | None, highlight: int = -1, style: str = "lines"
    ) -> Image.Image:
        if not caption:
            return background
        layer, place = self.caption_layer(caption, highlight, style)
        frame = background.copy()
        box = (*place, place[0] + layer.width, place[1] + layer.height)
        frame.paste(Image.alpha_composite(frame.crop(box).convert("RGBA"), layer).convert("RGB"), place)
        return frame

    def caption_layer(self, caption: str, highlight: int, style: str) -> tuple[Image.Image, tuple[int, int]]:
        """The caption as a transparent picture and where it goes, on even pixels (painted once per
        caption: a push-in lays the same caption over many pictures)."""
        key = (caption, highlight, style)
        if key not in self._layers:
            if len(self._layers) >= LAYERS_KEPT:  # captions come in order: keep only the latest
                del self._layers[next(iter(self._layers))]
            self._layers[key] = (
                self._big_words(caption, highlight) if style == "words" else self._lines(caption)
            )
        return self._layers[key]

    def _lines(self, caption: str) -> tuple[Image.Image, tuple[int, int]]:
        """Up to three lines on a rounded shade, low in the frame."""
        w, h = self.size
        font, lines = self._fit_text(caption, int(w * 0.84), 3, start_px=max(28, h // 18))
        line_h = int(font.size * 1.25)
        pad = int(font.size) // 2
        box_h = int(line_h * len(lines) + pad * 2)
        box_w = int(max(font.getlength(line) for line in lines) + pad * 3)
        layer = Image.new("RGBA", (box_w, box_h), (0, 0, 0, 0))
        draw = ImageDraw.Draw(layer)
        draw.rounded_rectangle((0, 0, box_w - 1, box_h - 1), radius=pad, fill=(0, 0, 0, 150))
        stroke = max(2, font.size // 18)
        for n, line in enumerate(lines):
            draw.text(
                (box_w // 2, pad + n * line_h),
                line,
                font=font,
                fill="white",
                anchor="ma",
                stroke_width=stroke,
                stroke_fill="black",
            )
        return layer, (((w - box_w) // 2) & ~1, (h - int(h * 0.08) - box_h) & ~1)

    def _big_words(self, caption: str, highlight: int) -> tuple[Image.Image, tuple[int, int]]:
        """A few words, large, centred in the safe area of a vertical video (clear of the platform's
        buttons and description at the bottom and right), the spoken word in the accent colour."""
        w, h = self.size
        words = caption.split()
        font, lines = self._fit_text(caption, int(w * 0.8), 2, start_px=max(28, min(w // 8, h // 12)))
        line_h = int(font.size * 1.2)
        top = int(h * 0.62) - line_h * len(lines) // 2
        stroke = max(3, int(font.size) // 10)
        space = font.getlength(" ")
        layer = Image.new("RGBA", (w, int(line_h * len(lines) + 2 * stroke + font.size // 2)), (0, 0, 0, 0))
        draw = ImageDraw.Draw(layer)
        n = 0
        for row, line in enumerate(lines):
            x = (w - font.getlength(line)) / 2
            y = stroke + row * line_h
            for word in line.split():
                fill = ACCENT if n == highlight and n < len(words) else "white"
                draw.text((x, y), word, font=font, fill=fill, stroke_width=stroke, stroke_fill="black")
                x += font.getlength(word) + space
                n += 1
        left, upper, right, lower = layer.getbbox() or (0, 0, 2, 2)
        left, upper = left & ~1, upper & ~1  # even, like 4:2:0 chroma
        return layer.crop((left, upper, right, lower)), (left, (top - stroke + upper) & ~1)

    @staticmethod
    def thumbnail(card: Image.Image, size: tuple[int, int] = (1280, 720)) -> Image.Image:
        return ImageOps.fit(card, size, Image.Resampling.LANCZOS)
