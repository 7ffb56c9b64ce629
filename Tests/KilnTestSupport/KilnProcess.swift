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

    public static func run(_ arguments: [String]) throws -> KilnRun {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
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
