import KilnTestSupport
import ModelFiles
import Models
import Numerics
import XCTest

/// UNet noise predictions against diffusers for the base, refiner and 9-channel inpainting UNets.
final class UNetParityTests: XCTestCase {
    func check(model: String, expected name: String) throws {
        let unet = try SDXLModelFiles(path: Fixtures.model(model)).unet()
        let e = try Expected(name)
        let ids = try e.tensor("time_ids")
        let perRow = ids.shape[1]
        let timeIDs = (0..<ids.shape[0]).map { b in (0..<perRow).map { ids[flat: b * perRow + $0] } }
        let conditioning = UNetConditioning(encoderHiddenStates: try e.tensor("encoder_hidden_states"),
                                            textEmbeds: try e.tensor("text_embeds"), timeIDs: timeIDs)
        let sample = try e.image("sample")
        try unet.validate(sample: sample, conditioning: conditioning)
        let out = unet(sample, timestep: try e.tensor("timestep")[flat: 0], conditioning: conditioning)
        let err = out.relativeError(to: try e.image("out"))
        print("relative error \(name): \(err)")
        XCTAssertLessThanOrEqual(err, 1e-4, "\(name) noise prediction")
        // Same inputs, same bits.
        let again = unet(sample, timestep: try e.tensor("timestep")[flat: 0], conditioning: conditioning)
        XCTAssertTrue(out.scalars == again.scalars, "bit-identical on repeat")
    }

    func testBaseUNet() throws { try check(model: "tiny-sdxl-base", expected: "base-unet") }
    func testRefinerUNet() throws { try check(model: "tiny-sdxl-refiner", expected: "refiner-unet") }
    func testInpaintUNet() throws { try check(model: "tiny-sdxl-inpaint", expected: "inpaint-unet") }
}
