import Foundation
import KilnTestSupport
import XCTest

/// Model files that are FIFOs used to hang `open()` forever; they are refused in one line.
final class SpecialFileTests: XCTestCase {
    var dir = ""
    override func setUpWithError() throws { dir = try Fixtures.temporaryDirectory() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: dir) }

    func testFIFOWeightsAndConfigsAreRefusedNotWaitedOn() throws {
        for file in ["vae/diffusion_pytorch_model.safetensors", "vae/config.json", "tokenizer/vocab.json"] {
            let model = dir + "/model-\(file.hashValue)"
            try FileManager.default.copyItem(atPath: Fixtures.model("tiny-sdxl-base"), toPath: model)
            let path = model + "/" + file
            try FileManager.default.removeItem(atPath: path)
            XCTAssertEqual(mkfifo(path, 0o644), 0)
            let start = Date()
            let r = try KilnProcess.run(["inspect", "--model", model])
            XCTAssertLessThan(Date().timeIntervalSince(start), 20, "\(file): no hang")
            XCTAssertNotEqual(r.status, 0, file)
            XCTAssertEqual(r.stderrLines.count, 1, "\(file): \(r.stderr)")
            XCTAssertTrue(r.stderr.contains((file as NSString).lastPathComponent), "\(file): \(r.stderr)")
        }
    }
}
