import Foundation
import KilnTestSupport
import ModelFiles
import XCTest

/// `kiln export`: stored PNGs out as files, byte for byte, skipping identical ones and keeping
/// the user's different ones.
final class ExportCommandTests: QueueTestCase {

    func testExportWritesByteIdenticalCopiesAndSkipsWhatIsThere() throws {
        try onEachBackend { _ in
            let db = try queue("q"), out = dir + "/out"
            try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
            for seed in ["1", "2"] {
                let r = try KilnProcess.run(["enqueue", "--db", db, "--model", Fixtures.model("tiny-sdxl-base"), "--prompt", "a kiln",
                                             "--steps", "1", "--width", "64", "--height", "64", "--seed", seed, "--images", "2"])
                XCTAssertEqual(r.status, 0, r.stderr)
            }
            XCTAssertEqual(try KilnProcess.run(["work", "--db", db, "--until-empty"]).status, 0)
            var r = try KilnProcess.run(["export", "--db", db, "--output-folder", out])
            XCTAssertEqual(r.status, 0, r.stderr)
            XCTAssertTrue(r.stdout.contains("4 written, 0 already there"), r.stdout)
            let stored = try KilnProcess.query(db, "SELECT 'job-' || job_id || '-' || image_index || '.png', output_sha256 FROM v_outputs ORDER BY 1")
            XCTAssertEqual(stored.count, 4)
            for row in stored {
                let parts = row.split(separator: ",").map(String.init)
                let data = try Data(contentsOf: URL(fileURLWithPath: out + "/" + parts[0]))
                XCTAssertEqual(SHA256.hex(data), parts[1], "\(parts[0]) is the stored PNG, byte for byte")
            }
            // A second export writes nothing; a different file of the same name is the user's and
            // is kept (one notice, counted as skipped) unless --force; a folder with an output's
            // name is passed over and the export goes on; one sweep or job only.
            let mine = Data("the user's own file".utf8)
            try mine.write(to: URL(fileURLWithPath: out + "/job-1-0.png"))
            try FileManager.default.removeItem(atPath: out + "/job-1-1.png")
            try FileManager.default.createDirectory(atPath: out + "/job-1-1.png", withIntermediateDirectories: false)
            try FileManager.default.removeItem(atPath: out + "/job-2-1.png")
            r = try KilnProcess.run(["export", "--db", db, "--output-folder", out])
            XCTAssertEqual(r.status, 0, r.stderr)
            XCTAssertEqual(r.stdout, "1 written, 1 already there, 1 skipped (a different file has the name; --force overwrites), 1 skipped (not a file)\n")
            XCTAssertEqual(r.stderrLines.count, 2, r.stderr)
            XCTAssertTrue(r.stderr.contains(out + "/job-1-0.png exists with other bytes; kept"), r.stderr)
            XCTAssertTrue(r.stderr.contains(out + "/job-1-1.png is a folder"), r.stderr)
            XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: out + "/job-1-0.png")), mine, "the user's file was overwritten")
            XCTAssertTrue(FileManager.default.fileExists(atPath: out + "/job-2-1.png"), "the export stopped at the folder")
            r = try KilnProcess.run(["export", "--db", db, "--output-folder", out, "--force", "--job", "1"])
            XCTAssertEqual(r.status, 0, r.stderr)
            XCTAssertEqual(r.stdout, "1 written, 0 already there, 1 skipped (not a file)\n")
            XCTAssertEqual(SHA256.hex(try Data(contentsOf: URL(fileURLWithPath: out + "/job-1-0.png"))), stored[0].split(separator: ",").last.map(String.init))
            r = try KilnProcess.run(["export", "--db", db, "--job", "2", "--output-folder", out])
            XCTAssertTrue(r.stdout.contains("0 written, 2 already there"), r.stdout)
            // Ids that name nothing are refused, not exported as nothing.
            try assertOneLineFailure(["export", "--db", db, "--sweep", "99", "--output-folder", out], mentions: ["--sweep 99", "no such sweep"])
            try assertOneLineFailure(["export", "--db", db, "--job", "1", "--job", "999", "--output-folder", out], mentions: ["--job 999", "no such job"])
            r = try KilnProcess.run(["export", "--db", db + ".missing", "--output-folder", out])
            XCTAssertNotEqual(r.status, 0)
            XCTAssertEqual(r.stderrLines.count, 1, r.stderr)
            XCTAssertFalse(FileManager.default.fileExists(atPath: db + ".missing"), "a read-only command creates nothing")
        }
    }
}
