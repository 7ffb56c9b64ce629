import Foundation
import KilnTestSupport
import ModelFiles
import XCTest

/// `--variant` picks a pipeline folder's weight files as diffusers' `from_pretrained(variant=)`
/// does (generate_fixtures.py --only variant_rule_check confirms each case against diffusers):
/// fp16 per component where it has fp16 files, plain where not; none plain only.
final class WeightVariantTests: XCTestCase {
    var dir = ""
    let tiny = Fixtures.model("tiny-sdxl-base")  // text_encoder holds plain and fp16 weights, the rest plain
    override func setUpWithError() throws { dir = try Fixtures.temporaryDirectory() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: dir) }

    func copy(removing files: [String] = [], adding extra: [String] = []) throws -> String {
        let folder = dir + "/model-\(UUID().uuidString.prefix(6))"
        try FileManager.default.copyItem(atPath: tiny, toPath: folder)
        for f in files { try FileManager.default.removeItem(atPath: folder + "/" + f) }
        for f in extra { try Data("x".utf8).write(to: URL(fileURLWithPath: folder + "/" + f)) }
        return folder
    }

    func message(_ body: () throws -> Any) -> String {
        do { _ = try body(); return "" } catch { return "\(error)" }
    }

    func testFP16AndNoneLoadDifferentTextEncoderWeights() throws {
        let folder = try DiffusersFolder(path: tiny)
        let half = try folder.weights("text_encoder", variant: .fp16), plain = try folder.weights("text_encoder", variant: .plain)
        XCTAssertEqual(half.dominantDType, .f16)
        XCTAssertEqual(plain.dominantDType, .f32)
        let name = try XCTUnwrap(half.tensorNames.first { $0.hasSuffix("q_proj.weight") })
        let (a, b) = (try half.load(name), try plain.load(name))
        XCTAssertEqual(a.shape, b.shape)
        XCTAssertNotEqual(a.scalars, b.scalars, "fp16 rounding: other weights")
        XCTAssertEqual(try folder.weightFiles("text_encoder", variant: .fp16).path, tiny + "/text_encoder/model.fp16.safetensors")
        // Components without fp16 files load their plain weights under fp16, as diffusers' per-component rule.
        XCTAssertEqual(try folder.weightFiles("unet", variant: .fp16), try folder.weightFiles("unet", variant: .plain))
        XCTAssertEqual(try folder.weightFiles("vae", variant: .fp16).path, tiny + "/vae/diffusion_pytorch_model.safetensors")
        // Unset: plain first.
        XCTAssertEqual(try folder.weightFiles("text_encoder", variant: .automatic).path, tiny + "/text_encoder/model.safetensors")
    }

    func testNoneRefusesAComponentWithOnlyFP16WeightsInOneLine() throws {
        let path = try copy(removing: ["text_encoder/model.safetensors"])
        let folder = try DiffusersFolder(path: path)
        let e = message { try folder.weights("text_encoder", variant: .plain) }
        XCTAssertTrue(e.hasPrefix(path + "/text_encoder: holds only fp16 variant weights (model.fp16.safetensors)"), e)
        XCTAssertTrue(e.contains("variant=None") && e.contains("pass --variant fp16"), e)
        XCTAssertFalse(e.contains("\n"))
        // Unset keeps Kiln's convenience: the fp16 file.
        XCTAssertTrue(try folder.weightFiles("text_encoder", variant: .automatic).isFP16)
        XCTAssertTrue(try folder.weightFiles("text_encoder", variant: .fp16).isFP16)
    }

    func testFP16RefusesAModelWithNoFP16Files() throws {
        let path = try copy(removing: ["text_encoder/model.fp16.safetensors"])
        let e = message { try DiffusersFolder(path: path).weights("unet", variant: .fp16) }
        XCTAssertEqual(e, "\(path): no component has fp16 variant weights (*.fp16.safetensors), so diffusers' variant=\"fp16\" refuses the model; pass --variant none or leave --variant unset")
        XCTAssertNoThrow(try DiffusersFolder(path: path).weights("unet", variant: .plain))
    }

    func testAnyFP16NamedFileMakesAComponentLoadOnlyItsFP16Weights() throws {
        // diffusers gives vae variant="fp16" for this stray file and finds no fp16 weights there.
        let path = try copy(adding: ["vae/notes.fp16.txt"])
        let e = message { try DiffusersFolder(path: path).weights("vae", variant: .fp16) }
        XCTAssertTrue(e.hasPrefix(path + "/vae/diffusion_pytorch_model.fp16.safetensors: file not found"), e)
        XCTAssertTrue(WeightVariant.hasFP16Files(folder: path + "/vae"))
        XCTAssertFalse(WeightVariant.hasFP16Files(folder: path + "/unet"))
        XCTAssertTrue(WeightVariant.hasFP16Files(folder: path + "/text_encoder"))
    }

    func testSnapshotsOfTheHubCacheFollowTheSameRule() throws {
        let cache = try HubCacheFixture(root: dir + "/hub")
        let snapshot = try cache.add(repo: "org/tiny", commit: String(repeating: "c4", count: 20), from: tiny)
        let folder = try DiffusersFolder(path: snapshot)
        XCTAssertEqual(try folder.weightFiles("text_encoder", variant: .fp16).path, snapshot + "/text_encoder/model.fp16.safetensors")
        XCTAssertEqual(try folder.weights("text_encoder", variant: .fp16).dominantDType, .f16, "read through the blob symlinks")
        XCTAssertEqual(try folder.weights("text_encoder", variant: .plain).dominantDType, .f32)
        let only = try cache.add(repo: "org/half", commit: String(repeating: "d5", count: 20), from: tiny, skipping: ["text_encoder/model.safetensors"])
        XCTAssertTrue(message { try DiffusersFolder(path: only).weights("text_encoder", variant: .plain) }.contains("pass --variant fp16"))
    }

    func testVariantNames() {
        XCTAssertEqual(WeightVariant(name: "fp16"), .fp16)
        XCTAssertEqual(WeightVariant(name: " None"), .plain)
        XCTAssertEqual(WeightVariant(name: "auto"), .automatic)
        XCTAssertNil(WeightVariant(name: "bf16"))
    }

    /// A component holding a single file and a shard index: diffusers' ModelMixin (unet, vae)
    /// loads the shards, transformers' CLIP text models the single file.
    func testSingleFileOrShardsAsEachLibraryPrefers() throws {
        let path = try copy()
        let fm = FileManager.default
        try fm.copyItem(atPath: path + "/unet/diffusion_pytorch_model-00001-of-00004.safetensors", toPath: path + "/unet/diffusion_pytorch_model.safetensors")
        try fm.copyItem(atPath: path + "/text_encoder/model.safetensors", toPath: path + "/text_encoder/model-00001-of-00001.safetensors")
        try #"{"metadata": {}, "weight_map": {}}"#.write(toFile: path + "/text_encoder/model.safetensors.index.json", atomically: true, encoding: .utf8)
        let folder = try DiffusersFolder(path: path)
        for variant in [WeightVariant.automatic, .plain, .fp16] {
            XCTAssertEqual(try folder.weightFiles("unet", variant: variant).path, path + "/unet/diffusion_pytorch_model.safetensors.index.json")
            XCTAssertEqual(try folder.weightFiles("text_encoder", variant: variant == .fp16 ? .plain : variant).path, path + "/text_encoder/model.safetensors")
        }
    }
}
