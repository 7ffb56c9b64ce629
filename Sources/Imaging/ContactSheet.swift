/// A labelled grid of images: one column per X value, one row per Y value, labels drawn with
/// `BitmapFont`, each image scaled (area average) to fit its cell.
public struct ContactSheet {
    public struct Cell {
        public var x: String
        public var y: String
        public var image: RGBImage
        public init(x: String, y: String, image: RGBImage) { self.x = x; self.y = y; self.image = image }
    }

    /// Largest sheet drawn: the limits images are read with (16384 pixels a side, 64 megapixels).
    public static let limits = ImageLimits.default

    /// Refuses a sheet of `columns` x `rows` cells of `cellSize` pixels (plus labels) that would
    /// exceed `limits`, before anything is allocated or decoded.
    public static func checkSize(columns: Int, rows: Int, cellSize: Int) throws {
        // The label column and the header are at most one cell wide / tall.
        let (w, o1) = (columns + 1).multipliedReportingOverflow(by: cellSize)
        let (h, o2) = (rows + 1).multipliedReportingOverflow(by: cellSize)
        guard !o1, !o2, limits.allow(width: w, height: h) else {
            throw ImagingError.sheetTooLarge(columns: columns, rows: rows, cellSize: cellSize, limits: limits)
        }
    }

    /// Lays out `cells` (the first image per (x, y) wins) with `xs` and `ys` in the given order.
    public static func render(cells: [Cell], xs: [String], ys: [String], xLabel: String, yLabel: String, cellSize: Int = 256) throws -> RGBImage {
        try checkSize(columns: xs.count, rows: ys.count, cellSize: cellSize)
        let scale = 2, pad = 6
        let textHeight = BitmapFont.glyphHeight * scale
        let maxChars = max(4, (cellSize - 2 * pad) / ((BitmapFont.glyphWidth + BitmapFont.spacing) * scale))
        func clip(_ s: String) -> String { s.count > maxChars ? String(s.prefix(maxChars - 1)) + "." : s }
        let yLabels = ys.map { clip("\(yLabel)=\($0)") }
        let labelWidth = min(cellSize, (yLabels.map { BitmapFont.width($0, scale: scale) }.max() ?? 0) + 2 * pad)
        let headerHeight = textHeight + 2 * pad
        let width = labelWidth + xs.count * cellSize, height = headerHeight + ys.count * cellSize
        var sheet = RGBImage(width: width, height: height, pixels: [UInt8](repeating: 255, count: width * height * 3))
        for (i, x) in xs.enumerated() {
            BitmapFont.draw(clip("\(xLabel)=\(x)"), into: &sheet, x: labelWidth + i * cellSize + pad, y: pad, scale: scale, color: (0, 0, 0))
        }
        for (j, label) in yLabels.enumerated() {
            BitmapFont.draw(label, into: &sheet, x: pad, y: headerHeight + j * cellSize + (cellSize - textHeight) / 2, scale: scale, color: (0, 0, 0))
        }
        var placed = Set<String>()
        for cell in cells {
            guard let i = xs.firstIndex(of: cell.x), let j = ys.firstIndex(of: cell.y), placed.insert("\(i),\(j)").inserted else { continue }
            let thumb = fit(cell.image, within: cellSize - 4)
            let ox = labelWidth + i * cellSize + (cellSize - thumb.width) / 2, oy = headerHeight + j * cellSize + (cellSize - thumb.height) / 2
            for r in 0..<thumb.height {
                let src = r * thumb.width * 3, dst = ((oy + r) * width + ox) * 3
                sheet.pixels.replaceSubrange(dst..<(dst + thumb.width * 3), with: thumb.pixels[src..<(src + thumb.width * 3)])
            }
        }
        return sheet
    }

    /// Scales down (never up) so the longer side is at most `side`, averaging source areas.
    public static func fit(_ image: RGBImage, within side: Int) -> RGBImage {
        let factor = max(Double(image.width) / Double(side), Double(image.height) / Double(side), 1)
        if factor == 1 { return image }
        let w = max(1, Int(Double(image.width) / factor)), h = max(1, Int(Double(image.height) / factor))
        var out = [UInt8](repeating: 0, count: w * h * 3)
        for y in 0..<h {
            let y0 = y * image.height / h, y1 = max(y0 + 1, (y + 1) * image.height / h)
            for x in 0..<w {
                let x0 = x * image.width / w, x1 = max(x0 + 1, (x + 1) * image.width / w)
                var sum = (0, 0, 0)
                for sy in y0..<y1 { for sx in x0..<x1 {
                    let i = (sy * image.width + sx) * 3
                    sum.0 += Int(image.pixels[i]); sum.1 += Int(image.pixels[i + 1]); sum.2 += Int(image.pixels[i + 2])
                } }
                let n = (y1 - y0) * (x1 - x0), o = (y * w + x) * 3
                out[o] = UInt8(sum.0 / n); out[o + 1] = UInt8(sum.1 / n); out[o + 2] = UInt8(sum.2 / n)
            }
        }
        return RGBImage(width: w, height: h, pixels: out)
    }
}
