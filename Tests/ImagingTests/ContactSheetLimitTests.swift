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
        XCTAssertEqual(sheet.height, 64 + 22)
    }
}
