import Foundation
import GRDB
import KilnTestSupport
import RenderQueue
import SQLiteQueue
import XCTest

/// Queue files that are not Kiln's, or that are missing, are refused without being changed.
final class QueueFileTests: XCTestCase {
    var dir = ""
    override func setUpWithError() throws { dir = try Fixtures.temporaryDirectory() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: dir) }

    func testAnotherProgramsDatabaseIsRefusedAndLeftAlone() throws {
        let path = dir + "/other.db"
        try DatabaseQueue(path: path).write { try $0.execute(sql: "CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT); INSERT INTO notes (text) VALUES ('hi')") }
        let before = try Data(contentsOf: URL(fileURLWithPath: path))
        XCTAssertThrowsError(try QueueDatabase(path: path)) { error in
            XCTAssertEqual(error as? QueueError, .notAQueue(path: path))
            XCTAssertTrue("\(error)".contains(path))
        }
        XCTAssertThrowsError(try QueueDatabase.openReadOnly(path: path)) { XCTAssertEqual($0 as? QueueError, .notAQueue(path: path)) }
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: path)), before, "not migrated, not switched to WAL")
        XCTAssertFalse(FileManager.default.fileExists(atPath: path + "-wal"))
        let journal = try DatabaseQueue(path: path).read { try String.fetchOne($0, sql: "PRAGMA journal_mode") }
        XCTAssertEqual(journal, "delete")
    }

    func testAFileThatIsNotSQLiteIsRefused() throws {
        let path = dir + "/notes.db"
        try Data(repeating: 0x41, count: 4096).write(to: URL(fileURLWithPath: path))
        XCTAssertThrowsError(try QueueDatabase(path: path)) { XCTAssertTrue("\($0)".contains("not an SQLite database"), "\($0)") }
    }

    func testNewAndEmptyFilesBecomeQueues() throws {
        XCTAssertEqual(try QueueDatabase(path: dir + "/new.db").version, QueueDatabase.knownVersion)
        FileManager.default.createFile(atPath: dir + "/empty.db", contents: Data())
        XCTAssertEqual(try QueueDatabase(path: dir + "/empty.db").version, QueueDatabase.knownVersion)
        XCTAssertEqual(try QueueDatabase(path: dir + "/new.db").version, QueueDatabase.knownVersion, "a queue reopens")
        XCTAssertNoThrow(try QueueDatabase.openReadOnly(path: dir + "/new.db"))
    }

    func testReadOnlyOpenNeverCreatesAFile() {
        XCTAssertThrowsError(try QueueDatabase.openReadOnly(path: dir + "/typo.db")) { XCTAssertTrue("\($0)".contains("no such file"), "\($0)") }
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/typo.db"))
    }
}
