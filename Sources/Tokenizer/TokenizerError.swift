import Foundation

/// Problems reading a tokenizer folder; each message names the file.
public enum TokenizerError: Error, CustomStringConvertible, LocalizedError, Equatable {
    case missingFile(path: String)
    case unreadable(path: String)
    case invalidVocabulary(path: String, reason: String)
    case invalidMerges(path: String, line: Int, reason: String)
    case missingToken(path: String, token: String)

    public var description: String {
        switch self {
        case let .missingFile(path): return "\(path): tokenizer file not found; the tokenizer folder needs vocab.json and merges.txt"
        case let .unreadable(path): return "\(path): cannot be read; check its permissions and that it is not corrupt"
        case let .invalidVocabulary(path, reason): return "\(path): invalid vocabulary (\(reason)); re-download the tokenizer"
        case let .invalidMerges(path, line, reason): return "\(path):\(line): invalid merge rule (\(reason)); re-download the tokenizer"
        case let .missingToken(path, token): return "\(path): the vocabulary has no '\(token)' token, which CLIP needs"
        }
    }

    public var errorDescription: String? { description }
}
