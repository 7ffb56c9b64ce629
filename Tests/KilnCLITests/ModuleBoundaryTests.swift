import Foundation
import KilnTestSupport
import XCTest

/// Each module's README says what it may import (issue 19): its "May import:" paragraph must list
/// exactly the target's dependencies in Package.swift, its "Must not import:" names must be neither
/// dependencies nor imports, every `import` in its sources must be a dependency (or a module one of
/// its products brings, listed under "Via products:", or a system module), and every source file
/// in a folder with its own README must be named there. Targets without a README of their own are
/// described in a `## name` section of Sources/README.md or Tests/README.md.
final class ModuleBoundaryTests: XCTestCase {
    static let root = URL(fileURLWithPath: Fixtures.root).deletingLastPathComponent().deletingLastPathComponent().path
    /// Modules of the toolchain and the system, importable by any target.
    static let systemModules: Set<String> = [
        "Foundation", "FoundationNetworking", "FoundationEssentials", "Dispatch", "Glibc", "Darwin",
        "Synchronization", "XCTest",
    ]

    func testEveryReadmeListsExactlyItsTargetsDependencies() throws {
        let targets = try PackageManifest.targets(in: Self.root + "/Package.swift")
        XCTAssertGreaterThan(targets.count, 30, "Package.swift's targets were not found")
        var problems: [String] = []
        for target in targets {
            guard let readme = try ModuleReadme.find(for: target, root: Self.root) else {
                problems.append("\(target.name): no README.md in \(target.path) and no `## \(target.name)` section in "
                                + "\(target.path.hasPrefix("Tests/") ? "Tests" : "Sources")/README.md")
                continue
            }
            let declared = Set(target.dependencies)
            if !readme.hasParagraph("May import:") {
                problems.append("\(readme.location) has no \"May import:\" paragraph")
            }
            let listed = readme.names(after: "May import:")
            if listed != declared {
                problems.append("\(readme.location): May import \(listed.sorted()) but Package.swift gives \(target.name) "
                                + "\(declared.sorted()) (missing \(declared.subtracting(listed).sorted()), "
                                + "extra \(listed.subtracting(declared).sorted()))")
            }
            let imports = try SourceImports.modules(in: Self.root + "/" + target.path)
            let viaProducts = readme.names(after: "Via products:")
            for module in viaProducts.intersection(targets.map(\.name)).sorted() {
                problems.append("\(readme.location) lists \(module), a target of this package, under Via products")
            }
            let allowed = declared.union(viaProducts).union(Self.systemModules)
            for (module, file) in imports.sorted(by: { $0.key < $1.key }) where !allowed.contains(module) {
                problems.append("\(file) imports \(module), which \(target.name) does not depend on in Package.swift")
            }
            for banned in readme.names(after: "Must not import:").sorted() {
                if declared.contains(banned) { problems.append("\(target.name) depends on \(banned), which \(readme.location) forbids") }
                if let file = imports[banned] { problems.append("\(file) imports \(banned), which \(readme.location) forbids") }
            }
            if readme.ownFile {
                for file in try SourceImports.sourceFiles(in: Self.root + "/" + target.path)
                where !readme.names(file as NSString) {
                    problems.append("\(target.path)/\(file) is not named in \(readme.location)")
                }
            }
        }
        XCTAssertEqual(problems, [], problems.joined(separator: "\n"))
    }

    /// The parser reads the forms Package.swift uses; a regression here would pass every README.
    func testTheManifestParserReadsNamesProductsAndAliases() throws {
        let manifest = """
            .target(name: "A", dependencies: ["B", .product(name: "Yams", package: "Yams"),
                    // a comment naming "Nothing"
                    .product(name: "Numerics", package: "swift-numerics", moduleAliases: ["Numerics": "SwiftNumerics"])],
                    exclude: ["README.md"], swiftSettings: checked),
            .systemLibrary(name: "CZ", path: "Sources/CZ", pkgConfig: "zlib"),
            .testTarget(name: "ATests", dependencies: ["A"]),
            .target(name: "Support", dependencies: ["A"], path: "Tests/Support"),
            """
        let targets = PackageManifest.targets(parsing: manifest)
        XCTAssertEqual(targets.map(\.name), ["A", "CZ", "ATests", "Support"])
        XCTAssertEqual(targets.map(\.dependencies), [["B", "Yams", "SwiftNumerics"], [], ["A"], ["A"]])
        XCTAssertEqual(targets.map(\.path), ["Sources/A", "Sources/CZ", "Tests/ATests", "Tests/Support"])
        let readme = ModuleReadme(text: "x\n\nMay import: `B`, `Yams`,\n`SwiftNumerics` (an alias).\n\nMust not import: `C`.\n",
                                  location: "r", ownFile: true)
        XCTAssertEqual(readme.names(after: "May import:"), ["B", "Yams", "SwiftNumerics"])
        XCTAssertEqual(readme.names(after: "Must not import:"), ["C"])
        XCTAssertEqual(readme.names(after: "Via products:"), [])
        XCTAssertTrue(readme.hasParagraph("Must not import:"))
        XCTAssertFalse(readme.hasParagraph("Via products:"))
        XCTAssertEqual(SourceImports.imported(in: "import Foundation\n@testable import kiln\n  import struct GRDB.Row\n// import Nope\n"),
                       ["Foundation", "kiln", "GRDB"])
    }
}

/// The targets of Package.swift, read with a small parser of the forms it uses.
enum PackageManifest {
    struct Target: Equatable { var name: String; var dependencies: [String]; var path: String }

    static func targets(in path: String) throws -> [Target] {
        targets(parsing: try String(contentsOfFile: path, encoding: .utf8))
    }

    static func targets(parsing text: String) -> [Target] {
        let text = text.split(separator: "\n", omittingEmptySubsequences: false)
            .map { line in line.range(of: "//").map { String(line[..<$0.lowerBound]) } ?? String(line) }
            .joined(separator: "\n")
        var result: [Target] = []
        for kind in [".target(", ".executableTarget(", ".testTarget(", ".systemLibrary("] {
            var search = text.startIndex..<text.endIndex
            while let found = text.range(of: kind, range: search) {
                let body = balanced(text, from: text.index(before: found.upperBound))
                search = found.upperBound..<text.endIndex
                guard let name = firstString(after: "name:", in: body) else { continue }
                var deps: [String] = []
                if let start = body.range(of: "dependencies:"), let open = body[start.upperBound...].firstIndex(of: "[") {
                    deps = dependencies(in: balanced(body, from: open))
                }
                let path = firstString(after: "path:", in: body) ?? ((kind == ".testTarget(" ? "Tests/" : "Sources/") + name)
                result.append(Target(name: name, dependencies: deps, path: path))
            }
        }
        let order = { (t: Target) in text.range(of: "name: \"\(t.name)\"")?.lowerBound ?? text.endIndex }
        return result.sorted { order($0) < order($1) }
    }

    /// The module names of a dependency list, in source order: plain strings, and `.product(...)`
    /// calls read as their product name or the alias it is given.
    static func dependencies(in list: String) -> [String] {
        var deps: [String] = [], index = list.startIndex
        while index < list.endIndex {
            if list[index...].hasPrefix(".product(") {
                let call = balanced(list, from: list.index(index, offsetBy: ".product".count))
                let module = firstString(after: "name:", in: call) ?? ""
                deps.append(aliases(in: call)[module] ?? module)
                index = list.index(index, offsetBy: ".product".count + call.count)
            } else if list[index] == "\"" {
                let after = list.index(after: index)
                guard let close = list[after...].firstIndex(of: "\"") else { break }
                deps.append(String(list[after..<close]))
                index = list.index(after: close)
            } else {
                index = list.index(after: index)
            }
        }
        return deps
    }

    /// The text from the bracket or parenthesis at `open` to its match, both included.
    static func balanced(_ text: String, from open: String.Index) -> String {
        let closing: Character = text[open] == "[" ? "]" : ")"
        var depth = 0, inString = false, index = open
        while index < text.endIndex {
            let c = text[index]
            if c == "\"" { inString.toggle() }
            if !inString {
                if c == text[open] { depth += 1 }
                if c == closing { depth -= 1; if depth == 0 { return String(text[open...index]) } }
            }
            index = text.index(after: index)
        }
        return String(text[open...])
    }

    static func strings(in text: String) -> [String] {
        text.split(separator: "\"", omittingEmptySubsequences: false).enumerated().filter { $0.offset % 2 == 1 }.map { String($0.element) }
    }

    static func firstString(after label: String, in text: String) -> String? {
        guard let at = text.range(of: label) else { return nil }
        let rest = text[at.upperBound...].drop { $0 == " " }
        guard rest.first == "\"" else { return nil }
        return strings(in: String(rest)).first
    }

    static func aliases(in call: String) -> [String: String] {
        guard let at = call.range(of: "moduleAliases:") else { return [:] }
        let names = strings(in: String(call[at.upperBound...]))
        return Dictionary(stride(from: 0, to: names.count - 1, by: 2).map { (names[$0], names[$0 + 1]) }) { a, _ in a }
    }
}

/// A module's README, or its `## name` section of Sources/README.md or Tests/README.md.
struct ModuleReadme {
    var text: String
    var location: String
    var ownFile: Bool

    static func find(for target: PackageManifest.Target, root: String) throws -> ModuleReadme? {
        let own = target.path + "/README.md"
        if FileManager.default.fileExists(atPath: root + "/" + own) {
            return ModuleReadme(text: try String(contentsOfFile: root + "/" + own, encoding: .utf8), location: own, ownFile: true)
        }
        let shared = (target.path.hasPrefix("Tests/") ? "Tests" : "Sources") + "/README.md"
        guard let text = try? String(contentsOfFile: root + "/" + shared, encoding: .utf8) else { return nil }
        let sections = text.components(separatedBy: "\n## ").dropFirst()
        guard let section = sections.first(where: { $0.hasPrefix(target.name + "\n") || $0.hasPrefix("`\(target.name)`\n") })
        else { return nil }
        return ModuleReadme(text: section, location: "\(shared) (## \(target.name))", ownFile: false)
    }

    /// Whether a file is named in backquotes, alone or at the end of a path.
    func names(_ file: NSString) -> Bool {
        text.contains("`\(file.lastPathComponent)`") || text.contains("/\(file.lastPathComponent)`")
    }

    /// Whether a paragraph starts with `label`.
    func hasParagraph(_ label: String) -> Bool { text.hasPrefix(label) || text.contains("\n" + label) }

    /// The backquoted names of the paragraph that starts with `label` (up to the next blank line).
    func names(after label: String) -> Set<String> {
        guard let start = text.range(of: "\n" + label) ?? (text.hasPrefix(label) ? text.range(of: label) : nil)
        else { return [] }
        let paragraph = text[start.upperBound...].components(separatedBy: "\n\n")[0]
        let parts = paragraph.split(separator: "`", omittingEmptySubsequences: false)
        return Set(parts.enumerated().filter { $0.offset % 2 == 1 }.map { String($0.element) })
    }
}

/// `import` lines of a folder's Swift files, and the source files it holds.
enum SourceImports {
    /// Each imported module with one file (relative to the repository) that imports it.
    static func modules(in folder: String) throws -> [String: String] {
        var result: [String: String] = [:]
        for file in try sourceFiles(in: folder) where file.hasSuffix(".swift") {
            let text = try String(contentsOfFile: folder + "/" + file, encoding: .utf8)
            for module in imported(in: text) where result[module] == nil {
                result[module] = String((folder + "/" + file).dropFirst(ModuleBoundaryTests.root.count + 1))
            }
        }
        return result
    }

    static func imported(in text: String) -> [String] {
        let kinds: Set<String> = ["struct", "class", "enum", "protocol", "typealias", "func", "var", "let"]
        return text.split(separator: "\n").compactMap { line in
            var words = line.split(separator: " ").map(String.init).drop { $0.hasPrefix("@") }
            guard words.first == "import" else { return nil }
            words = words.dropFirst()
            if let kind = words.first, kinds.contains(kind) { words = words.dropFirst() }
            return words.first.map { String($0.prefix { $0 != "." }) }
        }
    }

    /// Swift and C files under the folder, relative to it, sorted.
    static func sourceFiles(in folder: String) throws -> [String] {
        guard let walker = FileManager.default.enumerator(atPath: folder) else { return [] }
        return walker.compactMap { $0 as? String }
            .filter { $0.hasSuffix(".swift") || $0.hasSuffix(".c") || $0.hasSuffix(".h") }.sorted()
    }
}
