import Foundation
import KilnTestSupport
@testable import Pipelines
import XCTest

/// `ModelCache.dropsSpentParts` (`kiln render`): after the last step the UNet and the ControlNets
/// are let go before the VAE decodes, so a one-shot render's peak memory is not the UNet's weights
/// plus the decoder's activations; the image is the same, and a worker's cache keeps everything.
final class OneShotDropTests: XCTestCase {
    func testAOneShotRenderDropsTheUNetAndControlNetsBeforeDecodingAndGivesTheSameImage() throws {
        let (request, inputs) = try ControlNetRenderParityTests.prepared("one")
        let reference = ModelReference(path: Fixtures.model("tiny-sdxl-base"))

        let kept = ModelCache()
        guard case .images(let expected) = try RenderSession(request: request, model: reference, inputs: inputs, models: kept).run() else {
            return XCTFail("no images")
        }
        let oneShot = ModelCache()
        oneShot.dropsSpentParts = true
        guard case .images(let images) = try RenderSession(request: request, model: reference, inputs: inputs, models: oneShot).run() else {
            return XCTFail("no images")
        }
        XCTAssertEqual(images, expected, "dropping after the last step changes nothing in the image")

        // The worker's cache still holds the UNet and the ControlNet; the one-shot cache holds neither.
        XCTAssertNoThrow(try kept.model(reference).unet)
        let model = try oneShot.model(reference)
        XCTAssertThrowsError(try model.unet) { error in
            XCTAssertTrue("\(error)".contains("UNet was dropped"), "\(error)")
        }
        let unetBytes = try XCTUnwrap(model.componentHashes["unet"].flatMap { model.componentBytes[$0] })
        XCTAssertGreaterThan(kept.heldBytes - oneShot.heldBytes, unetBytes, "the UNet's and the ControlNet's bytes are no longer held")
        XCTAssertEqual(oneShot.heldBytes, model.componentBytes.values.reduce(0, +) - unetBytes,
                       "text encoders and VAE stay; UNet and ControlNet go")
    }
}
