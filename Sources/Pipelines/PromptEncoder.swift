import Foundation
import Models
import Numerics
import Tokenizer

/// Text conditioning for one prompt: cross-attention embeddings and pooled embeddings, with
/// their negative counterparts when classifier-free guidance is on.
public struct PromptEmbeddings: Sendable {
    /// `[1, 77, sum of hidden sizes]`; with prompt weighting, `[1, 77 * chunks, ...]`.
    public var positive: Tensor
    /// `[1, projection]` from the last text encoder.
    public var pooled: Tensor
    public var negative: Tensor?
    public var negativePooled: Tensor?
}

/// diffusers' SDXL `encode_prompt`: each tokenizer/text-encoder pair encodes its prompt, the
/// penultimate hidden states (or `-(clip_skip + 2)`) are concatenated on the feature axis, and
/// the pooled embedding is text_encoder_2's projection. Negatives use `hidden_states[-2]`, or are
/// zeros when no negative prompt is given and the model sets `force_zeros_for_empty_prompt`.
public struct PromptEncoder: Sendable {
    public struct Pair: Sendable {
        public let tokenizer: CLIPTokenizer
        public let encoder: CLIPTextModel
        /// Textual-inversion tokens with several vectors and what diffusers' `maybe_convert_prompt`
        /// writes in their place (`tok tok_1 tok_2`).
        public var multiVectorTokens: [String: String] = [:]
        public init(tokenizer: CLIPTokenizer, encoder: CLIPTextModel) { self.tokenizer = tokenizer; self.encoder = encoder }

        /// `maybe_convert_prompt`: each multi-vector token in `text` spelled out.
        func converted(_ text: String) -> String {
            var out = text
            for (token, replacement) in multiVectorTokens.sorted(by: { $0.key < $1.key }) where out.contains(token) {
                out = out.replacingOccurrences(of: token, with: replacement)
            }
            return out
        }
    }

    /// (tokenizer, text_encoder) then (tokenizer_2, text_encoder_2); the refiner has only the second.
    public let pairs: [Pair]
    public let forceZerosForEmptyPrompt: Bool

    public init(pairs: [Pair], forceZerosForEmptyPrompt: Bool) {
        self.pairs = pairs
        self.forceZerosForEmptyPrompt = forceZerosForEmptyPrompt
    }

    func encode(_ texts: [String], hiddenIndexFromEnd: Int) throws -> (Tensor, Tensor) {
        var hidden: [Tensor] = []
        var pooled: Tensor?
        for (pair, text) in zip(pairs, texts) {
            let out = pair.encoder([pair.tokenizer.encode(pair.converted(text))])
            let index = out.hiddenStates.count - hiddenIndexFromEnd
            guard index >= 0 else {
                throw RenderError.invalid(parameter: "clip-skip", reason: "\(hiddenIndexFromEnd - 2) skips more layers than the text encoder has (\(out.hiddenStates.count - 1))")
            }
            hidden.append(out.hiddenStates[index])
            if pooled == nil, let embeds = out.textEmbeds { pooled = embeds }
        }
        guard let pooled else { throw RenderError.model("the last text encoder has no text projection (CLIPTextModelWithProjection is needed)") }
        return (concatenateLastAxis(hidden), pooled)
    }

    public func encode(_ request: RenderRequest, guidance: Bool) throws -> PromptEmbeddings {
        if request.promptWeighting != .none {
            return try encodeWeighted(request, syntax: request.promptWeighting, guidance: guidance)
        }
        let prompt2 = (request.prompt2?.isEmpty ?? true) ? request.prompt : request.prompt2!
        let texts = pairs.count == 2 ? [request.prompt, prompt2] : [request.prompt]
        let (positive, pooled) = try encode(texts, hiddenIndexFromEnd: (request.clipSkip ?? 0) + 2)
        var result = PromptEmbeddings(positive: positive, pooled: pooled)
        guard guidance else { return result }
        if request.negativePrompt == nil && forceZerosForEmptyPrompt {
            result.negative = Tensor(zeros: positive.shape)
            result.negativePooled = Tensor(zeros: pooled.shape)
        } else {
            let negative = request.negativePrompt ?? ""
            let negative2 = (request.negativePrompt2?.isEmpty ?? true) ? negative : request.negativePrompt2!
            let (n, np) = try encode(pairs.count == 2 ? [negative, negative2] : [negative], hiddenIndexFromEnd: 2)
            result.negative = n
            result.negativePooled = np
        }
        return result
    }
}
