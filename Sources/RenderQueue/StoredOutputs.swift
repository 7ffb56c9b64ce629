import Foundation
import GRDB
import ModelFiles

/// A finished image as the queue keeps it: its PNG bytes when they are in the database, or the
/// path it was written to with `--output-folder`.
public struct StoredOutput: Sendable {
    public let jobID: Int64
    public let imageIndex: Int
    public let sha256: String
    public let png: Data?
    public let outputPath: String?

    /// The file name `kiln export` gives it.
    public var exportName: String { "job-\(jobID)-\(imageIndex).png" }
}

/// Reading finished images back out of the queue, on a read-only connection.
public enum StoredOutputs {
    /// The outputs of `jobs` (all when empty) or of `sweep`, in job and image order. Streams rows
    /// to `body` one at a time, so a night's worth of PNGs is never held in memory at once.
    public static func forEach(databasePath: String, jobs: [Int64], sweep: Int64?, _ body: (StoredOutput) throws -> Void) throws {
        // Missing files and other programs' databases are refused; read-only files are read.
        let queue = try QueueDatabase.openReadOnly(path: databasePath)
        try queue.read { db in
            // The job selection of cancel and retry (job_id is the join column, sweep_id is jobs').
            let filter = try JobStore.filter(jobs: jobs, sweep: sweep)
            let rows = try Row.fetchCursor(db, sql: """
                SELECT job_id, o.image_index, o.png_sha256, o.png, o.output_path FROM outputs o JOIN jobs j USING (job_id)
                WHERE \(filter.sql) ORDER BY job_id, o.image_index
                """, arguments: filter.arguments)
            while let row = try rows.next() {
                try body(StoredOutput(jobID: row["job_id"], imageIndex: row["image_index"], sha256: row["png_sha256"],
                                      png: row["png"], outputPath: row["output_path"]))
            }
        }
    }
}
