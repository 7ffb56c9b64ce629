@testable import Gallery
import ModelFiles
import Pipelines
import XCTest

/// The gallery's reproduce command and the PNG's parameters text carry `--variant`, only when set.
final class ReproduceVariantTests: XCTestCase {
    func record(_ request: RenderRequest) -> Provenance {
        Provenance(kilnVersion: "t", request: request, width: 64, height: 64, scheduler: "euler", schedulerClass: "EulerDiscreteScheduler",
                   seed: 9, imageIndex: 0, model: "/models/base", modelHash: "abc", watermarkBits: nil, seconds: 1)
    }

    func testReproduceCommandCarriesTheVariant() {
        var request = RenderRequest(prompt: "a lighthouse")
        XCTAssertFalse(RenderCommandLine.make(record(request), config: nil).contains("--variant"))
        XCTAssertFalse(record(request).parametersText.contains("Variant"))
        request.variant = .fp16
        XCTAssertTrue(RenderCommandLine.make(record(request), config: nil).contains(" --variant fp16 "))
        XCTAssertTrue(record(request).parametersText.contains(", Variant: fp16,"), record(request).parametersText)
        request.variant = .plain
        XCTAssertTrue(RenderCommandLine.make(record(request), config: nil).contains(" --variant none "))
    }
}
