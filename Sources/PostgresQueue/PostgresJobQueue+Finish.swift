import Foundation
import KilnBasics
import PostgresNIO
import RenderQueue

extension PostgresJobQueue {
    /// SQLiteJobQueue's finish (outputs stored and the job marked done together, only while
    /// `worker` holds the lease) as one statement, one round trip: the job's row is updated
    /// only if the lease is still `worker`'s, and the outputs are inserted only if it was.
    /// A lost connection is reported, not repeated: the statement may have committed. A worker
    /// waiting for its server (`ServerQueue`) asks instead, once the server is back, whether its
    /// outputs were stored; a lease that ran out while the server was away is lost (false).
    public func finish(jobID: Int64, worker: String, attempt: Int, images: [FinishedImage], renderSeconds: Double) async throws -> Bool {
        let statement = try PostgresJobQueue.finishStatement(jobID: jobID, worker: worker, attempt: attempt, images: images,
                                                         renderSeconds: renderSeconds)
        defer { holding(jobID, nil) }
        do {
            return try await session.autocommit { s, changing in
                changing = true
                return try await s.count(statement) == 1
            }
        } catch let f as PostgresQueueFailure where f.mayHaveCommitted && session.waits.isEnabled {
            return try await session.autocommit { s in
                try await s.count("SELECT count(*) FROM outputs WHERE job_id = \(jobID) AND worker = \(worker) AND attempt = \(attempt)") > 0
            }
        } catch let ended as ServerWaitEnded where ended.reason == .leaseRanOut {
            return false
        }
    }

    static func finishStatement(jobID: Int64, worker: String, attempt: Int, images: [FinishedImage], renderSeconds: Double) throws -> PostgresQuery {
        var binds = PostgresBindings()
        func bind<T: PostgresThrowingDynamicTypeEncodable>(_ value: T?) throws -> String {
            try binds.append(value)
            return "$\(binds.count)"
        }
        let job = try bind(jobID), owner = try bind(worker)
        let rows = try images.enumerated().map { n, image in
            let png: Data? = image.outputPath == nil ? image.png : nil
            return "(\(n), \(try bind(image.index))::integer, \(try bind(SHA256.hex(image.png)))::text, \(try bind(png))::bytea, "
                + "\(try bind(image.outputPath))::text, \(try bind(image.provenance))::text, \(try bind(image.watermarkWritten))::text, "
                + "\(try bind(image.watermarkRead))::text)"
        }
        let store = rows.isEmpty ? "" : """
            , stored AS (
                INSERT INTO outputs (job_id, image_index, png_sha256, png, output_path, provenance, watermark_written,
                                     watermark_read, render_seconds, worker, attempt)
                SELECT owned.job_id, v.image_index, v.sha256, v.png, v.output_path, v.provenance, v.written, v.read,
                       \(try bind(renderSeconds)), \(owner), \(try bind(attempt))
                FROM owned, (VALUES \(rows.joined(separator: ", "))) AS v(n, image_index, sha256, png, output_path, provenance, written, read)
                ORDER BY v.n
                RETURNING 1)
            """
        return PostgresQuery(unsafeSQL: """
            WITH owned AS (
                UPDATE jobs SET state = 'done', step = steps, lease_owner = NULL, lease_expires = NULL, lease_host = NULL,
                    lease_pid = NULL, error = NULL, error_kind = NULL, updated_at = kiln_now()
                WHERE job_id = \(job) AND state = 'running' AND lease_owner = \(owner)
                RETURNING job_id)\(store)
            SELECT count(*) FROM owned
            """, binds: binds)
    }
}
