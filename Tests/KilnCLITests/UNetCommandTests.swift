import Foundation
import Imaging
import KilnTestSupport
import XCTest

/// `--unet` through real `kiln` processes: its hash in `v_outputs`, and bad UNets refused in one
/// line before anything is queued.
final class UNetCommandTests: XCTestCase {
    var dir = ""
    override func setUpWithError() throws { dir = try Fixtures.temporaryDirectory() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: dir) }
    let base = Fixtures.model("tiny-sdxl-base")

    func testQueuedJobRecordsTheUNetAndItsHash() throws {
        let db = dir + "/q.db"
        let swap = Fixtures.model("unets/swap-unet")
        let enqueue = try KilnProcess.run(["enqueue", "--db", db, "--model", base, "--prompt", "a lighthouse", "--steps", "2", "--width", "64",
                                           "--height", "48", "--guidance", "0", "--unet", swap])
        XCTAssertEqual(enqueue.status, 0, enqueue.stderr)
        let work = try KilnProcess.run(["work", "--db", db, "--until-empty"])
        XCTAssertEqual(work.status, 0, work.stderr)
        let rows = try KilnProcess.query(db, "SELECT unet, length(unet_sha256) FROM v_outputs")
        XCTAssertEqual(rows, ["\(swap),64"])
    }

    func testBadUNetsFailInOneLineAndQueueNothing() throws {
        let bin = dir + "/dmd2_sdxl_4step_unet_fp16.bin"
        try Data([0x80, 0x02, 0x7d, 0x71]).write(to: URL(fileURLWithPath: bin))
        let db = dir + "/q.db"
        try assertOneLineFailure(["enqueue", "--db", db, "--model", base, "--prompt", "x", "--unet", bin],
                                 mentions: ["--unet", "pickled", "python3 -c", "dmd2_sdxl_4step_unet_fp16.safetensors"])
        XCTAssertFalse(FileManager.default.fileExists(atPath: db), "refused when queued, nothing written")
        let empty = dir + "/empty.safetensors"
        try Data([8, 0, 0, 0, 0, 0, 0, 0] + Array("{}      ".utf8)).write(to: URL(fileURLWithPath: empty))
        try assertOneLineFailure(["render", "--model", base, "--prompt", "x", "--steps", "1", "--unet", empty, "--output", dir + "/o.png"],
                                 mentions: ["empty.safetensors", "holds no UNet tensors"])
        try assertOneLineFailure(["render", "--model", base, "--prompt", "x", "--steps", "1", "--unet", dir + "/missing", "--output", dir + "/o.png"],
                                 mentions: ["missing"])
    }
}
