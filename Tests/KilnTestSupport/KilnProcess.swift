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

    /// Runs `kiln arguments` with `environment` added to this process's environment.
    public static func run(_ arguments: [String], environment: [String: String] = [:]) throws -> KilnRun {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if !environment.isEmpty { process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 } }
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return KilnRun(status: process.terminationStatus, stdout: String(decoding: o, as: UTF8.self),
                       stderr: String(decoding: e, as: UTF8.self))
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
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return String(decoding: data, as: UTF8.self)
    }
}
