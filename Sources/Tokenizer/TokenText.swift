import Foundation

extension CLIPTokenizer {
    /// Each id's token as the vocabulary spells it (transformers' `convert_ids_to_tokens`:
    /// byte characters, `</w>` ending a word); an id the tokenizer does not know gives "".
    public func tokenStrings(_ ids: [Int32]) -> [String] {
        var names: [Int32: String] = [:]
        let wanted = Set(ids)
        for (token, id) in vocabulary where wanted.contains(id) { names[id] = token }
        for token in addedTokens where wanted.contains(token.id) && names[token.id] == nil { names[token.id] = token.content }
        return ids.map { names[$0] ?? "" }
    }

    /// The text of `ids` as transformers' `decode` gives it for CLIP: tokens joined, bytes
    /// restored, `</w>` as a space, trimmed.
    public func decode(_ ids: [Int32]) -> String {
        var byteOf: [Character: UInt8] = [:]
        for (b, c) in ByteCharacters.table.enumerated() { byteOf[c] = UInt8(b) }
        var bytes: [UInt8] = []
        for token in tokenStrings(ids) {
            if addedTokens.contains(where: { $0.content == token }) {
                bytes += Array(token.utf8)
                continue
            }
            let word = token.hasSuffix(BytePairEncoder.endOfWord) ? String(token.dropLast(BytePairEncoder.endOfWord.count)) : token
            for c in word { if let b = byteOf[c] { bytes.append(b) } else { bytes += Array(String(c).utf8) } }
            if word.count != token.count { bytes.append(0x20) }
        }
        return String(decoding: bytes, as: UTF8.self).trimmingCharacters(in: .whitespaces)
    }
}
