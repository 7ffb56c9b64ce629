import KilnTestSupport
import ModelFiles
import Models
import Numerics
import XCTest

/// Original-layout single-file checkpoints: the same networks as the diffusers folder.
final class SingleFileTests: XCTestCase {
    let baseFile = Fixtures.model("tiny-sdxl-base-single-file.safetensors")

    func testBaseSingleFileEqualsFolderBitForBit() throws {
        let folder = try SDXLModelFiles(path: Fixtures.model("tiny-sdxl-base"))
        let single = try SDXLModelFiles(path: baseFile, configFolder: Fixtures.model("tiny-sdxl-base"))
        guard case .singleFile(let checkpoint, _) = single.layout else { return XCTFail("not read as a single file") }
        XCTAssertEqual(checkpoint.kind, .base)

        let tokenizer = try folder.tokenizer("tokenizer")
        let ids = [tokenizer.encode("a lighthouse at dusk"), tokenizer.encode("")]
        for name in ["text_encoder", "text_encoder_2"] {
            let a = try folder.textEncoder(name)(ids), b = try single.textEncoder(name)(ids)
            XCTAssertTrue(a.hiddenStates[a.hiddenStates.count - 2].scalars == b.hiddenStates[b.hiddenStates.count - 2].scalars, name)
            XCTAssertTrue(a.pooled.scalars == b.pooled.scalars, name)
            XCTAssertTrue(a.textEmbeds?.scalars == b.textEmbeds?.scalars, name)
        }

        let e = try Expected("base-unet")
        let ids6 = try e.tensor("time_ids")
        let conditioning = UNetConditioning(encoderHiddenStates: try e.tensor("encoder_hidden_states"), textEmbeds: try e.tensor("text_embeds"),
                                            timeIDs: (0..<2).map { b in (0..<6).map { ids6[flat: b * 6 + $0] } })
        let sample = try e.image("sample")
        let folderNoise = try folder.unet()(sample, timestep: 681, conditioning: conditioning)
        let singleNoise = try single.unet()(sample, timestep: 681, conditioning: conditioning)
        XCTAssertTrue(folderNoise.scalars == singleNoise.scalars, "unet")

        let v = try Expected("base-vae")
        let (fv, sv) = (try folder.vae(), try single.vae())
        XCTAssertTrue(fv.decode(try v.image("latents")).scalars == sv.decode(try v.image("latents")).scalars, "vae decoder")
        XCTAssertTrue(fv.encode(try v.image("image")).mean.scalars == sv.encode(try v.image("image")).mean.scalars, "vae encoder")
    }

    /// The fp16 refiner checkpoint against diffusers' `from_single_file` on the same file.
    func testRefinerSingleFileMatchesDiffusers() throws {
        let files = try SDXLModelFiles(path: Fixtures.model("tiny-sdxl-refiner-single-file.fp16.safetensors"),
                                       configFolder: Fixtures.model("tiny-sdxl-refiner"))
        guard case .singleFile(let checkpoint, _) = files.layout else { return XCTFail("not read as a single file") }
        XCTAssertEqual(checkpoint.kind, .refiner)
        XCTAssertFalse(files.components.contains { $0.name == "text_encoder" })
        let e = try Expected("refiner-single-file")
        let idTensor = try e.tensor("input_ids")
        let ids = (0..<2).map { b in (0..<77).map { Int32(idTensor[flat: b * 77 + $0]) } }
        let out = try files.textEncoder("text_encoder_2")(ids)
        XCTAssertLessThanOrEqual(out.hiddenStates[out.hiddenStates.count - 2].relativeError(to: try e.tensor("hidden_states.-2")), 1e-4)
        XCTAssertLessThanOrEqual(try XCTUnwrap(out.textEmbeds).relativeError(to: try e.tensor("text_embeds_out")), 1e-4)

        let t = try e.tensor("time_ids")
        let conditioning = UNetConditioning(encoderHiddenStates: try e.tensor("encoder_hidden_states"), textEmbeds: try e.tensor("text_embeds"),
                                            timeIDs: [(0..<5).map { t[flat: $0] }])
        let noise = try files.unet()(try e.image("sample"), timestep: 300, conditioning: conditioning)
        XCTAssertLessThanOrEqual(noise.relativeError(to: try e.image("out")), 1e-4)
    }

    func testNotAnSDXLCheckpoint() throws {
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let p = dir + "/other.safetensors"
        try SafetensorsWriter.data([("weight", Tensor(zeros: [2]))]).write(to: URL(fileURLWithPath: p))
        XCTAssertThrowsError(try SDXLModelFiles(path: p)) { XCTAssertTrue("\($0)".contains("not an SDXL checkpoint"), "\($0)") }
        XCTAssertThrowsError(try SDXLModelFiles(path: dir + "/model.ckpt")) { XCTAssertTrue("\($0)".contains("not found"), "\($0)") }
        try Data("x".utf8).write(to: URL(fileURLWithPath: dir + "/model.ckpt"))
        XCTAssertThrowsError(try SDXLModelFiles(path: dir + "/model.ckpt")) { XCTAssertTrue("\($0)".contains("pickled"), "\($0)") }
    }

    func testPublishedConfigsAreUsedWithoutAConfigFolder() throws {
        let files = try SDXLModelFiles(path: baseFile)
        XCTAssertEqual(try UNetConfig(try files.config("unet")).blockOutChannels, [320, 640, 1280])
        XCTAssertEqual(try UNetConfig(try files.config("unet")).transformerLayers, [1, 2, 10])
        // The tiny weights contradict the published config, and the message says so.
        XCTAssertThrowsError(try files.unet()) { XCTAssertTrue("\($0)".contains("but the config implies"), "\($0)") }
        // The tokenizers come from Kiln's bundled CLIP vocabulary (SingleFileWithoutConfigTests).
        XCTAssertEqual(try files.tokenizer("tokenizer").vocabularySize, 49408)
    }
}
