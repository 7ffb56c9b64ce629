import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A program the tests start: posix_spawn and waitpid, with standard output and error going to
/// files, standard input from /dev/null, and every other descriptor closed in the child.
///
/// Foundation's `Process` on Linux notices a child's exit through a socket the child inherits
/// (swift-corelibs-foundation issue 4795): a process spawned meanwhile inherits it too, and
/// `waitUntilExit` can then wait forever. One CI run hung that way for an hour. Here the exit is
/// read with waitpid, and every wait has a deadline: a child that outlives it is described
/// (state, kernel wait channel, and a gdb backtrace when gdb is installed), killed, and reported
/// as a test error instead of a hung CI.
public final class ChildProcess: @unchecked Sendable {
    /// How the child ended.
    public enum Ending: Equatable, Sendable {
        case exited(Int32)
        case signalled(Int32)
    }

    /// A child that did not end in time; the description says what it was doing.
    public struct Hung: Error, CustomStringConvertible {
        public let description: String
    }

    /// A child that could not be started.
    public struct SpawnFailed: Error, CustomStringConvertible {
        public let description: String
    }

    /// Seconds a wait allows by default: `KILN_TEST_TIMEOUT`, else 900.
    public static var defaultTimeout: Double {
        ProcessInfo.processInfo.environment["KILN_TEST_TIMEOUT"].flatMap(Double.init) ?? 900
    }

    public let pid: pid_t
    public let command: String
    private let folder: String
    private let lock = NSLock()
    private var ending: Ending?

    /// Where the child's standard output went (a file the child wrote).
    public let stdoutPath: String
    /// Where the child's standard error went.
    public var stderrPath: String { folder + "/stderr" }

    /// Starts `executable` with `arguments`, with `environment` added to this process's own.
    /// `inheritStderr` lets the child write to the test's standard error (to see a worker's log).
    /// `stdoutFile` names where standard output goes (default: a file of its own).
    public init(_ executable: String, _ arguments: [String], environment: [String: String] = [:],
                stdinPath: String = "/dev/null", stdoutFile: String? = nil, inheritStderr: Bool = false) throws {
        command = ([executable] + arguments).map { $0.count > 80 ? String($0.prefix(77)) + "..." : $0 }.joined(separator: " ")
        folder = try Fixtures.temporaryDirectory()
        stdoutPath = stdoutFile ?? folder + "/stdout"
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, stdinPath, O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, stdoutPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        if !inheritStderr {
            posix_spawn_file_actions_addopen(&actions, 2, folder + "/stderr", O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        }
        Self.closeFrom3?(&actions, 3)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        // The child starts with default signal handling and nothing blocked, whatever the test
        // process (or XCTest) set.
        var all = sigset_t(), none = sigset_t()
        sigfillset(&all)
        sigemptyset(&none)
        posix_spawnattr_setsigdefault(&attributes, &all)
        posix_spawnattr_setsigmask(&attributes, &none)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))

        let merged = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let env: [UnsafeMutablePointer<CChar>?] = merged.map { strdup("\($0.key)=\($0.value)") } + [nil]
        let argv: [UnsafeMutablePointer<CChar>?] = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { for p in env + argv { free(p) } }
        var child: pid_t = 0
        let result = posix_spawn(&child, executable, &actions, &attributes, argv, env)
        guard result == 0 else {
            try? FileManager.default.removeItem(atPath: folder)
            throw SpawnFailed(description: "cannot start \(executable): \(String(cString: strerror(result)))")
        }
        pid = child
    }

    deinit {
        kill()
        try? FileManager.default.removeItem(atPath: folder)
    }

    /// Sends `signal` to the child (nothing when it has already been reaped).
    public func send(_ signal: Int32) {
        lock.lock()
        defer { lock.unlock() }
        if ending == nil { Glibc.kill(pid, signal) }
    }

    /// How the child ended, or nil while it runs (reaps it when it has ended).
    public func poll() -> Ending? {
        lock.lock()
        defer { lock.unlock() }
        if let ending { return ending }
        var status: Int32 = 0
        let r = waitpid(pid, &status, WNOHANG)
        guard r == pid else { return nil }
        let ended = Self.ending(status)
        ending = ended
        return ended
    }

    /// True while the child runs.
    public var isRunning: Bool { poll() == nil }

    /// Waits for the child to end. After `timeout` seconds it is described, killed and reported.
    @discardableResult
    public func wait(timeout: Double = ChildProcess.defaultTimeout) throws -> Ending {
        if let ending = waitUntil(Date().addingTimeInterval(timeout)) { return ending }
        let report = describe()
        kill()
        throw Hung(description: "\(command) did not end within \(Int(timeout)) s (KILN_TEST_TIMEOUT); killed it. \(report) Its stderr: \(stderr.suffix(2000))")
    }

    /// The ending, or nil when `deadline` passed first.
    private func waitUntil(_ deadline: Date) -> Ending? {
        var pause: useconds_t = 1_000
        while true {
            if let ending = poll() { return ending }
            if Date() >= deadline { return nil }
            usleep(pause)
            pause = min(pause * 2, 50_000)
        }
    }

    /// Kills the child with SIGKILL and reaps it.
    public func kill() {
        lock.lock()
        defer { lock.unlock() }
        guard ending == nil else { return }
        Glibc.kill(pid, SIGKILL)
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        ending = Self.ending(status)
    }

    /// Waits and returns the exit status; a signal counts as 128 + its number, as shells print it.
    public func status(timeout: Double = ChildProcess.defaultTimeout) throws -> Int32 {
        switch try wait(timeout: timeout) {
        case .exited(let code): return code
        case .signalled(let signal): return 128 + signal
        }
    }

    /// What the child printed on standard output so far.
    public var stdout: String { (try? String(contentsOfFile: stdoutPath, encoding: .utf8)) ?? "" }
    /// What the child printed on standard error so far (empty when it inherited the test's).
    public var stderr: String { (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? "" }

    /// glibc's posix_spawn_file_actions_addclosefrom_np (2.34 and later), which Swift's Glibc
    /// module does not declare: the child then holds no descriptor of the test process.
    private static let closeFrom3: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32)? = {
        guard let symbol = dlsym(nil, "posix_spawn_file_actions_addclosefrom_np") else { return nil }
        return unsafeBitCast(symbol, to: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32).self)
    }()

    static func ending(_ status: Int32) -> Ending {
        let signal = status & 0x7f
        if signal == 0 { return .exited((status >> 8) & 0xff) }
        return .signalled(signal)
    }

    /// The child's state from /proc and, when gdb is installed, every thread's backtrace.
    private func describe() -> String {
        var parts: [String] = []
        if let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) {
            parts += status.split(separator: "\n").filter { $0.hasPrefix("State:") || $0.hasPrefix("Threads:") }.map(String.init)
        }
        if let wchan = try? String(contentsOfFile: "/proc/\(pid)/wchan", encoding: .utf8) { parts.append("wchan: \(wchan)") }
        let gdb = "/usr/bin/gdb"
        if FileManager.default.isExecutableFile(atPath: gdb),
           let trace = try? ChildProcess(gdb, ["-p", "\(pid)", "-batch", "-nx", "-ex", "thread apply all bt 25"]) {
            if trace.waitUntil(Date().addingTimeInterval(120)) != nil {
                let frames = trace.stdout.split(separator: "\n").filter { $0.hasPrefix("#") || $0.hasPrefix("Thread") }
                parts.append("backtrace:\n" + frames.prefix(200).joined(separator: "\n"))
            }
        }
        return parts.joined(separator: "; ")
    }
}
