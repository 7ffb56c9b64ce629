import Foundation

/// Problems reading a tokenizer folder or file; each message is one line that names the file and
/// says what to do.
public enum TokenizerError: Error, CustomStringConvertible, LocalizedError, Equatable {
    case missingFile(path: String, hint: String)
    case unreadable(path: String)
    case invalidJSON(path: String, reason: String)
    case invalidVocabulary(path: String, reason: String)
    case invalidMerges(path: String, line: Int, reason: String)
    case mergeOutOfVocabulary(path: String, merge: String, token: String)
    case missingToken(path: String, token: String)
    case unsupportedModel(path: String, type: String)
    case unsupportedOption(path: String, option: String, value: String, expected: String)
    case tooLarge(path: String, what: String, limit: Int)

    public var description: String {
        switch self {
        case let .missingFile(path, hint):
            return "\(path): tokenizer file not found; \(hint)"
        case let .unreadable(path):
            return "\(path): cannot be read; check its permissions and that it is not corrupt"
        case let .invalidJSON(path, reason):
            return "\(path): invalid tokenizer JSON (\(reason)); re-download the tokenizer"
        case let .invalidVocabulary(path, reason):
            return "\(path): invalid vocabulary (\(reason)); re-download the tokenizer"
        case let .invalidMerges(path, line, reason):
            return "\(path):\(line): invalid merge rule (\(reason)); re-download the tokenizer"
        case let .mergeOutOfVocabulary(path, merge, token):
            return "\(path): merge rule '\(merge)' needs '\(token)', which is not in the vocabulary; vocabulary and merges do not belong together"
        case let .missingToken(path, token):
            return "\(path): the vocabulary has no '\(token)' token, which CLIP needs"
        case let .unsupportedModel(path, type):
            return "\(path): the tokenizer model is \(type), not BPE; Kiln reads CLIP's byte-level BPE tokenizer only"
        case let .unsupportedOption(path, option, value, expected):
            return "\(path): BPE option '\(option)' is \(value), where CLIP's tokenizer has \(expected); Kiln reads CLIP's byte-level BPE tokenizer only"
        case let .tooLarge(path, what, limit):
            return "\(path): \(what) exceeds Kiln's limit of \(limit); the file is corrupt or not a CLIP tokenizer (CLIP has 49408 tokens)"
        }
    }

    public var errorDescription: String? { description }
}
