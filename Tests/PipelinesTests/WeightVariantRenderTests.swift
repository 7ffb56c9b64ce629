import Foundation
import KilnTestSupport
import ModelFiles
import Pipelines
import XCTest

/// `--variant` through the pipeline: both stages' models load the variant's files, the component
/// cache keeps a folder's fp16 and plain weights apart, the request stores it only when set, and
/// a variant a folder cannot give is refused before anything is loaded.
final class WeightVariantRenderTests: XCTestCase {
    let tiny = Fixtures.model("tiny-sdxl-base")  // text_encoder: plain and fp16 weights
    var dir = ""
    override func setUpWithError() throws { dir = try Fixtures.temporaryDirectory() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: dir) }

    func reference(_ variant: WeightVariant?) -> ModelReference {
        var r = ModelReference(path: tiny)
        r.variant = variant
        return r
    }

    func testFP16AndNoneEncodeDifferentlyThroughOneCache() throws {
        let cache = ModelCache()
        let request = RenderRequest(prompt: "a red barn at dusk")
        func embedding(_ variant: WeightVariant?) throws -> [Float] {
            try cache.model(reference(variant)).prompts.encode(request, guidance: false).positive.scalars
        }
        let (half, plain, unset) = (try embedding(.fp16), try embedding(.plain), try embedding(nil))
        XCTAssertNotEqual(half, plain, "fp16 loads model.fp16.safetensors, none model.safetensors")
        XCTAssertEqual(unset, plain, "unset: plain weights where they exist")
    }

    func testBothStagesTakeTheVariant() {
        var request = RenderRequest(prompt: "x")
        request.refiner = Fixtures.model("tiny-sdxl-refiner")
        request.variant = .fp16
        let plans = StagePlan.stages(for: request, model: ModelReference(path: tiny))
        XCTAssertEqual(plans.map(\.role), [.base, .refiner])
        XCTAssertEqual(plans.map(\.model.variant), [.fp16, .fp16])
    }

    func testStoredOnlyWhenSet() throws {
        var request = RenderRequest(prompt: "x")
        XCTAssertFalse(String(decoding: try JSONEncoder().encode(request), as: UTF8.self).contains("variant"), "older requests keep their hashes")
        let parameter = try XCTUnwrap(RenderParameters.named("variant"))
        try parameter.apply(.text("none"), to: &request)
        XCTAssertEqual(request.variant, .plain)
        let json = String(decoding: try JSONEncoder().encode(request), as: UTF8.self)
        XCTAssertTrue(json.contains(#""variant":"none""#), json)
        XCTAssertEqual(try JSONDecoder().decode(RenderRequest.self, from: Data(json.utf8)).variant, .plain)
        try parameter.apply(.text("auto"), to: &request)
        XCTAssertNil(request.variant, "auto is the default, stored as unset")
        XCTAssertThrowsError(try parameter.apply(.text("bf16"), to: &request)) { error in
            XCTAssertEqual("\(error)", "variant: must be fp16 or none (or auto, the default), not 'bf16'")
        }
    }

    func testVariantsAFolderCannotGiveAreRefusedFromItsListing() throws {
        let fm = FileManager.default
        let halfOnly = dir + "/half-only", plainOnly = dir + "/plain-only"
        try fm.copyItem(atPath: tiny, toPath: halfOnly)
        try fm.removeItem(atPath: halfOnly + "/text_encoder/model.safetensors")
        try fm.copyItem(atPath: tiny, toPath: plainOnly)
        try fm.removeItem(atPath: plainOnly + "/text_encoder/model.fp16.safetensors")
        func refusal(_ variant: WeightVariant?, model: String, refiner: String? = nil) -> String {
            var request = RenderRequest(prompt: "x")
            request.variant = variant
            request.refiner = refiner
            do { try request.checkVariant(model: ModelReference(path: model)); return "" } catch { return "\(error)" }
        }
        XCTAssertEqual(refusal(.plain, model: halfOnly),
                       "variant: none: \(halfOnly)/text_encoder: holds only fp16 variant weights (model.fp16.safetensors), which diffusers' variant=None does not load; pass --variant fp16 (or leave --variant unset, which takes them)")
        XCTAssertEqual(refusal(nil, model: halfOnly), "")
        XCTAssertEqual(refusal(.fp16, model: halfOnly), "")
        XCTAssertTrue(refusal(.fp16, model: plainOnly).hasPrefix("variant: fp16: \(plainOnly): no component has fp16 variant weights"))
        // The refiner follows the same rule: the tiny refiner has no fp16 files.
        XCTAssertTrue(refusal(.fp16, model: tiny, refiner: Fixtures.model("tiny-sdxl-refiner")).contains("tiny-sdxl-refiner: no component has fp16"))
        XCTAssertEqual(refusal(.plain, model: tiny, refiner: Fixtures.model("tiny-sdxl-refiner")), "")
        // A single file has no variants to pick.
        let single = Fixtures.model("tiny-sdxl-base-single-file.safetensors")
        XCTAssertTrue(refusal(.fp16, model: single).contains("is a single file, read as it is; drop --variant"), refusal(.fp16, model: single))
        XCTAssertEqual(refusal(nil, model: single), "")
    }

    /// A Hub snapshot whose fp16 shard set lacks a shard passes the cache's check (its plain
    /// weights are whole) but not --variant fp16's: the shard is named with the download command.
    func testAMissingFP16ShardInAHubSnapshotNamesTheDownload() throws {
        let fm = FileManager.default
        let source = dir + "/shards"
        try fm.copyItem(atPath: tiny, toPath: source)
        let unet = source + "/unet"
        let index = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: unet + "/diffusion_pytorch_model.safetensors.index.json"))) as? [String: Any])
        let map = try XCTUnwrap(index["weight_map"] as? [String: String])
        func half(_ shard: String) -> String { shard.replacingOccurrences(of: "diffusion_pytorch_model-", with: "diffusion_pytorch_model.fp16-") }
        for shard in Set(map.values) { try fm.copyItem(atPath: unet + "/" + shard, toPath: unet + "/" + half(shard)) }
        try JSONSerialization.data(withJSONObject: ["metadata": [:], "weight_map": map.mapValues(half)])
            .write(to: URL(fileURLWithPath: unet + "/diffusion_pytorch_model.safetensors.index.fp16.json"))
        let commit = String(repeating: "e6", count: 20)
        let cache = try HubCacheFixture(root: dir + "/hub")
        try cache.add(repo: "org/shards", commit: commit, from: source, skipping: ["unet/diffusion_pytorch_model.fp16-00002-of-00004.safetensors"])
        let snapshot = try HubCache(root: cache.root).snapshot(try XCTUnwrap(HubModelID("org/shards"))).path
        var request = RenderRequest(prompt: "x")
        request.variant = .plain
        XCTAssertNoThrow(try request.checkVariant(model: ModelReference(path: snapshot)))
        request.variant = .fp16
        XCTAssertThrowsError(try request.checkVariant(model: ModelReference(path: snapshot))) { error in
            XCTAssertEqual("\(error)", "variant: fp16: org/shards@\(commit): the cache lacks unet/diffusion_pytorch_model.fp16-00002-of-00004.safetensors (in \(snapshot)); fetch them with `hf download org/shards --revision \(commit)`")
        }
        // The same folder outside a cache: the shard and its index are named.
        try fm.removeItem(atPath: unet + "/diffusion_pytorch_model.fp16-00003-of-00004.safetensors")
        XCTAssertThrowsError(try request.checkVariant(model: ModelReference(path: source))) { error in
            XCTAssertTrue("\(error)".contains("diffusion_pytorch_model.fp16-00003-of-00004.safetensors: file not found; diffusion_pytorch_model.safetensors.index.fp16.json lists it"), "\(error)")
        }
    }
}
