import ArgumentParser
import Foundation
import Imaging
import Pipelines

/// `kiln watermark FILE.png`: reads the invisible watermark's 48 bits and says whether they are
/// SDXL's message.
struct WatermarkCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "watermark",
        abstract: "Read the invisible watermark of a PNG and compare it with SDXL's (0xb3ec907bb19e).")

    @Argument(help: "A PNG image.") var file: String

    func run() throws {
        try failing {
            let (image, _) = try PNGFile.read(file)
            guard let bits = InvisibleWatermark.sdxl.decode(image) else {
                throw ValidationError("\(file): \(image.width)x\(image.height) is too small to carry a watermark")
            }
            let value = InvisibleWatermark.value(bits)
            let matches = value == InvisibleWatermark.sdxlMessage
            print(String(format: "bits 0x%012llx", value))
            print(matches ? "matches the SDXL watermark" : "no match: not SDXL's watermark (or none)")
        }
    }
}
