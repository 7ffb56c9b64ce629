import Foundation

/// Runs the built `kiln` executable and captures what it prints.
public struct KilnRun {
    public let status: Int32
    public let stdout: String
    public let stderr: String
    public var stderrLines: [Substring] { stderr.split(separator: "\n") }
}

public enum KilnProcess {
    /// The `kiln` binary next to the test bundle (SwiftPM puts both in the same products folder).
    public static var executable: String {
        var dir = URL(fileURLWithPath: CommandLine.arguments.first ?? ".").deletingLastPathComponent()
        for _ in 0..<4 {
            let candidate = dir.appendingPathComponent("kiln").path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
            dir = dir.deletingLastPathComponent()
        }
        for config in ["debug", "release"] {
            let p = Fixtures.root + "/../../.build/\(config)/kiln"
            if FileManager.default.isExecutableFile(atPath: p) { return p }
        }
        return "kiln"
    }

    /// Runs `kiln arguments` with `environment` added to this process's environment, and waits
    /// for it (at most `ChildProcess.defaultTimeout` seconds; a hang is reported, not waited out).
    public static func run(_ arguments: [String], environment: [String: String] = [:]) throws -> KilnRun {
        let child = try start(arguments, environment: environment)
        let status = try child.status()
        return KilnRun(status: status, stdout: child.stdout, stderr: child.stderr)
    }

    /// Starts `kiln arguments` in the background (a worker, a server) without waiting for it.
    public static func start(_ arguments: [String], environment: [String: String] = [:], stdoutFile: String? = nil,
                             inheritStderr: Bool = false) throws -> ChildProcess {
        try ChildProcess(executable, arguments, environment: environment, stdoutFile: stdoutFile, inheritStderr: inheritStderr)
    }
}

extension KilnProcess {
    struct QueryFailed: Error, CustomStringConvertible { let description: String }

    /// Rows of `kiln report --format csv` for `sql` on `db`, without the header line.
    public static func query(_ db: String, _ sql: String) throws -> [String] {
        let r = try run(["report", "--db", db, "--sql", sql, "--format", "csv"])
        guard r.status == 0 else { throw QueryFailed(description: r.stderr) }
        return Array(r.stdout.split(separator: "\n").dropFirst().map(String.init))
    }
}

extension KilnProcess {
    /// Runs another program (e.g. script(1) to give kiln a terminal) and returns its stdout.
    public static func runTool(_ path: String, _ arguments: [String]) throws -> String {
        let child = try ChildProcess(path, arguments)
        try child.wait()
        return child.stdout
    }
}
