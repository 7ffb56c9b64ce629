import ArgumentParser
import Foundation
import GRDB
import Imaging
import RenderQueue

/// `kiln sheet`: a labelled contact sheet of a sweep's images, one parameter across, one down.
struct SheetCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "sheet", abstract: "Draw a labelled contact sheet of a sweep.")

    @Option(help: "The queue database.") var db: String
    @Option(help: "A sweep id.") var sweep: Int64
    @Option(help: "Parameter across (e.g. scheduler, seed, guidance, steps, prompt).") var x: String
    @Option(help: "Parameter down.") var y: String
    @Option(name: .customLong("cell-size"), help: "Cell size in pixels.") var cellSize: Int = 256
    @Option(help: "Output PNG path.") var output: String

    /// render parameter name -> RenderRequest JSON key.
    static let keys: [String: String] = [
        "prompt": "prompt", "prompt-2": "prompt2", "negative-prompt": "negativePrompt", "negative-prompt-2": "negativePrompt2",
        "width": "width", "height": "height", "steps": "steps", "guidance": "guidance", "guidance-rescale": "guidanceRescale",
        "seed": "seed", "scheduler": "scheduler", "clip-skip": "clipSkip", "images": "images",
    ]

    func run() throws {
        try failing {
            guard cellSize >= 32, cellSize <= 2048 else { throw ValidationError("--cell-size must be between 32 and 2048") }
            let names = SheetCommand.keys.keys.sorted().joined(separator: ", ")
            guard let xKey = SheetCommand.keys[x.replacingOccurrences(of: "_", with: "-")] else { throw ValidationError("--x: '\(x)' is not a sweep parameter (use: \(names))") }
            guard let yKey = SheetCommand.keys[y.replacingOccurrences(of: "_", with: "-")] else { throw ValidationError("--y: '\(y)' is not a sweep parameter (use: \(names))") }
            let database = try QueueDatabase(path: db)
            let rows = try database.pool.read { db in
                try Row.fetchAll(db, sql: """
                    SELECT COALESCE(json_extract(o.provenance, '$.request.\(xKey)'), json_extract(o.provenance, '$.scheduler')) AS xv,
                           COALESCE(json_extract(o.provenance, '$.request.\(yKey)'), json_extract(o.provenance, '$.scheduler')) AS yv,
                           o.png, o.output_path
                    FROM outputs o JOIN jobs j USING (job_id) WHERE j.sweep_id = ? ORDER BY o.job_id, o.image_index
                    """, arguments: [sweep])
            }
            guard !rows.isEmpty else { throw ValidationError("sweep \(sweep) has no finished images") }
            var cells: [ContactSheet.Cell] = []
            for row in rows {
                let xv = (row["xv"] as DatabaseValue).description, yv = (row["yv"] as DatabaseValue).description
                let image: RGBImage
                if let data = row["png"] as Data? {
                    let temp = NSTemporaryDirectory() + "kiln-sheet-\(UUID().uuidString).png"
                    try data.write(to: URL(fileURLWithPath: temp))
                    defer { try? FileManager.default.removeItem(atPath: temp) }
                    image = try PNGFile.read(temp).image
                } else if let path = row["output_path"] as String? {
                    image = try PNGFile.read(path).image
                } else { continue }
                cells.append(.init(x: clean(xv), y: clean(yv), image: image))
            }
            func ordered(_ values: [String]) -> [String] {
                let unique = Array(Set(values))
                if unique.allSatisfy({ Double($0) != nil }) { return unique.sorted { Double($0)! < Double($1)! } }
                return unique.sorted()
            }
            let sheet = ContactSheet.render(cells: cells, xs: ordered(cells.map(\.x)), ys: ordered(cells.map(\.y)),
                                            xLabel: x, yLabel: y, cellSize: cellSize)
            try PNGFile.write(sheet, to: output, text: [("kiln", "contact sheet of sweep \(sweep): \(x) across, \(y) down")])
            print("wrote \(output) (\(sheet.width)x\(sheet.height))")
        }
    }

    /// SQL text values come quoted from DatabaseValue.description; numbers stay plain.
    func clean(_ s: String) -> String { s.hasPrefix("\"") && s.hasSuffix("\"") ? String(s.dropFirst().dropLast()) : s }
}
