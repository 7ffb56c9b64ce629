import Foundation
import KilnTestSupport
import XCTest

/// `kiln work --preview-vae` takes an AutoencoderTiny folder with `--preview-every`; anything else
/// is one line and a non-zero exit before a job is claimed, and a good one renders the job.
final class PreviewVAEOptionTests: XCTestCase {
    func testBadPreviewVAEIsRefusedBeforeClaimingAndAGoodOneRenders() throws {
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let db = dir + "/q.db"
        let e = try KilnProcess.run(["enqueue", "--db", db, "--model", Fixtures.model("tiny-sdxl-base"), "--prompt", "a fox",
                                     "--width", "64", "--height", "64", "--steps", "2"])
        XCTAssertEqual(e.status, 0, e.stderr)
        let pickle = dir + "/taesdxl_decoder.pth"
        try Data([0x80, 0x02, 0x7d, 0x71, 0x00, 0x2e]).write(to: URL(fileURLWithPath: pickle))
        let taesd = Fixtures.model("vae-tiny-taesd")
        for (arguments, words) in [(["--preview-every", "1", "--preview-vae", dir + "/missing"], "does not exist"),
                                   (["--preview-every", "1", "--preview-vae", Fixtures.model("vae-kl-tiny")], "is an AutoencoderKL"),
                                   (["--preview-every", "1", "--preview-vae", pickle], "pickled"),
                                   (["--preview-vae", taesd], "needs --preview-every")] {
            let r = try KilnProcess.run(["work", "--db", db, "--until-empty"] + arguments)
            XCTAssertNotEqual(r.status, 0, "\(arguments)")
            XCTAssertEqual(r.stderrLines.count, 1, r.stderr)
            XCTAssertTrue(r.stderr.contains("preview-vae"), r.stderr)
            XCTAssertTrue(r.stderr.contains(words), r.stderr)
        }
        XCTAssertEqual(try KilnProcess.query(db, "SELECT state, attempts FROM v_jobs"), ["queued,0"], "no job was claimed")

        let ok = try KilnProcess.run(["work", "--db", db, "--until-empty", "--preview-every", "1", "--preview-vae", taesd])
        XCTAssertEqual(ok.status, 0, ok.stderr)
        XCTAssertEqual(try KilnProcess.query(db, "SELECT state FROM v_jobs"), ["done"])
        XCTAssertEqual(try KilnProcess.query(db, "SELECT preview_step, length(preview) > 1000 FROM checkpoints"), ["1,1"],
                       "step 1's 64 px tiny VAE preview (the linear one is 8 px)")
    }
}
