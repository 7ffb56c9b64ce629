import ArgumentParser
import Foundation
import Imaging
import ModelFiles
import QueueBackends
import RenderQueue

/// `kiln export`: the PNGs kept in the queue database written out as files, byte for byte (with
/// their text chunks), as `job-<id>-<index>.png`.
struct ExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "export",
        abstract: "Write the PNGs kept in the queue as job-<id>-<index>.png files (skipping identical ones already there).")

    @Option(help: "The queue: a SQLite file or postgresql://user@host:port/dbname (default: $KILN_DB).") var db: String?
    @Option(help: "Only this sweep's images.") var sweep: Int64?
    @Option(name: .customLong("job"), help: "Only these jobs' images (repeatable).") var jobs: [Int64] = []
    @Option(name: .customLong("output-folder"), help: "Where to write the files (must exist).") var outputFolder: String

    func run() throws {
        try failing {
            guard sweep == nil || jobs.isEmpty else { throw ValidationError("give --sweep or --job, not both") }
            var isDir: ObjCBool = false
            guard FileManager.default.fileExists(atPath: outputFolder, isDirectory: &isDir), isDir.boolValue else {
                throw ValidationError("--output-folder: \(outputFolder) is not an existing folder")
            }
            var written = 0, skipped = 0, elsewhere = 0
            try Queues.openReader(db).forEachOutput(JobSelection(jobs: jobs, sweep: sweep)) { output in
                guard let png = output.png else { elsewhere += 1; return }
                let path = (outputFolder as NSString).appendingPathComponent(output.exportName)
                if let existing = FileManager.default.contents(atPath: path), SHA256.hex(existing) == output.sha256 {
                    skipped += 1
                    return
                }
                try PNGFile.write(encoded: png, to: path)
                written += 1
            }
            var summary = "\(written) written, \(skipped) already there"
            if elsewhere > 0 { summary += ", \(elsewhere) kept as files by --output-folder (see v_outputs.output_path)" }
            print(summary)
        }
    }
}
