import Adapters
import Foundation
import ModelFiles
import Models
import Tokenizer

extension PromptEncoder {
    /// The encoder pairs with textual inversions loaded as diffusers' `load_textual_inversion`
    /// loads them: each table goes to the encoder it names (`clip_l`, `clip_g`) or whose width
    /// it has, its vectors become the tokens `tok`, `tok_1`, ... with the next ids, and those
    /// rows are appended to the encoder's token embeddings.
    static func adding(_ embeddings: [EmbeddingReference], to pairs: [Pair]) throws -> [Pair] {
        var pairs = pairs
        for reference in embeddings {
            let data = try InputFiles.readFile(reference.file, parameter: "embedding")
            let hash = SHA256.hex(data)
            if !reference.sha256.isEmpty && hash != reference.sha256 {
                throw AdapterError.changed(path: reference.file, expected: reference.sha256, found: hash)
            }
            let file = try EmbeddingFile(path: reference.file)
            var used = false
            for (i, pair) in pairs.enumerated() {
                let name = pairs.count == 2 && i == 0 ? "clip_l" : "clip_g"
                guard let table = file.table(for: name, width: pair.encoder.config.hiddenSize) else { continue }
                let tokens = EmbeddingFile.tokens(reference.token, count: table.shape[0])
                let tokenizer = try pair.tokenizer.addingTokens(tokens)
                let first = pair.encoder.config.vocabularySize
                let ids = tokens.map { t in tokenizer.addedTokens.first { $0.content == t }?.id ?? -1 }
                guard ids == (0..<tokens.count).map({ Int32(first + $0) }) else {
                    throw RenderError.invalid(parameter: "embedding", reason: "\(reference.file): token '\(reference.token)' is already known to the tokenizer or its ids do not follow the encoder's \(first) embeddings; choose another token with FILE:TOKEN")
                }
                var next = Pair(tokenizer: tokenizer, encoder: try pair.encoder.addingTokenEmbeddings(table))
                next.multiVectorTokens = pair.multiVectorTokens
                if tokens.count > 1 { next.multiVectorTokens[reference.token] = tokens.joined(separator: " ") }
                pairs[i] = next
                used = true
            }
            guard used else {
                let widths = file.tables.map { "\($0.key) \($0.value.shape[1])" }.sorted().joined(separator: ", ")
                throw RenderError.invalid(parameter: "embedding", reason: "\(reference.file): its width (\(widths)) fits neither text encoder (\(pairs.map { String($0.encoder.config.hiddenSize) }.joined(separator: ", ")))")
            }
        }
        return pairs
    }
}
