import Foundation
@testable import Gallery
import Hummingbird
import HummingbirdTesting
import KilnTestSupport
import ModelFiles
import Pipelines
import QueueBackends
import RenderQueue
import RenderWorker
import XCTest

/// PNGs written to a folder (`outputs.output_path`, `png` NULL) are served only from a folder
/// the gallery was given, as regular files whose bytes match the stored SHA-256: whoever can
/// write the queue cannot make the gallery read other files.
final class GalleryFileTests: QueueTestCase {
    /// A queue of the current backend with two tiny jobs rendered into `folder`.
    func folderQueue(_ folder: String) async throws -> String {
        let location = try queue("files")
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let store = try await Queues.open(location)
        for seed in [1, 2] as [UInt64] {
            var request = RenderRequest(prompt: "a kiln")
            (request.steps, request.width, request.height, request.seed) = (2, 64, 64, seed)
            _ = try await store.enqueue(model: Fixtures.model("tiny-sdxl-base"), request: request)
        }
        var options = Worker.Options(name: "files-test")
        options.outputFolder = folder
        let worker = Worker(store: store, options: options)
        while case .done = try await worker.runOne() {}
        XCTAssertEqual(try TestQueues.execute(location, "SELECT COUNT(*) FROM outputs WHERE png IS NULL AND output_path IS NOT NULL"), ["2"])
        return location
    }

    func testOnlyUnchangedRegularFilesInsideTheGivenFolderAreServed() async throws {
        try await onEachBackend { _ in
            let folder = dir + "/renders", location = try await folderQueue(folder)
            let genuine = folder + "/job-1-0.png", second = folder + "/job-2-0.png"
            let original = try Data(contentsOf: URL(fileURLWithPath: genuine))
            func check(_ options: GalleryOptions, _ expect: [(String, HTTPResponse.Status, String)]) async throws {
                try await gallery(location, options).test(.router) { client in
                    for (uri, status, says) in expect {
                        let r = try await get(client, uri)
                        XCTAssertEqual(r.status, status, uri)
                        if !says.isEmpty { XCTAssertTrue(r.text.contains(says), "\(uri): \(r.text.prefix(600))") }
                        if status != .ok {
                            XCTAssertFalse(r.text.contains("root:"), uri)
                            XCTAssertEqual(r.headers[.contentType], "text/html; charset=utf-8", uri)
                        }
                    }
                }
            }
            var given = GalleryOptions()
            given.outputFolders = [folder]
            // A genuine folder output is served byte for byte, with its thumbnail.
            try await gallery(location, given).test(.router) { client in
                let png = try await get(client, "/outputs/1.png")
                XCTAssertEqual(png.status, .ok)
                XCTAssertEqual(png.bytes, original)
                let thumb = try await get(client, "/outputs/1/thumb").status
                XCTAssertEqual(thumb, .ok)
            }
            // Without --output-folder nothing is read from disk.
            try await check(GalleryOptions(), [("/outputs/1.png", .forbidden, "start kiln serve with --output-folder DIR"),
                                               ("/outputs/1/thumb", .forbidden, "--output-folder")])

            // The queue pointed at a file outside the folder: refused, directly and via '..'.
            try TestQueues.execute(location, "UPDATE outputs SET output_path = '/etc/passwd' WHERE output_id = 1")
            try TestQueues.execute(location, "UPDATE outputs SET output_path = '\(folder)/../../../../etc/passwd' WHERE output_id = 2")
            try await check(given, [("/outputs/1.png", .forbidden, "a folder this gallery was not given"),
                                    ("/outputs/1/thumb", .forbidden, "a folder this gallery was not given"),
                                    ("/outputs/2.png", .forbidden, "climbs out of its folder")])
            // Even with the hash of the file it points at.
            let passwd = try Data(contentsOf: URL(fileURLWithPath: "/etc/passwd"))
            try TestQueues.execute(location, "UPDATE outputs SET png_sha256 = '\(SHA256.hex(passwd))' WHERE output_id = 1")
            try await check(given, [("/outputs/1.png", .forbidden, "a folder this gallery was not given")])

            // A symbolic link inside the folder pointing out of it.
            try FileManager.default.createSymbolicLink(atPath: folder + "/link.png", withDestinationPath: "/etc/passwd")
            try TestQueues.execute(location, "UPDATE outputs SET output_path = '\(folder)/link.png' WHERE output_id = 1")
            try await check(given, [("/outputs/1.png", .forbidden, "symbolic link")])
            // A folder, and a file that is gone.
            try FileManager.default.createDirectory(atPath: folder + "/sub.png", withIntermediateDirectories: true)
            try TestQueues.execute(location, "UPDATE outputs SET output_path = '\(folder)/sub.png' WHERE output_id = 1")
            try await check(given, [("/outputs/1.png", .forbidden, "not a regular file")])
            try TestQueues.execute(location, "UPDATE outputs SET output_path = '\(folder)/none.png' WHERE output_id = 1")
            try await check(given, [("/outputs/1.png", .notFound, "gone")])

            // A file swapped for another (here the other job's PNG): its hash differs.
            try TestQueues.execute(location, "UPDATE outputs SET output_path = '\(genuine)', png_sha256 = '\(SHA256.hex(original))' WHERE output_id = 1")
            try TestQueues.execute(location, "UPDATE outputs SET output_path = '\(second)' WHERE output_id = 2")
            try FileManager.default.removeItem(atPath: genuine)
            try FileManager.default.copyItem(atPath: second, toPath: genuine)
            try await check(given, [("/outputs/1.png", .forbidden, "SHA-256 differs"), ("/outputs/1/thumb", .forbidden, "SHA-256 differs"),
                                    ("/outputs/2.png", .ok, "")])
        }
    }

    func testAFolderReachedThroughALinkIsTheSameFolder() async throws {
        let folder = dir + "/renders", location = try await folderQueue(folder)
        try FileManager.default.createSymbolicLink(atPath: dir + "/alias", withDestinationPath: folder)
        var options = GalleryOptions()
        options.outputFolders = [dir + "/alias"]
        try await gallery(location, options).test(.router) { client in
            let status = try await get(client, "/outputs/2.png").status
            XCTAssertEqual(status, .ok)
        }
        // Another folder beside it does not cover it, even when its name is a prefix.
        try FileManager.default.createDirectory(atPath: dir + "/rend", withIntermediateDirectories: true)
        options.outputFolders = [dir + "/rend"]
        try await gallery(location, options).test(.router) { client in
            let status = try await get(client, "/outputs/2.png").status
            XCTAssertEqual(status, .forbidden)
        }
    }

    func testOutputFoldersAndLimitsAreValidated() throws {
        var options = GalleryOptions()
        options.outputFolders = [dir + "/missing"]
        XCTAssertThrowsError(try options.validate()) { XCTAssertEqual($0 as? GalleryError, .notAFolder(dir + "/missing")) }
        FileManager.default.createFile(atPath: dir + "/file", contents: Data())
        options.outputFolders = [dir + "/file"]
        XCTAssertThrowsError(try options.validate()) { XCTAssertTrue("\($0)".contains("is not a folder"), "\($0)") }
        options.outputFolders = [dir]
        XCTAssertNoThrow(try options.validate())
    }
}
