import ArgumentParser
import Foundation
import Imaging
import Pipelines
import QueueBackends
import RenderQueue

/// `kiln sheet`: a labelled contact sheet of a sweep's images, one parameter across, one down.
struct SheetCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "sheet", abstract: "Draw a labelled contact sheet of a sweep.")

    @OptionGroup var queue: QueueLocationOptions
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

    /// An image's label on an axis (`RenderParameter.label(in:)`, as the gallery's grid labels it).
    static func label(_ p: RenderParameter, _ record: Provenance) -> String { p.label(in: record) }

    /// On the main actor: the queue's reads that stream rows run there, off Swift's pool.
    @MainActor func run() async throws {
        try await failing {
            guard cellSize >= 32, cellSize <= 2048 else { throw ValidationError("--cell-size must be between 32 and 2048") }
            let across = try SheetCommand.parameter(x, "x"), down = try SheetCommand.parameter(y, "y")
            let rows = try await queue.openReader().sweepOutputs(sweep)
            guard !rows.isEmpty else { throw ValidationError("sweep \(sweep) has no finished images") }
            // Labels first, so the sheet's size is checked before any image is decoded.
            let labelled = try rows.map { row -> (x: String, y: String, output: StoredOutput) in
                let record = try JSONDecoder().decode(Provenance.self, from: Data(row.provenance.utf8))
                return (SheetCommand.label(across, record), SheetCommand.label(down, record), row.output)
            }
            let xs = LabelledGrid<Int>.order(labelled.map(\.x)), ys = LabelledGrid<Int>.order(labelled.map(\.y))
            try ContactSheet.checkSize(columns: xs.count, rows: ys.count, cellSize: cellSize)
            // Only the first image of each cell is drawn, so only those are decoded.
            var placed = Set<String>()
            var cells: [(x: String, y: String, item: RGBImage)] = []
            for (cx, cy, output) in labelled where !placed.contains(cx + "\u{0}" + cy) {
                let image: RGBImage
                if let data = output.png {
                    image = try ImageFile.read(data: data, name: "output of sweep \(sweep)")
                } else if let path = output.outputPath {
                    image = try ImageFile.read(path)
                } else { continue }
                placed.insert(cx + "\u{0}" + cy)
                cells.append((cx, cy, image))
            }
            let sheet = try ContactSheet.render(LabelledGrid(cells), xLabel: x, yLabel: y, cellSize: cellSize)
            try PNGFile.write(sheet, to: output, text: [("kiln", "contact sheet of sweep \(sweep): \(x) across, \(y) down")])
            print("wrote \(output) (\(sheet.width)x\(sheet.height))")
        }
    }
}
