import Foundation
import KilnTestSupport
import ModelFiles
import Models
import Numerics
import XCTest

/// ControlNet residuals, and the UNet taking them, against diffusers (controlnet_fixtures.py):
/// tiny ControlNets whose zero convolutions have random weights, so a ControlNet ignored fails.
final class ControlNetParityTests: XCTestCase {
    struct Inputs {
        let sample: Tensor, timestep: Float, conditioning: UNetConditioning, condition: Tensor
    }

    func inputs(_ e: Expected) throws -> Inputs {
        let ids = try e.tensor("time_ids")
        let perRow = ids.shape[1]
        let timeIDs = (0..<ids.shape[0]).map { b in (0..<perRow).map { ids[flat: b * perRow + $0] } }
        let conditioning = UNetConditioning(encoderHiddenStates: try e.tensor("encoder_hidden_states"),
                                            textEmbeds: try e.tensor("text_embeds"), timeIDs: timeIDs)
        let condition = try e.image("cond_u8").scaled(by: 1 / 255)
        return Inputs(sample: try e.image("sample"), timestep: try e.tensor("timestep")[flat: 0],
                      conditioning: conditioning, condition: condition)
    }

    func check(_ out: ControlNetResiduals, _ e: Expected, prefix: String) throws {
        for (i, d) in out.down.enumerated() {
            let err = d.relativeError(to: try e.image("\(prefix).down.\(i)"))
            XCTAssertLessThanOrEqual(err, 1e-4, "\(prefix) down residual \(i)")
        }
        XCTAssertEqual(out.down.count, e.file.tensorNames.filter { $0.hasPrefix("\(prefix).down.") }.count, "\(prefix) residual count")
        let err = out.mid.relativeError(to: try e.image("\(prefix).mid"))
        print("relative error \(prefix) mid: \(err)")
        XCTAssertLessThanOrEqual(err, 1e-4, "\(prefix) mid residual")
    }

    func testResidualsAndTheUNetTakingThem() throws {
        let e = try Expected("controlnet-forward")
        let x = try inputs(e)
        let files = try ControlNetFiles(path: Fixtures.model("tiny-controlnet"))
        let controlnet = try files.load()
        try controlnet.validate(sample: x.sample, conditioning: x.conditioning, condition: x.condition)
        let plain = controlnet(x.sample, timestep: x.timestep, conditioning: x.conditioning, condition: x.condition, scale: 0.7)
        try check(plain, e, prefix: "plain")
        try check(controlnet(x.sample, timestep: x.timestep, conditioning: x.conditioning, condition: x.condition,
                             scale: 0.8, guessMode: true), e, prefix: "guess")

        var pooledConfig = files.config
        pooledConfig.globalPoolConditions = true
        let pooled = try ControlNetModel(config: pooledConfig, weights: WeightReader(source: try files.weights(), component: "pooled"))
        let pooledOut = pooled(x.sample, timestep: x.timestep, conditioning: x.conditioning, condition: x.condition, scale: 0.6)
        XCTAssertEqual(pooledOut.mid.shape[1...2], [1, 1])
        try check(pooledOut, e, prefix: "pooled")

        let unet = try SDXLModelFiles(path: Fixtures.model("tiny-sdxl-base")).unet()
        let out = unet(x.sample, timestep: x.timestep, conditioning: x.conditioning, residuals: plain)
        let err = out.relativeError(to: try e.image("unet_out"))
        print("relative error unet with residuals: \(err)")
        XCTAssertLessThanOrEqual(err, 1e-4, "UNet with ControlNet residuals")
    }

    /// The fp16 variant of a ControlNet with its own transformer depths and BGR channel order.
    func testSecondControlNetFromTheFP16Variant() throws {
        let e = try Expected("controlnet-forward")
        let x = try inputs(e)
        let files = try ControlNetFiles(path: Fixtures.model("tiny-controlnet-2"))
        XCTAssertTrue(files.config.bgr)
        XCTAssertEqual(files.config.unet.transformerLayers, [1, 1, 1])
        let controlnet = try files.load()
        try check(controlnet(x.sample, timestep: x.timestep, conditioning: x.conditioning, condition: x.condition, scale: 1.3),
                  e, prefix: "second")
    }

    func testGuessScalesAreTorchLogspace() {
        // torch.logspace(-1, 0, 10) in float32
        let torch: [Float] = [0.1, 0.12915497, 0.16681005, 0.21544346, 0.27825594, 0.35938137, 0.46415889, 0.59948426, 0.77426368, 1.0]
        for (a, b) in zip(ControlNetModel.guessScales(count: 10), torch) { XCTAssertEqual(a, b, accuracy: 1e-7) }
    }
}
