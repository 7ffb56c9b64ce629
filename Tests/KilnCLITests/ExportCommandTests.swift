import Foundation
import KilnTestSupport
import ModelFiles
import XCTest

/// `kiln export`: stored PNGs out as files, byte for byte, skipping identical ones.
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
            // A second export writes nothing; a changed file is written again; one sweep or job only.
            try Data("changed".utf8).write(to: URL(fileURLWithPath: out + "/job-1-0.png"))
            r = try KilnProcess.run(["export", "--db", db, "--output-folder", out])
            XCTAssertTrue(r.stdout.contains("1 written, 3 already there"), r.stdout)
            r = try KilnProcess.run(["export", "--db", db, "--job", "2", "--output-folder", out])
            XCTAssertTrue(r.stdout.contains("0 written, 2 already there"), r.stdout)
            r = try KilnProcess.run(["export", "--db", db + ".missing", "--output-folder", out])
            XCTAssertNotEqual(r.status, 0)
            XCTAssertEqual(r.stderrLines.count, 1, r.stderr)
            XCTAssertFalse(FileManager.default.fileExists(atPath: db + ".missing"), "a read-only command creates nothing")
        }
    }
}
