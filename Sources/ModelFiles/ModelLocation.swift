import Foundation

/// Where `--model`, `--refiner` or a sweep's `model` points: a path, or a Hugging Face Hub id
/// resolved from the local cache. The rule:
/// 1. an existing file or folder always wins (relative to `folder`);
/// 2. otherwise an argument shaped as a Hub id (`HubModelID`: `org/name[@revision]`, exactly one
///    `/`, no leading `/`, `./` or `~`) is looked up in the cache, and when it is not there the
///    one-line error says both: no such folder, not in the cache, and the `hf download` command;
/// 3. anything else is a path, made absolute, and fails later as a missing file.
public enum ModelLocation {
    /// The absolute path to render from: the argument's, or the snapshot folder of a Hub id
    /// (`.../models--org--name/snapshots/COMMIT`, which a cache that moves on never changes).
    public static func resolve(_ argument: String, relativeTo folder: String,
                               cache: HubCache = HubCache()) throws -> String {
        let path = argument.hasPrefix("/") ? argument : (folder as NSString).appendingPathComponent(argument)
        if FileManager.default.fileExists(atPath: path) { return path }
        guard !argument.hasPrefix("."), !argument.hasPrefix("~"), let id = HubModelID(argument) else { return path }
        return try cache.snapshot(id).path
    }

    /// The absolute path of a file argument (`--lora`): an existing path, or `org/name[@revision]:FILE`
    /// (FILE a path inside the repo, no `..`), the file in that repo's snapshot in the cache.
    public static func resolveFile(_ argument: String, relativeTo folder: String,
                                   cache: HubCache = HubCache()) throws -> String {
        let path = argument.hasPrefix("/") ? argument : (folder as NSString).appendingPathComponent(argument)
        if FileManager.default.fileExists(atPath: path) { return path }
        guard !argument.hasPrefix("."), !argument.hasPrefix("~"), let colon = argument.firstIndex(of: ":"),
              let id = HubModelID(String(argument[..<colon])) else { return path }
        let file = String(argument[argument.index(after: colon)...])
        let parts = file.split(separator: "/", omittingEmptySubsequences: false)
        guard !file.hasPrefix("/"), parts.allSatisfy({ !$0.isEmpty && $0 != "." && $0 != ".." }) else { return path }
        return try cache.file(file, of: id)
    }

    /// The absolute path of one component (`--unet`): an existing file or folder, `org/name[@revision]:PATH`
    /// (a file or folder inside the repo), or `org/name[@revision]`, the repo's snapshot folder itself
    /// (a repo holding one component, as latent-consistency/lcm-sdxl's UNet).
    public static func resolveComponent(_ argument: String, relativeTo folder: String,
                                        cache: HubCache = HubCache()) throws -> String {
        let path = argument.hasPrefix("/") ? argument : (folder as NSString).appendingPathComponent(argument)
        if FileManager.default.fileExists(atPath: path) { return path }
        if !argument.hasPrefix("."), !argument.hasPrefix("~"), !argument.contains(":"), let id = HubModelID(argument) {
            return try cache.repoSnapshot(id).path
        }
        return try resolveFile(argument, relativeTo: folder, cache: cache)
    }
}
