import Foundation

/// Paths of the committed fixtures made by `Tests/Fixtures/generate_fixtures.py`.
public enum Fixtures {
    public static let root: String = {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures").path
    }()

    public static func path(_ relative: String) -> String { (root as NSString).appendingPathComponent(relative) }
    public static func model(_ name: String) -> String { path("models/\(name)") }
    public static func expected(_ name: String) -> String { path("expected/\(name)") }

    /// A fresh temporary directory, removed by the caller.
    public static func temporaryDirectory() throws -> String {
        let dir = (NSTemporaryDirectory() as NSString).appendingPathComponent("kiln-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }
}
