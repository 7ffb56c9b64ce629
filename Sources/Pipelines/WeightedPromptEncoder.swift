import Foundation
import Models
import Numerics
import Tokenizer

/// compel 2.5.1's `EmbeddingsProvider` for one tokenizer and text encoder, set as `CompelForSDXL`
/// sets it: no truncation (75-token chunks, split at the last sentence end, else phrase end, else
/// word end, as `SplitLongTextMode.SENTENCES`), penultimate hidden states, weights above 1 as
/// `empty + (z - empty) * w`, and weights below 1 by blending in the prompt encoded with that
/// fragment masked out (`DownweightMode.MASK`), by `tan((1 - w) * pi / 2)`.
struct CompelEmbedder {
    let pair: PromptEncoder.Pair
    let emptyZ: Tensor

    init(_ pair: PromptEncoder.Pair) {
        self.pair = pair
        let t = pair.tokenizer
        let ids = [t.startID, t.endID] + Array(repeating: t.padID, count: max(0, t.maxLength - 2))
        emptyZ = CompelEmbedder.penultimate(pair.encoder, ids, mask: nil)
    }

    var chunk: Int { pair.tokenizer.maxLength }
    /// A prompt's chunks (3000 tokens), and its encoder passes (chunks times one plus the
    /// down-weighted fragments), so one job cannot hold a worker for hours on its text.
    static let maxChunks = 40, maxPasses = 400

    static func penultimate(_ encoder: CLIPTextModel, _ ids: [Int32], mask: [Bool]?) -> Tensor {
        let out = encoder([ids], attentionMask: mask.flatMap { $0.allSatisfy { $0 } ? nil : [$0] })
        return out.hiddenStates[out.hiddenStates.count - 2]
    }

    func tokens(_ text: String) -> [Int32] { pair.tokenizer.tokenIDs(pair.converted(text)) }

    /// `get_pooled_embeddings`: the raw text (syntax and all), cut at 77 tokens, through the
    /// projection.
    func pooled(_ rawText: String) throws -> Tensor {
        guard let embeds = pair.encoder([pair.tokenizer.encode(pair.converted(rawText))]).textEmbeds else {
            throw RenderError.model("the last text encoder has no text projection (CLIPTextModelWithProjection is needed)")
        }
        return embeds
    }

    /// `[1, 77 * chunks, hidden]` for the prompt: compel's `_get_conditioning_for_blend` (the
    /// prompts padded to the same chunks, summed by their weights, normalized unless told not to)
    /// and a conjunction's prompts one after the other. The parts between A1111's `BREAK`s are
    /// weighted as prompts of their own (as A1111 weights each chunk alone), one after the other.
    func embed(_ prompt: WeightedPrompt, parameter: String) throws -> Tensor {
        let parts: [[WeightedFragment]]
        switch prompt {
        case .fragments(let f): parts = [f]
        case .and(let p), .blend(let p, _, _): parts = p
        }
        // The whole prompt's work is counted before any of it is done.
        let plans = try parts.map { try segments($0).map { try plan($0, parameter: parameter) } }
        let chunks = plans.joined().reduce(0) { $0 + $1.chunks }, passes = plans.joined().reduce(0) { $0 + $1.passes }
        guard chunks <= CompelEmbedder.maxChunks, passes <= CompelEmbedder.maxPasses else {
            throw RenderError.invalid(parameter: parameter, reason: "needs \(chunks) chunks of \(chunk) tokens and \(passes) text-encoder passes (each down-weighted fragment, blended or joined prompt encodes again); the limits are \(CompelEmbedder.maxChunks) and \(CompelEmbedder.maxPasses): shorten it or down-weight fewer fragments")
        }
        func encode(_ segments: [Plan]) -> Tensor {
            segments.count == 1 ? self.encode(segments[0]) : concatenateTokens(segments.map(self.encode))
        }
        switch prompt {
        case .fragments: return encode(plans[0])
        case .and: return concatenateTokens(plans.map(encode))
        case .blend(_, let weights, let normalize):
            let embeds = plans.map(encode)
            let length = embeds.map { $0.shape[1] }.max() ?? chunk
            let w = weights.map { Float($0) }, total = w.reduce(0, +)
            let out = Tensor(zeros: [1, length, emptyZ.shape[2]])
            for (e, wi) in zip(embeds, w) {
                let scaled = normalize ? wi / total : wi
                let full = padded(e, to: length)
                withExtendedLifetime(full) {
                    let src = full.unsafePointer, o = out.unsafePointer
                    for i in 0..<out.count { o[i] += src[i] * scaled }
                }
            }
            return out
        }
    }

    /// `t` with copies of the empty prompt's chunk appended up to `length` tokens.
    func padded(_ t: Tensor, to length: Int) -> Tensor {
        guard t.shape[1] < length else { return t }
        return concatenateTokens([t] + Array(repeating: emptyZ, count: (length - t.shape[1]) / emptyZ.shape[1]))
    }

    /// One weighted prompt's tokens in chunks, where its fragments sit, and the encoder passes it takes.
    struct Plan {
        var ids: [Int32], weights: [Double], mask: [Bool]
        var texts: [WeightedFragment], ranges: [ClosedRange<Int>?]
        var chunks: Int, passes: Int
    }

    /// The fragments between `BREAK`s. As A1111's `tokenize_line`, each `BREAK` closes a part even
    /// when it is empty (`BREAK BREAK` leaves an empty chunk), and an empty last part after a
    /// `BREAK` adds none.
    func segments(_ fragments: [WeightedFragment]) -> [[WeightedFragment]] {
        var segments: [[WeightedFragment]] = [[]]
        for f in fragments {
            if f.isBreak { segments.append([]) } else { segments[segments.count - 1].append(f) }
        }
        if segments.count > 1, segments.last!.allSatisfy({ tokens($0.text).isEmpty }) { segments.removeLast() }
        return segments
    }

    /// The fragments' chunks and token ranges (fragments without `BREAK`).
    func plan(_ fragments: [WeightedFragment], parameter: String) throws -> Plan {
        let texts = fragments.filter { !$0.isBreak }
        let fragmentIDs = texts.map { tokens($0.text) }
        let weights = zip(fragmentIDs, texts).flatMap { Array(repeating: $1.weight, count: $0.count) }
        let (ids, tokenWeights, mask) = chunked(fragmentIDs.flatMap { $0 }, weights)
        let ranges = try tokenRanges(ids, fragmentIDs, texts: texts.map(\.text), parameter: parameter)
        let chunks = ids.count / chunk
        let passes = chunks * (1 + zip(texts, ranges).filter { $0.0.weight < 1 && $0.1 != nil }.count)
        return Plan(ids: ids, weights: tokenWeights, mask: mask, texts: texts, ranges: ranges, chunks: chunks, passes: passes)
    }

    /// `get_embeddings_for_weighted_prompt_fragments`: `[1, 77 * chunks, hidden]`.
    func encode(_ plan: Plan) -> Tensor {
        let (ids, weights, mask) = (plan.ids, plan.weights, plan.mask)
        let base = weighted(ids, weights, mask)
        var embeddings = [base], lerp: [Float] = [1]
        for (fragment, range) in zip(plan.texts, plan.ranges) where fragment.weight < 1 {
            // compel fails on a down-weighted fragment with no tokens; masking nothing changes nothing.
            guard let range else { continue }
            var without = mask
            for i in range { without[i] = false }
            for i in stride(from: 0, to: without.count, by: chunk) { without[i] = true; without[i + chunk - 1] = true }
            embeddings.append(weighted(ids, weights, without))
            lerp.append(Float(tan((1.0 - max(1e-5, fragment.weight)) * Double.pi / 2)))
        }
        guard embeddings.count > 1 else { return base }
        let total = lerp.reduce(0, +)
        let out = Tensor(zeros: base.shape)
        for (e, w) in zip(embeddings, lerp) {
            let n = w / total
            let o = out.unsafePointer, src = e.unsafePointer
            for i in 0..<out.count { o[i] += src[i] * n }
        }
        return out
    }

    /// `_chunk_and_pad_token_ids`: chunks of start, up to 75 tokens, end, padding.
    func chunked(_ ids: [Int32], _ weights: [Double]) -> (ids: [Int32], weights: [Double], mask: [Bool]) {
        let t = pair.tokenizer, room = chunk - 2
        var rest = ids[...], restWeights = weights[...]
        var out: (ids: [Int32], weights: [Double], mask: [Bool]) = ([], [], [])
        repeat {
            let split = splitPoint(Array(rest), room)
            var c = [t.startID] + rest.prefix(split) + [t.endID]
            var w = [1.0] + restWeights.prefix(split) + [1.0]
            rest = rest.dropFirst(split); restWeights = restWeights.dropFirst(split)
            let pad = chunk - c.count
            c += Array(repeating: t.padID, count: pad); w += Array(repeating: 1.0, count: pad)
            out.ids += c; out.weights += w; out.mask += Array(repeating: true, count: chunk)
        } while !rest.isEmpty
        return out
    }

    /// `_find_next_best_split_point` in SENTENCES mode, falling back to phrases, then words.
    func splitPoint(_ ids: [Int32], _ room: Int) -> Int {
        guard ids.count > room else { return room }
        let names = pair.tokenizer.tokenStrings(Array(ids.prefix(room)))
        let sentences: Set<String> = [".</w>"], phrases: Set<String> = [".</w>", ",</w>", ";</w>", ":</w>"]
        if let i = names.lastIndex(where: sentences.contains) { return i + 1 }
        if let i = names.lastIndex(where: phrases.contains) { return i + 1 }
        if let i = names.lastIndex(where: { $0.hasSuffix("</w>") }) { return i + 1 }
        return room
    }

    /// `build_weighted_embedding_tensor`: each chunk encoded (with its mask), tokens whose
    /// weight is not 1 moved from the empty prompt's embedding by their weight.
    func weighted(_ ids: [Int32], _ weights: [Double], _ mask: [Bool]) -> Tensor {
        var chunks: [Tensor] = []
        for start in stride(from: 0, to: ids.count, by: chunk) {
            let range = start..<(start + chunk)
            let z = CompelEmbedder.penultimate(pair.encoder, Array(ids[range]), mask: Array(mask[range]))
            let w = weights[range].map { Float($0) }
            if !w.allSatisfy({ $0 == 1 }) {
                let h = z.shape[2], zp = z.unsafePointer, ep = emptyZ.unsafePointer
                for (t, wt) in w.enumerated() where wt != 1 {
                    for j in 0..<h { zp[t * h + j] = ep[t * h + j] + (zp[t * h + j] - ep[t * h + j]) * wt }
                }
            }
            chunks.append(z)
        }
        return chunks.count == 1 ? chunks[0] : concatenateTokens(chunks)
    }

    /// `_get_token_ranges_for_fragments`: where each fragment's tokens sit among the chunks
    /// (start, end, padding between chunks skipped), nil for a fragment with no tokens.
    func tokenRanges(_ ids: [Int32], _ fragments: [[Int32]], texts: [String], parameter: String) throws -> [ClosedRange<Int>?] {
        let t = pair.tokenizer
        var start = 0, ranges: [ClosedRange<Int>?] = []
        func lost(_ i: Int) -> RenderError {
            .invalid(parameter: parameter, reason: "the tokens of '\(texts[i])' were not found in the prompt's tokens (compel fails on it too); reword it")
        }
        for (i, f) in fragments.enumerated() {
            guard let first = f.first else { ranges.append(nil); continue }
            while true {
                guard start < ids.count - 1 else { throw lost(i) }
                if ids[start] == first { break }
                start += 1
            }
            var end = start, matched = 0
            while true {
                guard end < ids.count - 1 else { throw lost(i) }
                if ids[end] == f[matched] {
                    matched += 1
                    if matched == f.count { break }
                    end += 1
                } else if [t.endID, t.padID, t.startID].contains(ids[end]) {
                    end += 1
                } else {
                    throw lost(i)
                }
            }
            ranges.append(start...end)
            start = end + 1
        }
        return ranges
    }
}

/// `[1, a, h]` tensors joined on the token axis.
func concatenateTokens(_ parts: [Tensor]) -> Tensor {
    let h = parts[0].shape[2], total = parts.reduce(0) { $0 + $1.shape[1] }
    let out = Tensor(uninitialized: [1, total, h])
    var offset = 0
    for p in parts {
        (out.unsafePointer + offset).update(from: p.unsafePointer, count: p.count)
        offset += p.count
    }
    return out
}

extension PromptEncoder {
    /// `CompelForSDXL` (or, for a refiner's one encoder, one `Compel` with the pooled output):
    /// each encoder's prompt and negative prompt padded to the same number of chunks with the
    /// empty prompt's embedding, then the encoders' embeddings padded alike and joined; the
    /// pooled embeddings from the last encoder's raw texts.
    func encodeWeighted(_ request: RenderRequest, syntax: PromptWeighting, guidance: Bool) throws -> PromptEmbeddings {
        func second(_ a: String?, _ b: String) -> String { (a?.isEmpty ?? true) ? b : a! }
        let positives = pairs.count == 2 ? [(request.prompt, "prompt"), (second(request.prompt2, request.prompt), request.prompt2?.isEmpty ?? true ? "prompt" : "prompt-2")]
                                         : [(request.prompt, "prompt")]
        let zeros = request.negativePrompt == nil && forceZerosForEmptyPrompt
        let negative = request.negativePrompt ?? ""
        let negatives = pairs.count == 2 ? [(negative, "negative-prompt"), (second(request.negativePrompt2, negative), request.negativePrompt2?.isEmpty ?? true ? "negative-prompt" : "negative-prompt-2")]
                                         : [(negative, "negative-prompt")]
        let embedders = pairs.map(CompelEmbedder.init)
        var pos: [Tensor] = [], neg: [Tensor] = []
        for (i, e) in embedders.enumerated() {
            guard let prompt = try syntax.parse(positives[i].0, parameter: positives[i].1) else { continue }
            let p = try e.embed(prompt, parameter: positives[i].1)
            if guidance && !zeros, let nf = try syntax.parse(negatives[i].0, parameter: negatives[i].1) {
                let n = try e.embed(nf, parameter: negatives[i].1)
                let length = max(p.shape[1], n.shape[1])
                pos.append(e.padded(p, to: length)); neg.append(e.padded(n, to: length))
            } else {
                pos.append(p)
            }
        }
        let length = pos.map { $0.shape[1] }.max() ?? 0
        pos = zip(pos, embedders).map { $1.padded($0, to: length) }
        neg = zip(neg, embedders).map { $1.padded($0, to: length) }
        guard let last = embedders.last else { throw RenderError.model("the model has no text encoder") }
        let positive = concatenateLastAxis(pos)
        var result = PromptEmbeddings(positive: positive, pooled: try last.pooled(positives[positives.count - 1].0))
        guard guidance else { return result }
        if zeros {
            result.negative = Tensor(zeros: positive.shape)
            result.negativePooled = Tensor(zeros: result.pooled.shape)
        } else {
            result.negative = concatenateLastAxis(neg)
            result.negativePooled = try last.pooled(negatives[negatives.count - 1].0)
        }
        return result
    }
}
