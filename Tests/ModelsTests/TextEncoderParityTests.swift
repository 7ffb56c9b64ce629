import KilnTestSupport
import ModelFiles
import Models
import Numerics
import XCTest

/// CLIP text encoders against transformers on the fixture pipelines.
final class TextEncoderParityTests: XCTestCase {
    func check(model: String, component: String, expected name: String, variant: WeightVariant = .automatic) throws {
        let files = try SDXLModelFiles(path: Fixtures.model(model), variant: variant)
        let encoder = try files.textEncoder(component)
        let expected = try Expected(name)
        let idTensor = try expected.tensor("input_ids")
        let ids = (0..<idTensor.shape[0]).map { b in (0..<idTensor.shape[1]).map { Int32(idTensor[flat: b * idTensor.shape[1] + $0]) } }
        // The ids themselves come from our tokenizer too.
        let tokenizer = try files.tokenizer(component.replacingOccurrences(of: "text_encoder", with: "tokenizer"))
        XCTAssertEqual(tokenizer.encode("a tiny red fox, watercolor; 2 birds!"), ids[0])
        XCTAssertEqual(tokenizer.encode(""), ids[1])

        let out = encoder(ids)
        XCTAssertEqual(out.hiddenStates.count, encoder.config.layers + 1)
        for (i, h) in out.hiddenStates.enumerated() {
            let err = h.relativeError(to: try expected.tensor("hidden_states.\(i)"))
            XCTAssertLessThanOrEqual(err, 1e-4, "\(name) hidden_states[\(i)]")
        }
        XCTAssertLessThanOrEqual(out.lastHiddenState.relativeError(to: try expected.tensor("last_hidden_state")), 1e-4, "\(name) last_hidden_state")
        if let embeds = out.textEmbeds {
            XCTAssertLessThanOrEqual(embeds.relativeError(to: try expected.tensor("text_embeds")), 1e-4, "\(name) text_embeds")
        } else {
            XCTAssertLessThanOrEqual(out.pooled.relativeError(to: try expected.tensor("pooler_output")), 1e-4, "\(name) pooler_output")
        }
    }

    func testBaseTextEncoder() throws { try check(model: "tiny-sdxl-base", component: "text_encoder", expected: "base-text_encoder") }
    func testBaseTextEncoder2() throws { try check(model: "tiny-sdxl-base", component: "text_encoder_2", expected: "base-text_encoder_2") }
    func testRefinerTextEncoder2() throws { try check(model: "tiny-sdxl-refiner", component: "text_encoder_2", expected: "refiner-text_encoder_2") }
    func testFP16VariantTextEncoder() throws {
        try check(model: "tiny-sdxl-base", component: "text_encoder", expected: "base-text_encoder-fp16", variant: .fp16)
    }
}
