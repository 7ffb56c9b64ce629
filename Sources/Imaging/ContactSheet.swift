/// A labelled grid of images as one picture (`kiln sheet`): a `LabelledGrid` drawn with one
/// column per X value and one row per Y value, headed as a table in `LabelFont` (the X
/// parameter's name and its values above the columns, the Y parameter's name and values left), the first image of each cell resized with LANCZOS (up or down) to fill it. Cells
/// are `cellSize` pixels wide and as tall as the images' aspect ratio makes them, with a gutter
/// between them.
public struct ContactSheet {
    public struct Cell {
        public var x: String
        public var y: String
        public var image: RGBImage
        public init(x: String, y: String, image: RGBImage) { self.x = x; self.y = y; self.image = image }
    }

    /// Largest sheet drawn: the limits images are read with (16384 pixels a side, 64 megapixels).
    public static let limits = ImageLimits.default
    /// Pixels between cells, and around labels.
    public static let gutter = 4, padding = 6

    /// Label scale for a cell size: larger text on large cells.
    public static func scale(cellSize: Int) -> Int { cellSize >= 512 ? 2 : 1 }

    /// Height of the headings above the cells: the X parameter's name, then its values.
    public static func headerHeight(cellSize: Int) -> Int { 2 * LabelFont.lineHeight(scale: scale(cellSize: cellSize)) + 2 * padding }

    /// Refuses a sheet of `columns` x `rows` square cells of `cellSize` pixels (plus headings:
    /// the label column is at most one cell wide) that would exceed `limits`, before anything is
    /// allocated or decoded.
    public static func checkSize(columns: Int, rows: Int, cellSize: Int) throws {
        try checkSize(columns: columns, rows: rows, cellWidth: cellSize, cellHeight: cellSize, cellSize: cellSize)
    }

    static func checkSize(columns: Int, rows: Int, cellWidth: Int, cellHeight: Int, cellSize: Int) throws {
        let (across, o1) = columns.multipliedReportingOverflow(by: cellWidth + gutter)
        let (down, o2) = rows.multipliedReportingOverflow(by: cellHeight + gutter)
        let (w, o3) = across.addingReportingOverflow(cellSize)
        let (h, o4) = down.addingReportingOverflow(headerHeight(cellSize: cellSize))
        guard !o1, !o2, !o3, !o4, limits.allow(width: w, height: h) else {
            throw ImagingError.sheetTooLarge(columns: columns, rows: rows, cellSize: cellSize, limits: limits)
        }
    }

    /// Lays out `cells` with `xs` and `ys` in the given order (the first image per cell wins).
    public static func render(cells: [Cell], xs: [String], ys: [String], xLabel: String, yLabel: String, cellSize: Int = 256) throws -> RGBImage {
        try render(LabelledGrid(cells.map { ($0.x, $0.y, $0.image) }, xs: xs, ys: ys), xLabel: xLabel, yLabel: yLabel, cellSize: cellSize)
    }

    /// Draws `grid` (the first image per cell), headed by `xLabel` and its values across and
    /// `yLabel` and its values down.
    public static func render(_ grid: LabelledGrid<RGBImage>, xLabel: String, yLabel: String, cellSize: Int = 256) throws -> RGBImage {
        try checkSize(columns: grid.xs.count, rows: grid.ys.count, cellSize: cellSize)
        let first = grid.cells.lazy.flatMap { $0 }.compactMap(\.first).first
        let cellWidth = cellSize
        let cellHeight = first.map { max(1, ($0.height * cellSize + $0.width / 2) / max($0.width, 1)) } ?? cellSize
        try checkSize(columns: grid.xs.count, rows: grid.ys.count, cellWidth: cellWidth, cellHeight: cellHeight, cellSize: cellSize)
        let scale = self.scale(cellSize: cellSize), lineHeight = LabelFont.lineHeight(scale: scale)
        // As a table's headings: the X parameter's name over the columns, its values over each
        // column; the Y parameter's name in the corner, its values left of each row.
        let xValues = grid.xs.map { LabelFont.clipped($0, toWidth: cellWidth - 2 * padding, scale: scale) }
        let yValues = grid.ys.map { LabelFont.clipped($0, toWidth: cellSize - 2 * padding, scale: scale) }
        let yName = LabelFont.clipped(yLabel, toWidth: cellSize - 2 * padding, scale: scale)
        let labelWidth = ((yValues + [yName]).map { LabelFont.width($0, scale: scale) }.max() ?? 0) + 2 * padding
        let header = headerHeight(cellSize: cellSize)
        let width = labelWidth + grid.xs.count * (cellWidth + gutter), height = header + grid.ys.count * (cellHeight + gutter)
        var sheet = RGBImage(width: width, height: height, pixels: [UInt8](repeating: 255, count: width * height * 3))
        let xName = LabelFont.clipped(xLabel, toWidth: max(width - labelWidth - padding, 0), scale: scale)
        LabelFont.draw(xName, into: &sheet, x: labelWidth, y: padding, scale: scale, color: (90, 90, 96))
        LabelFont.draw(yName, into: &sheet, x: padding, y: padding + lineHeight, scale: scale, color: (90, 90, 96))
        for (i, label) in xValues.enumerated() {
            let left = labelWidth + i * (cellWidth + gutter)
            LabelFont.draw(label, into: &sheet, x: left + (cellWidth - LabelFont.width(label, scale: scale)) / 2, y: padding + lineHeight, scale: scale)
        }
        for (j, label) in yValues.enumerated() {
            let top = header + j * (cellHeight + gutter)
            LabelFont.draw(label, into: &sheet, x: labelWidth - padding - LabelFont.width(label, scale: scale),
                           y: top + (cellHeight - lineHeight) / 2, scale: scale)
        }
        for j in grid.ys.indices {
            for i in grid.xs.indices {
                guard let image = grid.items(x: i, y: j).first else { continue }
                let fitted = fill(image, width: cellWidth, height: cellHeight)
                let ox = labelWidth + i * (cellWidth + gutter) + (cellWidth - fitted.width) / 2
                let oy = header + j * (cellHeight + gutter) + (cellHeight - fitted.height) / 2
                for r in 0..<fitted.height {
                    let src = r * fitted.width * 3, dst = ((oy + r) * width + ox) * 3
                    sheet.pixels.replaceSubrange(dst..<(dst + fitted.width * 3), with: fitted.pixels[src..<(src + fitted.width * 3)])
                }
            }
        }
        return sheet
    }

    /// `image` resized with LANCZOS, keeping its aspect ratio, to the largest size that fits
    /// `width` x `height`: the whole cell when the aspect ratios agree.
    public static func fill(_ image: RGBImage, width: Int, height: Int) -> RGBImage {
        guard image.width > 0, image.height > 0 else { return image }
        let byWidth = (image.height * width + image.width / 2) / image.width
        let size = byWidth <= height ? (width, max(1, byWidth)) : (max(1, (image.width * height + image.height / 2) / image.height), height)
        if size == (image.width, image.height) { return image }
        return image.resized(width: size.0, height: size.1, filter: .lanczos)
    }
}
