import Foundation
import Imaging
import KilnTestSupport
import XCTest

/// `CannyEdges` against OpenCV's `cv2.Canny` on the images of
/// Tests/Fixtures/expected/canny/cases.json (`generate_fixtures.py --only canny_fixtures`): odd
/// sizes, one-pixel-wide images, plateaus, noise, RGBA, 16-bit gray, palette and EXIF-rotated
/// inputs, swapped, fractional, negative and out-of-range thresholds. Every pixel must match.
final class CannyEdgesTests: XCTestCase {
    struct Case: Decodable { let image: String, low: Double, high: Double, edges: String, edge_pixels: Int }
    struct Cases: Decodable { let opencv: String, cases: [Case] }

    func testEdgesEqualOpenCV() throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: Fixtures.path("expected/canny/cases.json")))
        let cases = try JSONDecoder().decode(Cases.self, from: data).cases
        XCTAssertGreaterThan(cases.count, 50)
        var withEdges = 0
        for c in cases {
            let image = try ImageFile.read(Fixtures.path("images/\(c.image)"))
            let edges = try CannyEdges.detect(image, low: c.low, high: c.high)
            let expected = try ImageFile.read(Fixtures.path("expected/canny/\(c.edges)"))
            XCTAssertEqual([edges.width, edges.height], [expected.width, expected.height], c.edges)
            guard edges.width == expected.width, edges.height == expected.height else { continue }
            let want = stride(from: 0, to: expected.pixels.count, by: 3).map { expected.pixels[$0] }
            let differing = zip(edges.pixels, want).enumerated().filter { $0.element.0 != $0.element.1 }
            XCTAssertTrue(differing.isEmpty, "\(c.edges): \(differing.count) pixels differ, first at "
                          + "\(differing.first.map { "(\($0.offset % edges.width), \($0.offset / edges.width))" } ?? "")")
            XCTAssertEqual(edges.pixels.filter { $0 == 255 }.count, c.edge_pixels, c.edges)
            XCTAssertTrue(edges.pixels.allSatisfy { $0 == 0 || $0 == 255 }, c.edges)
            if c.edge_pixels > 0 { withEdges += 1 }
        }
        XCTAssertGreaterThan(withEdges, cases.count / 2, "most cases must have edges, or the test compares blanks")
    }

    func testNonFiniteThresholdsAreRefused() {
        let image = RGBImage(width: 2, height: 2, pixels: [UInt8](repeating: 9, count: 12))
        XCTAssertThrowsError(try CannyEdges.detect(image, low: .nan, high: 200)) {
            XCTAssertEqual("\($0)", "Canny threshold low must be a finite number, not nan")
        }
        XCTAssertThrowsError(try CannyEdges.detect(image, low: 1, high: .infinity))
    }
}
