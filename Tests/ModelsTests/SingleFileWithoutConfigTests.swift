import Foundation
import KilnTestSupport
import ModelFiles
import Models
import Numerics
import Tokenizer
import XCTest

/// Single-file checkpoints as `from_single_file` loads them with the Hub's configs: the bundled
/// CLIP vocabulary for both tokenizers, the kind told from the tensors, pickles refused.
final class SingleFileWithoutConfigTests: XCTestCase {
    var dir = ""
    override func setUpWithError() throws { dir = try Fixtures.temporaryDirectory() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: dir) }

    func testBundledTokenizersPadAsTheHubsFolders() throws {
        let base = try SDXLModelFiles(path: Fixtures.model("tiny-sdxl-base-single-file.safetensors"))
        let t1 = try base.tokenizer("tokenizer"), t2 = try base.tokenizer("tokenizer_2")
        XCTAssertEqual(t1.padToken, "<|endoftext|>")
        XCTAssertEqual(t1.encode("a cat").last, 49407)
        XCTAssertEqual(t2.padToken, "!")
        XCTAssertEqual(t2.encode("a cat").last, 0)
        XCTAssertEqual(t2.encode("a cat!").prefix(5), [49406, 320, 2368, 0, 49407])   // "!" is special, as in transformers
        let refiner = try SDXLModelFiles(path: Fixtures.model("tiny-sdxl-refiner-single-file.fp16.safetensors"))
        XCTAssertEqual(try refiner.tokenizer("tokenizer_2").padToken, "!")
        // A config folder that has tokenizers keeps providing them.
        let withConfig = try SDXLModelFiles(path: Fixtures.model("tiny-sdxl-base-single-file.safetensors"), configFolder: Fixtures.model("tiny-sdxl-base"))
        XCTAssertEqual(try withConfig.tokenizer("tokenizer").vocabularySize, 1000)
    }

    /// The tiny base at CLIP's full vocabulary: a single file tokenized with the bundled
    /// vocabulary gives the same ids and text-encoder outputs as the folder with tokenizer files.
    func testFullVocabularySingleFileEqualsTheFolder() throws {
        let m = try SingleFileFixtures.fullVocabularyModel(in: dir)
        let single = try SDXLModelFiles(path: m.singleFile, configFolder: m.configs)
        let folder = try SDXLModelFiles(path: m.folder)
        let prompts = ["a photo of an astronaut riding a horse on mars", "café naïve, 日本の風景 🐱", "wow!! (snow:1.2)", ""]
        for (tokenizer, encoder) in [("tokenizer", "text_encoder"), ("tokenizer_2", "text_encoder_2")] {
            let a = try single.tokenizer(tokenizer), b = try folder.tokenizer(tokenizer)
            let ids = prompts.map(a.encode)
            XCTAssertEqual(ids, prompts.map(b.encode), tokenizer)
            XCTAssertGreaterThan(ids.joined().max() ?? 0, 40000, "ids past the tiny vocabulary are used")
            let x = try single.textEncoder(encoder)(ids), y = try folder.textEncoder(encoder)(ids)
            XCTAssertTrue(x.hiddenStates[x.hiddenStates.count - 2].scalars == y.hiddenStates[y.hiddenStates.count - 2].scalars, encoder)
            XCTAssertTrue(x.pooled.scalars == y.pooled.scalars, encoder)
        }
    }

    /// base, refiner and 9-channel inpainting single files told apart from their tensors; the
    /// inpainting one takes the published base config with in_channels 9.
    func testInpaintingSingleFileIsToldFromItsTensors() throws {
        let path = dir + "/inpaint.safetensors"
        try SingleFileFixtures.inpaintingSingleFile(at: path)
        let files = try SDXLModelFiles(path: path)
        guard case .singleFile(let checkpoint, _) = files.layout else { return XCTFail("not read as a single file") }
        XCTAssertEqual(checkpoint.kind, .inpaint)
        XCTAssertEqual(try UNetConfig(try files.config("unet")).inChannels, 9)
        XCTAssertEqual(try UNetConfig(try files.config("unet")).blockOutChannels, [320, 640, 1280])
        XCTAssertEqual(try SingleFileCheckpoint(path: Fixtures.model("tiny-sdxl-base-single-file.safetensors")).kind, .base)
        XCTAssertEqual(try SingleFileCheckpoint(path: Fixtures.model("tiny-sdxl-refiner-single-file.fp16.safetensors")).kind, .refiner)

        // With the tiny configs, its UNet is the inpainting folder's, bit for bit.
        let single = try SDXLModelFiles(path: path, configFolder: Fixtures.model("tiny-sdxl-inpaint"))
        let folder = try SDXLModelFiles(path: Fixtures.model("tiny-sdxl-inpaint"))
        let e = try Expected("inpaint-unet")
        let ids = try e.tensor("time_ids")
        let conditioning = UNetConditioning(encoderHiddenStates: try e.tensor("encoder_hidden_states"), textEmbeds: try e.tensor("text_embeds"),
                                            timeIDs: (0..<2).map { b in (0..<6).map { ids[flat: b * 6 + $0] } })
        let sample = try e.image("sample")
        XCTAssertTrue(try single.unet()(sample, timestep: 681, conditioning: conditioning).scalars
                      == (try folder.unet()(sample, timestep: 681, conditioning: conditioning).scalars))
    }

    /// torch.save output is refused from its first bytes, whatever the file is called.
    func testPickledCheckpointsAreRefusedFromTheirBytes() throws {
        for (name, bytes, container) in [("zipped.safetensors", [0x50, 0x4B, 0x03, 0x04, 0, 0, 0, 0] as [UInt8], "zip archive"),
                                         ("legacy.safetensors", [0x80, 0x02, 0x8A, 0x0A, 0x6C, 0xFC, 0x9C, 0x46], "pickle stream"),
                                         ("model.ckpt", Array("not a pickle".utf8), "file")] {
            let path = dir + "/" + name
            try Data(bytes + [UInt8](repeating: 0, count: 64)).write(to: URL(fileURLWithPath: path))
            XCTAssertThrowsError(try SDXLModelFiles(path: path)) { error in
                let message = "\(error)"
                XCTAssertTrue(message.hasPrefix(path + ": is a pickled PyTorch checkpoint (\(container))"), message)
                XCTAssertTrue(message.contains("convert it to .safetensors"), message)
                XCTAssertFalse(message.contains("\n"), message)
            }
        }
    }
}
