import Foundation
import PostgresNIO
import RenderQueue
import RenderRecord

extension PostgresJobQueue {
    /// SQLiteJobQueue's claim on PostgreSQL, in two round trips. The server cannot see this
    /// machine's processes, so the pids holding leases on `identity.host` are read first and
    /// tested here (`WorkerIdentity.processIsGone`); the gone ones go to the claim as an array.
    /// The claim is then one statement: running jobs whose cancel was requested and whose worker
    /// is gone become cancelled, and the first ready job by priority DESC, job_id is locked with
    /// `FOR UPDATE SKIP LOCKED` (concurrent claims take different jobs without waiting), leased
    /// to `worker` and returned with its checkpoint.
    public func claim(worker: String, leaseSeconds: Double, now: Double, identity: WorkerIdentity) async throws -> ClaimedJob? {
        // A notification from now on means work may have come after this claim looked.
        await session.listenForJobs()
        session.wake.clear()
        do {
            return try await claimed(worker: worker, leaseSeconds: leaseSeconds, now: now, identity: identity)
        } catch let f as PostgresQueueFailure where f.mayHaveCommitted && session.waits.isEnabled {
            // Lost mid-claim while waiting for the server: if the claim took, the job is taken
            // over when its lease runs out (or at once here, once this process is gone).
            return nil
        }
    }

    private func claimed(worker: String, leaseSeconds: Double, now: Double, identity: WorkerIdentity) async throws -> ClaimedJob? {
        let job = try await session.autocommit { s, changing -> ClaimedJob? in
            let pids = try await s.rows("""
                SELECT DISTINCT lease_pid FROM jobs
                WHERE state = 'running' AND lease_host = \(identity.host) AND lease_pid IS NOT NULL
                """).map { try $0.decode(Int32.self) }
            let gone = pids.filter(WorkerIdentity.processIsGone)
            changing = true
            // A job whose stored request does not decode fails alone, naming itself, and the
            // claim goes on to the next one (bounded, so a flood of them cannot spin here).
            for _ in 0..<JobRequests.maxUndecodablePerClaim {
                guard let row = try await s.first(PostgresJobQueue.claimStatement(worker: worker, leaseSeconds: leaseSeconds, now: now,
                                                                            identity: identity, gone: gone)) else { return nil }
                let (id, sweepID, model, config, json, attempts, checkpoint) =
                    try row.decode((Int64, Int64?, String, String?, String, Int, Data?).self)
                switch JobRequests.decode(json, jobID: id) {
                case .success(let request):
                    return ClaimedJob(jobID: id, sweepID: sweepID, model: model, config: config, request: request,
                                      attempt: attempts, checkpoint: checkpoint)
                case .failure(let why):
                    try await s.execute("""
                        UPDATE jobs SET state = 'failed', error = \(why.description), error_kind = 'permanent', lease_owner = NULL,
                               lease_expires = NULL, updated_at = kiln_now() WHERE job_id = \(id)
                        """)
                }
            }
            return nil
        }
        if let job { holding(job.jobID, now + leaseSeconds) }
        return job
    }

    /// The claim's one statement. Its two changes touch different rows (cancel requested or
    /// not) and commit together.
    static func claimStatement(worker: String, leaseSeconds: Double, now: Double, identity: WorkerIdentity,
                               gone: [Int32]) -> PostgresQuery {
        """
        WITH abandoned AS (
            -- A running job whose cancel was requested and whose worker is gone would otherwise
            -- stay running forever: it is cancelled now.
            UPDATE jobs SET state = 'cancelled', lease_owner = NULL, lease_expires = NULL, updated_at = kiln_now()
            WHERE job_id IN (
                SELECT job_id FROM jobs
                WHERE state = 'running' AND cancel_requested = 1
                  AND (lease_expires < \(now) OR (lease_host = \(identity.host) AND lease_pid = ANY(\(gone))))
                FOR UPDATE SKIP LOCKED)
            RETURNING 1),
        next AS (
            -- The state term lets the planner read the partial index jobs_claim_order (0006) in
            -- claim order and stop at the first eligible row, instead of sorting every ready job.
            SELECT j.job_id FROM jobs j LEFT JOIN sweeps s ON s.sweep_id = j.sweep_id
            WHERE j.state IN ('queued', 'running')
              AND ((j.state = 'queued' AND j.not_before <= \(now))
                    OR (j.state = 'running' AND j.lease_expires < \(now))
                    OR (j.state = 'running' AND j.lease_host = \(identity.host) AND j.lease_pid = ANY(\(gone))))
              AND j.cancel_requested = 0
              AND COALESCE(s.paused, 0) = 0
              AND NOT EXISTS (SELECT 1 FROM queue_state WHERE key = 'paused' AND value = '1')
            ORDER BY j.priority DESC, j.job_id ASC
            LIMIT 1
            FOR UPDATE OF j SKIP LOCKED)
        UPDATE jobs SET state = 'running', lease_owner = \(worker), lease_expires = \(now + leaseSeconds),
               lease_host = \(identity.host), lease_pid = \(identity.pid), attempts = attempts + 1, updated_at = kiln_now()
        FROM next WHERE jobs.job_id = next.job_id
        RETURNING jobs.job_id, jobs.sweep_id, jobs.model, jobs.config, jobs.request, jobs.attempts,
                  (SELECT c.state FROM checkpoints c WHERE c.job_id = jobs.job_id) AS checkpoint
        """
    }
}
