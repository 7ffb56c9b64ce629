import Foundation
import XCTest

/// Issue 19, "a light queue": the queue, its backends and the gallery hold render requests without
/// the modules that compute. Package.swift's graph, read as `ModuleBoundaryTests` reads it, is
/// walked from each of them through every target dependency, however deep.
final class LightQueueTests: XCTestCase {
    /// The targets that must stay light, and what they must not reach.
    static let light = ["RenderQueue", "SQLiteQueue", "PostgresQueue", "QueueBackends", "Gallery"]
    static let heavy = ["Numerics", "Models", "Pipelines", "Schedulers", "Adapters", "CBLAS", "CKilnKernels"]

    func testTheQueueItsBackendsAndTheGalleryReachNoNumerics() throws {
        let targets = try PackageManifest.targets(in: ModuleBoundaryTests.root + "/Package.swift")
        let problems = Self.paths(from: Self.light, to: Self.heavy, in: targets)
        XCTAssertEqual(problems, [], problems.joined(separator: "\n"))
    }

    /// The walk finds a module however deep it lies, and names the way there.
    func testTheWalkFindsIndirectDependencies() {
        let targets = PackageManifest.targets(parsing: """
            .target(name: "Q", dependencies: ["R", .product(name: "Yams", package: "Yams")]),
            .target(name: "R", dependencies: ["B"]),
            .target(name: "B", dependencies: ["Numerics"]),
            .target(name: "L", dependencies: ["R2"]),
            .target(name: "R2", dependencies: []),
            .target(name: "Numerics", dependencies: []),
            """)
        XCTAssertEqual(Self.paths(from: ["Q", "L", "Gone"], to: ["Numerics"], in: targets),
                       ["Q depends on Numerics: Q -> R -> B -> Numerics", "Gone is not a target of Package.swift"])
    }

    /// For each of `sources`, each of `banned` it reaches, with the first path found (breadth-first).
    static func paths(from sources: [String], to banned: [String], in targets: [PackageManifest.Target]) -> [String] {
        let dependencies = Dictionary(targets.map { ($0.name, $0.dependencies) }) { first, _ in first }
        var problems: [String] = []
        for source in sources {
            guard dependencies[source] != nil else {
                problems.append("\(source) is not a target of Package.swift")
                continue
            }
            var way = [source: source], queue = [source]
            while !queue.isEmpty {
                let target = queue.removeFirst()
                for next in dependencies[target] ?? [] where way[next] == nil {
                    way[next] = (way[target] ?? target) + " -> " + next
                    queue.append(next)
                }
            }
            for module in banned { if let path = way[module] { problems.append("\(source) depends on \(module): \(path)") } }
        }
        return problems
    }
}
