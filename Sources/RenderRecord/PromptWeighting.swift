import Foundation

/// How a render reads its prompts (`--prompt-weighting`).
public enum PromptWeighting: String, Sendable, Codable, CaseIterable {
    /// diffusers: the text as it is, cut at 77 tokens.
    case none
    /// AUTOMATIC1111's `(x:1.3)`, `[x]`, `BREAK` (`A1111Prompt`), weighted as compel weights.
    case a1111
    /// compel's `x+`, `(x y)1.3`, `x-` (`CompelPrompt`), weighted as compel's `CompelForSDXL` does.
    case compel

    public init(name: String) throws {
        guard let kind = PromptWeighting(rawValue: name.lowercased()) else {
            throw RenderError.invalid(parameter: "prompt-weighting", reason: "must be none, a1111 or compel, not '\(name)'")
        }
        self = kind
    }

    /// The prompt read in this syntax (nil for `none`).
    public func parse(_ text: String, parameter: String) throws -> WeightedPrompt? {
        do {
            switch self {
            case .none: return nil
            case .a1111:
                try A1111Extensions.refuse(text, negative: parameter.hasPrefix("negative"))
                return .fragments(try A1111Prompt.parse(text))
            case .compel: return try CompelPrompt.parse(text)
            }
        } catch RenderError.invalid(_, let reason) {
            throw RenderError.invalid(parameter: parameter, reason: reason)
        }
    }
}

/// A prompt as weighting reads it: weighted fragments, or compel's blend (a weighted sum of the
/// prompts' embeddings) or conjunction (their embeddings one after the other).
public enum WeightedPrompt: Sendable, Equatable {
    case fragments([WeightedFragment])
    case blend([[WeightedFragment]], weights: [Double], normalize: Bool)
    case and([[WeightedFragment]])
}

/// A piece of prompt text and its weight; `breakMarker` is A1111's `BREAK` (a new chunk).
public struct WeightedFragment: Sendable, Equatable, CustomStringConvertible {
    public var text: String
    public var weight: Double
    public private(set) var isBreak = false
    public init(text: String, weight: Double) { self.text = text; self.weight = weight }

    public static let breakMarker: WeightedFragment = { var f = WeightedFragment(text: "BREAK", weight: -1); f.isBreak = true; return f }()
    public var description: String { isBreak ? "BREAK" : "(\(text.debugDescription), \(weight))" }
}
