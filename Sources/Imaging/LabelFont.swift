import Foundation

/// Anti-aliased label text for contact sheets: DejaVu Sans at 14 pixels (`LabelFontData`, made
/// by `Tools/make_label_font.py`), drawn at an integer scale by blending its coverage into the
/// image. Printable ASCII is drawn as is; any other character as `?`.
public enum LabelFont {
    struct Glyph {
        let advance: Int, left: Int, top: Int, width: Int, height: Int
        let coverage: [UInt8]
    }

    /// The glyphs by character code, decoded once.
    static let glyphs: [Int: Glyph] = {
        var out: [Int: Glyph] = [:]
        for line in LabelFontData.glyphs {
            let f = line.split(separator: " ", omittingEmptySubsequences: false)
            guard f.count == 7, let code = Int(f[0]), let advance = Int(f[1]), let left = Int(f[2]), let top = Int(f[3]),
                  let width = Int(f[4]), let height = Int(f[5]), let data = Data(base64Encoded: String(f[6])),
                  data.count == width * height else { continue }
            out[code] = Glyph(advance: advance, left: left, top: top, width: width, height: height, coverage: [UInt8](data))
        }
        return out
    }()

    /// Height of one line of text at `scale` (ascent + descent).
    public static func lineHeight(scale: Int) -> Int { (LabelFontData.ascent + LabelFontData.descent) * scale }

    static func glyph(_ c: Character) -> Glyph? {
        guard let v = c.unicodeScalars.first?.value, c.unicodeScalars.count == 1, v >= 32, v < 127 else { return glyphs[63] }
        return glyphs[Int(v)]
    }

    /// Width in pixels of `text` at `scale`.
    public static func width(_ text: String, scale: Int) -> Int {
        text.reduce(0) { $0 + (glyph($1)?.advance ?? 0) } * scale
    }

    /// `text`, shortened with "..." so that it is at most `maxWidth` pixels wide at `scale`.
    public static func clipped(_ text: String, toWidth maxWidth: Int, scale: Int) -> String {
        if width(text, scale: scale) <= maxWidth { return text }
        var kept = ""
        let dots = width("...", scale: scale)
        var used = 0
        for c in text {
            let w = (glyph(c)?.advance ?? 0) * scale
            if used + w + dots > maxWidth { break }
            kept.append(c)
            used += w
        }
        return kept + "..."
    }

    /// Draws `text` with the top of its line at `y`, starting at `x`, in `color`, clipped to the image.
    public static func draw(_ text: String, into image: inout RGBImage, x: Int, y: Int, scale: Int = 1,
                            color: (UInt8, UInt8, UInt8) = (0, 0, 0)) {
        var pen = x
        let ink = [Int(color.0), Int(color.1), Int(color.2)]
        for c in text {
            guard let g = glyph(c) else { continue }
            for gy in 0..<g.height {
                for gx in 0..<g.width {
                    let alpha = Int(g.coverage[gy * g.width + gx])
                    if alpha == 0 { continue }
                    for dy in 0..<scale {
                        for dx in 0..<scale {
                            let px = pen + (g.left + gx) * scale + dx, py = y + (g.top + gy) * scale + dy
                            guard px >= 0, py >= 0, px < image.width, py < image.height else { continue }
                            let i = (py * image.width + px) * 3
                            for k in 0..<3 {
                                let old = Int(image.pixels[i + k])
                                image.pixels[i + k] = UInt8((old * (255 - alpha) + ink[k] * alpha + 127) / 255)
                            }
                        }
                    }
                }
            }
            pen += g.advance * scale
        }
    }
}
