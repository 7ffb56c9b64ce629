import ArgumentParser
import Foundation
import Imaging
import ModelFiles
import QueueBackends
import RenderQueue

/// `kiln export`: the PNGs kept in the queue database written out as files, byte for byte (with
/// their text chunks), as `job-<id>-<index>.png`. A file already there with other bytes is the
/// user's and is kept (unless `--force`); a folder or other non-file with an output's name is
/// passed over; each with one line on stderr, and the export goes on.
struct ExportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "export",
        abstract: "Write the PNGs kept in the queue as job-<id>-<index>.png files (skipping identical ones already there, and keeping different ones unless --force).")

    @OptionGroup var queue: QueueLocationOptions
    @Option(help: "Only this sweep's images.") var sweep: Int64?
    @Option(name: .customLong("job"), help: "Only these jobs' images (repeatable).") var jobs: [Int64] = []
    @Option(name: .customLong("output-folder"), help: "Where to write the files (must exist).") var outputFolder: String
    @Flag(help: "Overwrite a file of the same name whose bytes differ (it is kept otherwise).") var force = false

    /// On the main actor: the queue's reads that stream rows run there, off Swift's pool.
    @MainActor func run() async throws {
        try await failing {
            guard sweep == nil || jobs.isEmpty else { throw ValidationError("give --sweep or --job, not both") }
            var isDir: ObjCBool = false
            guard FileManager.default.fileExists(atPath: outputFolder, isDirectory: &isDir), isDir.boolValue else {
                throw ValidationError("--output-folder: \(outputFolder) is not an existing folder")
            }
            let reader = try await queue.openReader()
            // An id that names nothing is a typo, not an empty export.
            if let sweep, try await !reader.exists(sweep: sweep) {
                throw ValidationError("--sweep \(sweep): no such sweep in \(reader.displayName)")
            }
            for job in jobs where try await !reader.exists(job: job) {
                throw ValidationError("--job \(job): no such job in \(reader.displayName)")
            }
            var count = Counts()
            try await reader.forEachOutput(JobSelection(jobs: jobs, sweep: sweep)) { output in
                guard let png = output.png else { count.elsewhere += 1; return }
                let path = (outputFolder as NSString).appendingPathComponent(output.exportName)
                switch ExportTarget(path: path, sha256: output.sha256) {
                case .absent: break
                case .identical:
                    count.identical += 1
                    return
                case .different where force: break
                case .different:
                    notice("\(path) exists with other bytes; kept (--force overwrites it)")
                    count.kept += 1
                    return
                case .notAFile(let kind):
                    notice("\(path) is \(kind), not a file; skipped")
                    count.notFiles += 1
                    return
                }
                try PNGFile.write(encoded: png, to: path)
                count.written += 1
            }
            print(count.summary)
        }
    }

    /// What the export did, for its summary line.
    struct Counts {
        var written = 0, identical = 0, kept = 0, notFiles = 0, elsewhere = 0

        var summary: String {
            var line = "\(written) written, \(identical) already there"
            if kept > 0 { line += ", \(kept) skipped (a different file has the name; --force overwrites)" }
            if notFiles > 0 { line += ", \(notFiles) skipped (not a file)" }
            if elsewhere > 0 { line += ", \(elsewhere) kept as files by --output-folder (see v_outputs.output_path)" }
            return line
        }
    }

    func notice(_ line: String) { FileHandle.standardError.write(Data(("kiln: " + line + "\n").utf8)) }
}

/// What is at an output's path already; looked at without following a symbolic link, and
/// without opening anything but a regular file (a FIFO would block the read).
enum ExportTarget: Equatable {
    case absent, identical, different
    case notAFile(String)

    init(path: String, sha256: String) {
        guard let type = (try? FileManager.default.attributesOfItem(atPath: path))?[.type] as? FileAttributeType else {
            self = .absent
            return
        }
        switch type {
        case .typeRegular:
            let existing = FileManager.default.contents(atPath: path)
            self = existing.map { SHA256.hex($0) == sha256 } == true ? .identical : .different
        case .typeDirectory: self = .notAFile("a folder")
        case .typeSymbolicLink: self = .notAFile("a symbolic link")
        default: self = .notAFile("a special file")
        }
    }
}
