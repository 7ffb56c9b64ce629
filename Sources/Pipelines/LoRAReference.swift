import Adapters
import Foundation
import ModelFiles

extension LoRAReference {
    /// The files opened, each checked against its recorded hash.
    static func open(_ references: [LoRAReference]) throws -> [ScaledLoRA] {
        try references.map { r in
            let data = try InputFiles.readFile(r.file, parameter: "lora", limit: InputFiles.maxLoRABytes)
            let hash = SHA256.hex(data)
            if !r.sha256.isEmpty && hash != r.sha256 { throw AdapterError.changed(path: r.file, expected: r.sha256, found: hash) }
            return ScaledLoRA(file: try LoRAFile(path: r.file), scale: Float(r.scale))
        }
    }
}
