import Foundation

/// `Tests/postgres.sh`'s server taken away and brought back, for tests of workers that must
/// wait for it: its `KILN_TEST_POSTGRES_CTL` script (fast shutdown, same port).
public enum PostgresServerControl {
    /// Runs `stop`, `start` or `restart`; fails with one line when the script is missing or fails.
    public static func run(_ action: String) throws {
        guard let script = ProcessInfo.processInfo.environment["KILN_TEST_POSTGRES_CTL"], !script.isEmpty else {
            throw TestQueues.Unavailable(description: "KILN_TEST_POSTGRES_CTL is not set: run the tests through Tests/postgres.sh")
        }
        let child = try ChildProcess(script, [action])
        guard try child.status(timeout: 90) == 0 else {
            throw TestQueues.Unavailable(description: "\(script) \(action) failed: \(child.stderr)")
        }
    }

    /// Starts the server if a test left it stopped (errors ignored: this runs in tearDown).
    public static func ensureStarted() {
        _ = try? run("start")
    }
}
