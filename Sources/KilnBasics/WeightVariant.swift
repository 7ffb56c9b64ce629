import Foundation

/// Which weight files of a pipeline folder's components to read.
/// - `automatic` (Kiln's default, `--variant` unset): each component's plain weights, else its
///   fp16 variant. A convenience for folders holding only `*.fp16.*` files; diffusers'
///   `variant=None` refuses those.
/// - `plain` (`none`): diffusers' `variant=None`, plain files only.
/// - `fp16`: diffusers' `variant="fp16"`: a component with any fp16-named file loads its fp16
///   weights and only those, one without loads its plain weights, and a folder where no component
///   has any is refused (`_identify_model_variants` in diffusers' pipeline_loading_utils.py).
public enum WeightVariant: String, Sendable, CaseIterable, Codable {
    case automatic = "auto"
    case plain = "none"
    case fp16 = "fp16"

    /// The variant a name gives: `auto`, `none` or `fp16`.
    public init?(name: String) { self.init(rawValue: name.trimmingCharacters(in: .whitespaces).lowercased()) }

    /// Whether a component folder holds files of the fp16 variant, as diffusers tells: a file whose
    /// name's second dot-separated part starts with `fp16` (`model.fp16.safetensors`,
    /// `diffusion_pytorch_model.fp16-00001-of-00002.safetensors`).
    public static func hasFP16Files(folder: String) -> Bool {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
        return names.contains { name in
            let parts = name.split(separator: ".", omittingEmptySubsequences: false)
            return parts.count > 1 && parts[1].hasPrefix("fp16")
        }
    }
}
