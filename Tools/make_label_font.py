#!/usr/bin/env python3
"""Writes Sources/Imaging/LabelFontData.swift: DejaVu Sans (Book) rasterised at 14 pixels,
printable ASCII, 8-bit coverage per glyph, for the labels of contact sheets (`kiln sheet`).

    python3 -m venv /tmp/v && /tmp/v/bin/pip install pillow
    /tmp/v/bin/python Tools/make_label_font.py /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf

DejaVu's glyphs are under the Bitstream Vera / DejaVu licence (free to use, embed and modify);
re-running the script with the same font file and Pillow gives the same bytes.
"""
import base64
import sys

from PIL import Image, ImageDraw, ImageFont

SIZE = 14
font_path = sys.argv[1] if len(sys.argv) > 1 else "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
font = ImageFont.truetype(font_path, SIZE)
ascent, descent = font.getmetrics()
lines = []
for code in range(32, 127):
    ch = chr(code)
    advance = round(font.getlength(ch))
    left, top, right, bottom = font.getbbox(ch)
    width, height = max(right - left, 0), max(bottom - top, 0)
    data = b""
    if width and height:
        image = Image.new("L", (width, height), 0)
        ImageDraw.Draw(image).text((-left, -top), ch, font=font, fill=255)
        data = image.tobytes()
    lines.append(f'        "{code} {advance} {left} {top} {width} {height} {base64.b64encode(data).decode()}",')

out = f"""// Written by Tools/make_label_font.py from DejaVu Sans (Bitstream Vera / DejaVu licence): do not edit.

/// DejaVu Sans at {SIZE} pixels: for each printable ASCII character, "code advance left top
/// width height coverage" (coverage: width x height bytes, base64, 255 = ink).
enum LabelFontData {{
    static let ascent = {ascent}, descent = {descent}
    static let glyphs: [String] = [
{chr(10).join(lines)}
    ]
}}
"""
open("Sources/Imaging/LabelFontData.swift", "w").write(out)
print(f"ascent {ascent} descent {descent}")
