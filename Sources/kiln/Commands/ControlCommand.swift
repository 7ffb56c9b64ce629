import ArgumentParser
import Foundation
import Imaging

/// `kiln control`: prepares control images for ControlNet.
struct ControlCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "control",
        abstract: "Prepare control images for ControlNet.",
        subcommands: [CannyCommand.self])
}

/// `kiln control canny IMAGE --low 100 --high 200 --output edges.png`: OpenCV's `cv2.Canny`
/// on the image as diffusers' `load_image` reads it, stacked to three channels, as diffusers'
/// ControlNet documentation prepares a canny control image.
struct CannyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "canny",
        abstract: "Canny edges of an image as cv2.Canny finds them, as a 3-channel PNG (white edges on black).")

    @Argument(help: "A PNG or JPEG image (read as diffusers' load_image: EXIF orientation applied, alpha dropped).")
    var image: String

    @Option(help: "The lower hysteresis threshold (cv2.Canny's threshold1).")
    var low: Double = 100

    @Option(help: "The upper hysteresis threshold (cv2.Canny's threshold2); swapped with --low when smaller.")
    var high: Double = 200

    @Option(name: .shortAndLong, help: "Where to write the edges PNG (written atomically).")
    var output: String

    func run() throws {
        try failing {
            let source = try ImageFile.read(image)
            let edges = try CannyEdges.detect(source, low: low, high: high)
            let name = URL(fileURLWithPath: image).lastPathComponent
            try PNGFile.write(edges.rgb, to: output,
                              text: [("kiln", "canny edges of \(name), low \(low), high \(high) (cv2.Canny, aperture 3, L1)")])
            print("\(output): \(edges.width)x\(edges.height), \(edges.pixels.lazy.filter { $0 == 255 }.count) edge pixels")
        }
    }
}
