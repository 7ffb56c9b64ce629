@testable import Gallery
import Pipelines
import XCTest

/// The gallery's reproduce command carries the UNet a render swapped in, and only when there was one.
final class ReproduceUNetTests: XCTestCase {
    func record(_ request: RenderRequest) -> Provenance {
        Provenance(kilnVersion: "t", request: request, width: 64, height: 64, scheduler: "lcm", schedulerClass: "LCMScheduler",
                   seed: 9, imageIndex: 0, model: "/models/base", modelHash: "abc", watermarkBits: nil, seconds: 1)
    }

    func testReproduceCommandCarriesTheUNet() {
        var request = RenderRequest(prompt: "a cat")
        XCTAssertFalse(RenderCommandLine.make(record(request), config: nil).contains("--unet"))
        request.unet = UNetReference(file: "/models/lcm sdxl", sha256: String(repeating: "a", count: 64))
        let command = RenderCommandLine.make(record(request), config: nil)
        XCTAssertTrue(command.contains(" --unet '/models/lcm sdxl' "), command)
    }
}
