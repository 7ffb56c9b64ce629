import Foundation
import Synchronization

/// CLIP's 49408-token vocabulary built from the merges list Kiln carries as a resource
/// (`Resources/clip-merges.txt.gz`: the first 48894 merges of open_clip's
/// `bpe_simple_vocab_16e6.txt.gz`, MIT licensed, see `Resources/LICENSE-open_clip.txt`), the way
/// open_clip's `SimpleTokenizer` builds it and openai/clip-vit-large-patch14's vocab.json holds
/// it: the 256 byte characters in code point order, the same with `</w>`, the concatenation of
/// each merge in rank order, then `<|startoftext|>` and `<|endoftext|>`. It is what diffusers'
/// `from_single_file` fetches from the Hub for SDXL's two tokenizers.
public enum BundledVocabulary {
    public static let resourceName = "clip-merges.txt"
    public static let resourceExtension = "gz"
    /// `merges[1:49152-256-2+1]` in open_clip: the rules after the header line.
    static let mergeCount = 49152 - 256 - 2
    public static let tokenCount = 49408

    struct Parts: Sendable {
        let vocabulary: [String: Int32]
        let merges: [(String, String)]
    }

    /// Read once per process.
    static let parts: Result<Parts, TokenizerError> = {
        do { return .success(try load()) } catch let e as TokenizerError { return .failure(e) } catch {
            return .failure(.unreadable(path: resourceName + "." + resourceExtension))
        }
    }()

    /// SwiftPM's resource folder for this module, copied beside the executables it builds.
    static let resourceFolder = "Kiln_Tokenizer.resources"

    private static let givenFolder = Mutex<String?>(nil)

    /// A folder to search first (`kiln` passes `KILN_RESOURCES`); set it before the first
    /// tokenizer is made, as the vocabulary is read once per process.
    public static func searchFirst(_ folder: String?) {
        givenFolder.withLock { $0 = folder.flatMap { $0.isEmpty ? nil : $0 } }
    }

    /// The folders searched: the one `searchFirst` gave (`KILN_RESOURCES`), then beside the
    /// running executable (symlinks resolved) and beside the main bundle. SwiftPM's generated
    /// `Bundle.module` is not used: it stops the process when the folder is missing, where Kiln
    /// reports one line instead.
    static var candidates: [String] {
        var folders: [String] = []
        if let custom = givenFolder.withLock({ $0 }) { folders.append(custom) }
        if let executable = CommandLine.arguments.first {
            let resolved = URL(fileURLWithPath: executable).resolvingSymlinksInPath().deletingLastPathComponent()
            folders.append(resolved.appendingPathComponent(resourceFolder).path)
        }
        folders.append(Bundle.main.bundleURL.appendingPathComponent(resourceFolder).path)
        return folders
    }

    /// The resource in the built product, if it is found.
    public static var path: String? {
        candidates.map { ($0 as NSString).appendingPathComponent(resourceName + "." + resourceExtension) }
            .first { FileManager.default.isReadableFile(atPath: $0) }
    }

    static func load() throws -> Parts {
        guard let path else {
            throw TokenizerError.missingFile(path: (candidates.first ?? resourceFolder) + "/" + resourceName + "." + resourceExtension,
                                             hint: "Kiln's bundled CLIP vocabulary is missing; keep the \(resourceFolder) folder beside the kiln executable (or set KILN_RESOURCES to it)")
        }
        let merges = try mergeRules(try TokenizerFile.read(path), path: path)
        func codePoint(_ c: Character) -> UInt32 { c.unicodeScalars.first?.value ?? 0 }
        var tokens = ByteCharacters.table.sorted { codePoint($0) < codePoint($1) }.map(String.init)
        tokens += tokens.map { $0 + BytePairEncoder.endOfWord }
        tokens += merges.map { $0.0 + $0.1 }
        tokens += [CLIPTokenizer.startToken, CLIPTokenizer.endToken]
        var vocabulary: [String: Int32] = [:]
        vocabulary.reserveCapacity(tokens.count)
        for (i, t) in tokens.enumerated() { vocabulary[t] = Int32(i) }
        guard vocabulary.count == tokenCount else {
            throw TokenizerError.invalidVocabulary(path: path, reason: "builds \(vocabulary.count) distinct tokens, not CLIP's \(tokenCount)")
        }
        return Parts(vocabulary: vocabulary, merges: merges)
    }

    /// The `mergeCount` rules after the first line, each `left right`.
    static func mergeRules(_ data: Data, path: String) throws -> [(String, String)] {
        try data.withUnsafeBytes { raw -> [(String, String)] in
            let bytes = raw.bindMemory(to: UInt8.self)
            var merges: [(String, String)] = []
            merges.reserveCapacity(mergeCount)
            var line = 0, start = 0
            var space = -1
            for i in 0...bytes.count {
                if merges.count == mergeCount || (i == bytes.count && start == i) { break }   // done, or no last line
                let b: UInt8 = i < bytes.count ? bytes[i] : 0x0A
                if b == 0x20 && space < 0 { space = i; continue }
                guard b == 0x0A else { continue }
                defer { line += 1; start = i + 1; space = -1 }
                if line == 0 { continue }   // the "#version" header
                guard space > start, space < i - 1,
                      let left = String(bytes: UnsafeBufferPointer(rebasing: bytes[start..<space]), encoding: .utf8),
                      let right = String(bytes: UnsafeBufferPointer(rebasing: bytes[(space + 1)..<i]), encoding: .utf8),
                      !right.contains(" ") else {
                    throw TokenizerError.invalidMerges(path: path, line: line + 1, reason: "expected two symbols separated by one space")
                }
                merges.append((left, right))
            }
            guard merges.count == mergeCount else {
                throw TokenizerError.invalidMerges(path: path, line: line + 1, reason: "the list ends after \(merges.count) of CLIP's \(mergeCount) rules")
            }
            return merges
        }
    }
}

extension CLIPTokenizer {
    /// CLIP's tokenizer from the bundled vocabulary, padding with `padToken`: `<|endoftext|>`
    /// for SDXL's `tokenizer`, `!` for its `tokenizer_2`, as the Hub's SDXL folders configure them.
    public static func bundled(padToken: String, maxLength: Int = 77) throws -> CLIPTokenizer {
        let parts = try BundledVocabulary.parts.get()
        let source = BundledVocabulary.path ?? BundledVocabulary.resourceName
        return try CLIPTokenizer(vocabulary: parts.vocabulary, merges: parts.merges, padToken: padToken,
                                 maxLength: maxLength, source: source)
    }
}
