import Adapters
import Foundation
import Imaging
import ModelFiles
import Models
import RenderQueue
import Tokenizer

/// The parsers of user files, each fed arbitrary bytes: they must return or throw, never crash,
/// hang or allocate without bound. Used by libFuzzer (see Fuzz/README.md) and to replay files.
enum Harness: String, CaseIterable {
    case safetensors, config, spec, image, tokenizer, lora, embedding

    /// A private folder for harnesses that need a path.
    static let folder: String = {
        let dir = (NSTemporaryDirectory() as NSString).appendingPathComponent("kiln-fuzz-\(getpid())")
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }()

    static func file(_ name: String, _ data: Data) -> String {
        let path = (folder as NSString).appendingPathComponent(name)
        FileManager.default.createFile(atPath: path, contents: data)
        return path
    }

    func run(_ data: Data) {
        switch self {
        case .safetensors:
            guard let file = try? SafetensorsFile(data: data, name: "fuzz.safetensors") else { return }
            for name in file.tensorNames.prefix(16) where (file.info(name)?.elementCount ?? .max) <= 1 << 16 {
                _ = try? file.load(name)
            }
        case .config:
            guard let config = try? ConfigFile(path: "fuzz/config.json", data: data) else { return }
            _ = try? UNetConfig(config)
            _ = try? VAEConfig(config)
            _ = try? CLIPTextConfig(config)
        case .spec:
            guard let spec = try? SweepSpec(text: String(decoding: data, as: UTF8.self), limit: 10_000) else { return }
            for i in 0..<min(spec.count, 8) { _ = try? spec.request(at: i) }
        case .image:
            _ = try? ImageFile.read(data: data, name: "fuzz-image")
        case .tokenizer:
            let folder = (Harness.folder as NSString).appendingPathComponent("tokenizer")
            try? FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            FileManager.default.createFile(atPath: folder + "/tokenizer.json", contents: data)
            FileManager.default.createFile(atPath: folder + "/tokenizer_config.json", contents: Data(#"{"pad_token": "!"}"#.utf8))
            if let tokenizer = try? CLIPTokenizer(folder: folder) { _ = tokenizer.encode("a photo of a cat, (snow:1.2) 猫") }
        case .lora:
            if let lora = try? LoRAFile(path: Harness.file("fuzz-lora.safetensors", data)) { _ = lora.modules.count }
        case .embedding:
            _ = try? EmbeddingFile(path: Harness.file("fuzz-embedding.safetensors", data))
        }
    }
}

/// libFuzzer's entry point, for a build linked with libFuzzer's own main: the harness named by
/// `KILN_FUZZ_TARGET` (safetensors when unset or unknown).
@_cdecl("LLVMFuzzerTestOneInput")
public func llvmFuzzerTestOneInput(_ bytes: UnsafePointer<UInt8>?, _ count: Int) -> Int32 {
    let harness = ProcessInfo.processInfo.environment["KILN_FUZZ_TARGET"].flatMap(Harness.init(rawValue:)) ?? .safetensors
    harness.run(bytes.map { Data(bytes: $0, count: count) } ?? Data())
    return 0
}
