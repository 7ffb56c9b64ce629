/// CLIP's (and GPT-2's) reversible mapping from the 256 byte values to printable characters.
enum ByteCharacters {
    static let table: [Character] = {
        var printable = Array(33...126) + Array(161...172) + Array(174...255)
        var chars = printable
        var extra = 0
        for b in 0..<256 where !printable.contains(b) {
            printable.append(b)
            chars.append(256 + extra)
            extra += 1
        }
        var table = [Character](repeating: " ", count: 256)
        for (b, c) in zip(printable, chars) { table[b] = Character(Unicode.Scalar(UInt32(c))!) }
        return table
    }()
}

/// Byte-pair merge rules ranked by their line in merges.txt, applied to one pre-token.
struct BytePairEncoder: Sendable {
    let ranks: [String: Int]   // "left right" -> rank
    static let endOfWord = "</w>"

    /// Splits a pre-token into vocabulary symbols: bytes mapped to characters, the last one
    /// marked with `</w>`, then the lowest-ranked adjacent pair merged until none applies.
    func symbols(for piece: String) -> [String] {
        var word = piece.utf8.map { String(ByteCharacters.table[Int($0)]) }
        guard !word.isEmpty else { return [] }
        word[word.count - 1] += BytePairEncoder.endOfWord
        while word.count > 1 {
            var best: (rank: Int, left: String, right: String)? = nil
            for i in 0..<(word.count - 1) {
                if let r = ranks[word[i] + " " + word[i + 1]], best == nil || r < best!.rank {
                    best = (r, word[i], word[i + 1])
                }
            }
            guard let pair = best else { break }
            var merged: [String] = []
            merged.reserveCapacity(word.count)
            var i = 0
            while i < word.count {
                if i < word.count - 1 && word[i] == pair.left && word[i + 1] == pair.right {
                    merged.append(pair.left + pair.right)
                    i += 2
                } else {
                    merged.append(word[i])
                    i += 1
                }
            }
            word = merged
        }
        return word
    }
}
