import Foundation
import Imaging
import KilnTestSupport
import XCTest

/// `kiln control canny` writes OpenCV's edges (Tests/Fixtures/expected/canny) as a 3-channel PNG.
final class ControlCannyCommandTests: XCTestCase {
    func testWritesOpenCVsEdgesInThreeChannels() throws {
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for (args, expected) in [([String](), "input-photo-88x72-100-200.png"),
                                 (["--low", "10.7", "--high", "30.2"], "input-photo-88x72-10.7-30.2.png")] {
            let out = dir + "/edges.png"
            let r = try KilnProcess.run(["control", "canny", Fixtures.path("images/input-photo-88x72.jpg"), "--output", out] + args)
            XCTAssertEqual(r.status, 0, r.stderr)
            let (written, _) = try PNGFile.read(out)
            let want = try ImageFile.read(Fixtures.path("expected/canny/\(expected)"))
            XCTAssertEqual(written.pixels, want.pixels, expected)  // gray expected reads as R = G = B
            XCTAssertTrue(want.pixels.contains(255), "the reference has edges")
            XCTAssertTrue(r.stdout.contains("88x72"), r.stdout)
        }
    }

    func testBadInputEndsInOneLine() throws {
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let text = dir + "/notes.png"
        try Data("not an image".utf8).write(to: URL(fileURLWithPath: text))
        try assertOneLineFailure(["control", "canny", text, "--output", dir + "/a.png"], mentions: [text])
        let photo = Fixtures.path("images/input-photo-88x72.jpg")
        try assertOneLineFailure(["control", "canny", photo, "--low", "nan", "--output", dir + "/b.png"],
                                 mentions: ["low", "finite"])
        let nowhere = dir + "/missing/folder/edges.png"
        try assertOneLineFailure(["control", "canny", photo, "--output", nowhere], mentions: [nowhere])
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/a.png"))
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/b.png"))
    }
}
