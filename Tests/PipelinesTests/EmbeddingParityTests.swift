import Foundation
import KilnTestSupport
import ModelFiles
@testable import Pipelines
import XCTest

/// Textual inversion against diffusers' load_textual_inversion on the tiny base model: an SDXL
/// file (clip_l + clip_g, a 2-vector token) into both encoders, and a CLIP-L-only file.
final class EmbeddingParityTests: XCTestCase {
    struct Reference: Decodable {
        let prompt: String
        let ids: [String: [Int32]]
        let steps: Int, width: Int, height: Int
        let seed: UInt64
    }

    static func embedding(_ name: String, token: String? = nil) throws -> EmbeddingReference {
        let path = Fixtures.path("embeddings/\(name).safetensors")
        var r = try EmbeddingReference(spec: token.map { path + ":" + $0 } ?? path)
        r.sha256 = SHA256.hex(try Data(contentsOf: URL(fileURLWithPath: path)))
        return r
    }

    func testTokensAndImageEqualDiffusers() throws {
        let reference = try JSONDecoder().decode(Reference.self, from: Data(contentsOf: URL(fileURLWithPath: Fixtures.expected("embeddings.json"))))
        let embeddings = [try EmbeddingParityTests.embedding("lantern-style", token: "<lantern-style>"), try EmbeddingParityTests.embedding("glow")]
        XCTAssertEqual(embeddings[1].token, "glow", "the token defaults to the file's stem")
        let model = try StageModel(ModelReference(path: Fixtures.model("tiny-sdxl-base"), embeddings: embeddings))
        for (pair, name) in zip(model.prompts.pairs, ["tokenizer", "tokenizer_2"]) {
            // The reference is the unpadded tokenizer call; Kiln's ids continue with padding.
            let expected = try XCTUnwrap(reference.ids[name])
            let ids = pair.tokenizer.encode(pair.converted(reference.prompt))
            XCTAssertEqual(Array(ids.prefix(expected.count)), expected, name)
            XCTAssertTrue(ids.dropFirst(expected.count).allSatisfy { $0 == pair.tokenizer.padID }, name)
        }
        var request = RenderRequest(prompt: reference.prompt)
        request.steps = reference.steps; request.width = reference.width; request.height = reference.height
        request.seed = reference.seed; request.watermark = false
        request.embeddings = embeddings
        let session = try RenderSession(request: request, model: ModelReference(path: Fixtures.model("tiny-sdxl-base")), models: ModelCache())
        guard case .images(let images) = try session.run() else { return XCTFail("no images") }
        let result = PixelComparison(images.map { ($0.width, $0.height, $0.pixels) }, try Expected("embedding-render").tensor("pixels"))
        XCTAssertTrue(result.sizesMatch && result.worst <= 1, "\(result)")
        XCTAssertTrue(Provenance(session: session, imageIndex: 0, seconds: nil).parametersText.contains("TI hashes: \"<lantern-style>: "))
    }

    func testAnEmbeddingThatFitsNeitherEncoderIsRefused() throws {
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/wide.safetensors"
        try SafetensorsWriter.data([("emb_params", .init(repeating: 0.1, shape: [1, 24]))]).write(to: URL(fileURLWithPath: path))
        var r = try EmbeddingReference(spec: path)
        r.sha256 = ""
        XCTAssertThrowsError(try StageModel(ModelReference(path: Fixtures.model("tiny-sdxl-base"), embeddings: [r]))) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains("wide.safetensors") && text.contains("fits neither text encoder") && !text.contains("\n"), text)
        }
    }
}
