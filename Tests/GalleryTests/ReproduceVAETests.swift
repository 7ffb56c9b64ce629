@testable import Gallery
import Pipelines
import XCTest

/// The gallery's reproduce command carries a render's `--vae`, and only when one was used.
final class ReproduceVAETests: XCTestCase {
    func record(_ request: RenderRequest) -> Provenance {
        Provenance(kilnVersion: "t", request: request, width: 64, height: 64, scheduler: "euler", schedulerClass: "EulerDiscreteScheduler",
                   seed: 9, imageIndex: 0, model: "/models/base", modelHash: "abc", watermarkBits: nil, seconds: 1)
    }

    func testReproduceCommandCarriesTheVAE() {
        var request = RenderRequest(prompt: "a cat")
        XCTAssertFalse(RenderCommandLine.make(record(request), config: nil).contains("--vae "))
        request.vae = VAEReference(file: "/vaes/taesdxl", sha256: "0123456789abcdef")
        let command = RenderCommandLine.make(record(request), config: nil)
        XCTAssertTrue(command.contains(" --vae /vaes/taesdxl "), command)
    }
}
