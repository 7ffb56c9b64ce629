import Imaging
import XCTest

/// A contact sheet too large to hold is refused before its pixels are allocated.
final class ContactSheetLimitTests: XCTestCase {
    func testThousandColumnsOfLargeCellsAreRefused() {
        let xs = (0..<1000).map(String.init)
        let cell = RGBImage(width: 8, height: 8, pixels: [UInt8](repeating: 0, count: 8 * 8 * 3))
        XCTAssertThrowsError(try ContactSheet.render(cells: [.init(x: "0", y: "a", image: cell)], xs: xs, ys: ["a"],
                                                     xLabel: "seed", yLabel: "steps", cellSize: 2048)) { error in
            XCTAssertTrue("\(error)".contains("--cell-size"), "\(error)")
        }
        XCTAssertThrowsError(try ContactSheet.checkSize(columns: Int.max / 2, rows: 1, cellSize: 2048))
    }

    func testSmallSheetsAreDrawn() throws {
        let cell = RGBImage(width: 8, height: 8, pixels: [UInt8](repeating: 0, count: 8 * 8 * 3))
        let sheet = try ContactSheet.render(cells: [.init(x: "1", y: "a", image: cell)], xs: ["1", "2"], ys: ["a"],
                                            xLabel: "seed", yLabel: "steps", cellSize: 64)
        XCTAssertEqual(sheet.height, ContactSheet.headerHeight(cellSize: 64) + 64 + ContactSheet.gutter)
    }
}

/// Sheets as `kiln sheet` draws them: images fill their cells (resized with LANCZOS, up or
/// down), labels are drawn in a legible size, tall images make tall cells.
final class ContactSheetLayoutTests: XCTestCase {
    func image(_ w: Int, _ h: Int, _ rgb: (UInt8, UInt8, UInt8)) -> RGBImage {
        RGBImage(width: w, height: h, pixels: (0..<(w * h)).flatMap { _ in [rgb.0, rgb.1, rgb.2] })
    }

    func pixel(_ s: RGBImage, _ x: Int, _ y: Int) -> [UInt8] { Array(s.pixels[((y * s.width + x) * 3)..<((y * s.width + x) * 3 + 3)]) }

    func testSmallImagesAreScaledUpToFillTheirCells() throws {
        let grid = LabelledGrid([("1", "a", image(8, 8, (200, 10, 10)))])
        let sheet = try ContactSheet.render(grid, xLabel: "seed", yLabel: "steps", cellSize: 64)
        let header = ContactSheet.headerHeight(cellSize: 64), left = sheet.width - 64 - ContactSheet.gutter
        for (x, y) in [(left, header), (left + 63, header), (left, header + 63), (left + 63, header + 63), (left + 32, header + 32)] {
            XCTAssertEqual(pixel(sheet, x, y), [200, 10, 10], "cell pixel \(x),\(y)")
        }
        XCTAssertEqual(pixel(sheet, left + 64, header + 32), [255, 255, 255], "gutter")
    }

    func testCellsTakeTheImagesAspectRatio() throws {
        let grid = LabelledGrid([("1", "a", image(64, 128, (0, 90, 0))), ("2", "a", image(64, 128, (0, 0, 90)))])
        let sheet = try ContactSheet.render(grid, xLabel: "seed", yLabel: "steps", cellSize: 100)
        XCTAssertEqual(sheet.height, ContactSheet.headerHeight(cellSize: 100) + 200 + ContactSheet.gutter)
    }

    func testLabelsAreDrawnLegibly() throws {
        let grid = LabelledGrid([("dpmpp-2m", "1", image(16, 16, (255, 255, 255)))])
        let sheet = try ContactSheet.render(grid, xLabel: "scheduler", yLabel: "seed", cellSize: 256)
        // Dark ink in the header and in the label column, with anti-aliased (grey) edges.
        let header = ContactSheet.headerHeight(cellSize: 256)
        var inkHeader = 0, inkColumn = 0, grey = 0
        for y in 0..<sheet.height {
            for x in 0..<sheet.width {
                let p = pixel(sheet, x, y)
                if p[0] < 100 { if y < header { inkHeader += 1 } else { inkColumn += 1 } }
                if p[0] > 60 && p[0] < 200 { grey += 1 }
            }
        }
        XCTAssertGreaterThan(inkHeader, 100)
        XCTAssertGreaterThan(inkColumn, 10, "the row label")
        XCTAssertGreaterThan(grey, 20)
        XCTAssertGreaterThanOrEqual(LabelFont.lineHeight(scale: 1), 16, "text at least 16 pixels a line")
        XCTAssertEqual(LabelFont.width("seed=1", scale: 2), 2 * LabelFont.width("seed=1", scale: 1))
        XCTAssertEqual(LabelFont.clipped("a very long label for a small cell", toWidth: 60, scale: 1).suffix(3), "...")
    }

    func testGridOrdersNumbersAsNumbersAndKeepsEveryItem() {
        let grid = LabelledGrid([("10", "b", 1), ("9", "a", 2), ("10", "a", 3), ("9", "a", 4)])
        XCTAssertEqual(grid.xs, ["9", "10"])
        XCTAssertEqual(grid.ys, ["a", "b"])
        XCTAssertEqual(grid.items(x: 0, y: 0), [2, 4])
        XCTAssertEqual(grid.items(x: 1, y: 1), [1])
        XCTAssertEqual(LabelledGrid<Int>.order(["euler", "dpmpp-2m", "euler"]), ["dpmpp-2m", "euler"])
    }
}
