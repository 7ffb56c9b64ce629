@testable import Gallery
import Pipelines
import XCTest

/// The gallery's reproduce command carries `--prompt-weighting`, and only when the render used it.
final class ReproducePromptWeightingTests: XCTestCase {
    func record(_ request: RenderRequest) -> Provenance {
        Provenance(kilnVersion: "t", request: request, width: 64, height: 64, scheduler: "euler", schedulerClass: "EulerDiscreteScheduler",
                   seed: 9, imageIndex: 0, model: "/models/base", modelHash: "abc", watermarkBits: nil, seconds: 1)
    }

    func testReproduceCommandCarriesPromptWeighting() {
        var request = RenderRequest(prompt: "masterpiece, (red hair:1.3), [blurry]")
        XCTAssertFalse(RenderCommandLine.make(record(request), config: nil).contains("--prompt-weighting"))
        request.promptWeighting = .a1111
        let command = RenderCommandLine.make(record(request), config: nil)
        XCTAssertTrue(command.contains(" --prompt 'masterpiece, (red hair:1.3), [blurry]' "), command)
        XCTAssertTrue(command.contains(" --prompt-weighting a1111 "), command)
        XCTAssertTrue(record(request).parametersText.contains("Prompt weighting: a1111"))
    }
}
