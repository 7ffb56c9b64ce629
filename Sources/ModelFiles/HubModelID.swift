import Foundation

/// A model named by its Hugging Face Hub id, `org/name` or `org/name@revision`, as
/// `--model`, `--refiner` and a sweep's `model` accept it. Only the shape is checked here:
/// exactly one `/`, no leading `/`, `./`, `../` or `~`, and huggingface_hub's repo-id rules for
/// each half (letters, digits, `-`, `_`, `.`; not starting or ending with `-` or `.`; no `--` or
/// `..`; at most 96 characters in all). Whether an argument is a path or a Hub id is decided by
/// `ModelLocation`.
public struct HubModelID: Sendable, Equatable, CustomStringConvertible {
    /// `org/name`.
    public let repo: String
    /// The revision after `@` (a branch, tag or 40-hex commit), nil for the default `main`.
    public let revision: String?

    public init?(_ argument: String) {
        let parts = argument.split(separator: "@", maxSplits: 1, omittingEmptySubsequences: false)
        let repo = String(parts[0])
        let halves = repo.split(separator: "/", omittingEmptySubsequences: false)
        guard halves.count == 2, repo.count <= 96, halves.allSatisfy({ HubModelID.validName(String($0)) }) else { return nil }
        if parts.count == 2 {
            let revision = String(parts[1])
            guard HubModelID.validRevision(revision) else { return nil }
            self.revision = revision
        } else {
            revision = nil
        }
        self.repo = repo
    }

    static func validName(_ name: String) -> Bool {
        let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.")
        guard !name.isEmpty, name.allSatisfy(allowed.contains) else { return false }
        guard let first = name.first, let last = name.last, !"-.".contains(first), !"-.".contains(last) else { return false }
        return !name.contains("--") && !name.contains("..")
    }

    /// Branch, tag or commit: no empty, `.` or `..` path component (it names a file under refs/).
    static func validRevision(_ revision: String) -> Bool {
        let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./")
        guard !revision.isEmpty, revision.allSatisfy(allowed.contains) else { return false }
        return revision.split(separator: "/", omittingEmptySubsequences: false).allSatisfy { !$0.isEmpty && $0 != "." && $0 != ".." }
    }

    /// Whether `text` is a full commit hash (40 lowercase hex digits), which names a snapshot directly.
    public static func isCommit(_ text: String) -> Bool {
        text.utf8.count == 40 && text.utf8.allSatisfy { (48...57).contains($0) || (97...102).contains($0) }
    }

    /// The cache folder huggingface_hub keeps the repo in: `models--org--name`.
    public var folderName: String { "models--" + repo.replacingOccurrences(of: "/", with: "--") }

    /// The command that fetches the repo (at the revision given) into the cache.
    public var downloadCommand: String { "hf download \(repo)" + (revision.map { " --revision \($0)" } ?? "") }

    public var description: String { repo + (revision.map { "@\($0)" } ?? "") }
}
