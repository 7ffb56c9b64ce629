import ArgumentParser
import Foundation
import GRDB
import Imaging
import Pipelines
import RenderQueue

/// `kiln sheet`: a labelled contact sheet of a sweep's images, one parameter across, one down.
struct SheetCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "sheet", abstract: "Draw a labelled contact sheet of a sweep.")

    @Option(help: "The queue database.") var db: String
    @Option(help: "A sweep id.") var sweep: Int64
    @Option(help: "Parameter across: any render parameter (e.g. scheduler, seed, guidance, strength, high-noise-frac).") var x: String
    @Option(help: "Parameter down.") var y: String
    @Option(name: .customLong("cell-size"), help: "Cell size in pixels.") var cellSize: Int = 256
    @Option(help: "Output PNG path.") var output: String

    /// The axis parameter called `name`, or a one-line error listing the choices.
    static func parameter(_ name: String, _ option: String) throws -> RenderParameter {
        guard let p = RenderParameters.named(name) else {
            throw ValidationError("--\(option): '\(name)' is not a sweep parameter (use: \(RenderParameters.all.map(\.name).joined(separator: ", ")))")
        }
        return p
    }

    /// An image's label on an axis: the parameter's value in its request, the scheduler that ran
    /// when the request left it to the model, else "default".
    static func label(_ p: RenderParameter, _ record: Provenance) -> String {
        if let v = p.value(in: record.request) { return v }
        return p.name == "scheduler" ? record.scheduler : "default"
    }

    func run() throws {
        try failing {
            guard cellSize >= 32, cellSize <= 2048 else { throw ValidationError("--cell-size must be between 32 and 2048") }
            let across = try SheetCommand.parameter(x, "x"), down = try SheetCommand.parameter(y, "y")
            let database = try QueueDatabase.openReadOnly(path: db)
            let rows = try database.read { db in
                try Row.fetchAll(db, sql: """
                    SELECT o.provenance, o.png, o.output_path
                    FROM outputs o JOIN jobs j USING (job_id) WHERE j.sweep_id = ? ORDER BY o.job_id, o.image_index
                    """, arguments: [sweep])
            }
            guard !rows.isEmpty else { throw ValidationError("sweep \(sweep) has no finished images") }
            // Labels first, so the sheet's size is checked before any image is decoded.
            let labelled = try rows.map { row -> (x: String, y: String, row: Row) in
                let record = try JSONDecoder().decode(Provenance.self, from: Data((row["provenance"] as String).utf8))
                return (SheetCommand.label(across, record), SheetCommand.label(down, record), row)
            }
            func ordered(_ values: [String]) -> [String] {
                let unique = Array(Set(values))
                let numbers = unique.compactMap(Double.init)
                if numbers.count == unique.count { return unique.sorted { (Double($0) ?? 0) < (Double($1) ?? 0) } }
                return unique.sorted()
            }
            let xs = ordered(labelled.map(\.x)), ys = ordered(labelled.map(\.y))
            try ContactSheet.checkSize(columns: xs.count, rows: ys.count, cellSize: cellSize)
            var cells: [ContactSheet.Cell] = []
            for (cx, cy, row) in labelled {
                let image: RGBImage
                if let data = row["png"] as Data? {
                    image = try ImageFile.read(data: data, name: "output of sweep \(sweep)")
                } else if let path = row["output_path"] as String? {
                    image = try ImageFile.read(path)
                } else { continue }
                cells.append(.init(x: cx, y: cy, image: image))
            }
            let sheet = try ContactSheet.render(cells: cells, xs: ordered(cells.map(\.x)), ys: ordered(cells.map(\.y)),
                                                xLabel: x, yLabel: y, cellSize: cellSize)
            try PNGFile.write(sheet, to: output, text: [("kiln", "contact sheet of sweep \(sweep): \(x) across, \(y) down")])
            print("wrote \(output) (\(sheet.width)x\(sheet.height))")
        }
    }
}
