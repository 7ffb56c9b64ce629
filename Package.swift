// swift-tools-version:6.0
// Kiln: Stable Diffusion XL on the CPU in Swift, run as a batch job processor over SQLite.
import PackageDescription

// Release builds target the CPU they are built on (like -march=native): Kiln is built from source
// on the machine that renders, and its hot loops need AVX2/AVX-512 to vectorise. Every module keeps
// Swift's bounds and overflow checks (-O), above all those that parse what a user hands in (model
// files, tokenizers, images, LoRAs, sweep specs); only the kernels in Numerics drop them
// (-Ounchecked): elsewhere the checks measured under 0.4% of a render (README, Performance notes).
let checked: [SwiftSetting] = [.unsafeFlags(["-target-cpu", "native"], .when(configuration: .release))]
let kernels: [SwiftSetting] = [.unsafeFlags(["-Ounchecked", "-target-cpu", "native"], .when(configuration: .release))]

let package = Package(
    name: "Kiln",
    products: [
        .executable(name: "kiln", targets: ["kiln"]),
        .library(name: "Numerics", targets: ["Numerics"]),
        .library(name: "ModelFiles", targets: ["ModelFiles"]),
        .library(name: "Tokenizer", targets: ["Tokenizer"]),
        .library(name: "Models", targets: ["Models"]),
        .library(name: "Schedulers", targets: ["Schedulers"]),
        .library(name: "Adapters", targets: ["Adapters"]),
        .library(name: "Pipelines", targets: ["Pipelines"]),
        .library(name: "Imaging", targets: ["Imaging"]),
        .library(name: "RenderQueue", targets: ["RenderQueue"]),
        .library(name: "SQLiteQueue", targets: ["SQLiteQueue"]),
        .library(name: "PostgresQueue", targets: ["PostgresQueue"]),
        .library(name: "QueueBackends", targets: ["QueueBackends"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-numerics", from: "1.0.0"),
    ],
    targets: [
        // System libraries: module maps only.
        .systemLibrary(name: "CBLAS", path: "Sources/CBLAS", providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CPNG", path: "Sources/CPNG", pkgConfig: "libpng",
                       providers: [.apt(["libpng-dev"])]),
        .systemLibrary(name: "CJPEG", path: "Sources/CJPEG", pkgConfig: "libjpeg",
                       providers: [.apt(["libjpeg62-turbo-dev"])]),
        .systemLibrary(name: "CSQLite", path: "Sources/CSQLite", pkgConfig: "sqlite3",
                       providers: [.apt(["libsqlite3-dev"])]),
        .systemLibrary(name: "CZlib", path: "Sources/CZlib", pkgConfig: "zlib",
                       providers: [.apt(["zlib1g-dev"])]),

        // C shims that catch libjpeg's and libpng's longjmp-based errors, which Swift cannot.
        .target(name: "CJPEGShim", dependencies: ["CJPEG"], path: "Sources/CJPEGShim"),
        .target(name: "CPNGShim", dependencies: ["CPNG"], path: "Sources/CPNGShim"),

        // Hand-written C kernels (the bf16 GEMM around AVX512-BF16), chosen at run time from the CPU flags.
        .target(name: "CKilnKernels", path: "Sources/CKilnKernels", exclude: ["README.md"], cSettings: [.unsafeFlags(["-O3"])]),
        // SHA-256 with the x86 SHA extensions, apart from the bf16 kernels: the queue hashes outputs without them.
        .target(name: "CKilnSHA", path: "Sources/CKilnSHA", exclude: ["README.md"], cSettings: [.unsafeFlags(["-O3"])]),
        // What every layer shares, with no tensors: precision and scheduler names, scheduler configs, config.json
        // access, weight variants, SHA-256, the process settings and parallelFor. Numerics, ModelFiles and
        // Schedulers re-export it.
        .target(name: "KilnBasics", dependencies: ["CKilnSHA"], exclude: ["README.md"], swiftSettings: checked + [.swiftLanguageMode(.v6)]),
        // The render request as the queue stores it, its parameter table and provenance: no numerics.
        .target(name: "RenderRecord", dependencies: ["KilnBasics"], exclude: ["README.md"], swiftSettings: checked + [.swiftLanguageMode(.v6)]),
        .target(name: "Numerics", dependencies: ["CBLAS", "CKilnKernels", "KilnBasics"], exclude: ["README.md"],
                swiftSettings: kernels + [.swiftLanguageMode(.v6)]),
        .target(name: "ModelFiles", dependencies: ["Numerics", "KilnBasics"], exclude: ["README.md"], swiftSettings: checked + [.swiftLanguageMode(.v6)]),
        // The CLIP merges list ships with the product: single-file checkpoints need no tokenizer folder.
        .target(name: "Tokenizer", dependencies: ["CZlib"], exclude: ["README.md"],
                resources: [.copy("Resources/clip-merges.txt.gz"), .copy("Resources/LICENSE-open_clip.txt")],
                swiftSettings: checked + [.swiftLanguageMode(.v6)]),
        .target(name: "Schedulers", dependencies: ["Numerics", "ModelFiles", "KilnBasics"], exclude: ["README.md"], swiftSettings: checked + [.swiftLanguageMode(.v6)]),
        .target(name: "Imaging", dependencies: ["KilnBasics", "CPNG", "CPNGShim", "CJPEG", "CJPEGShim", "CZlib"], exclude: ["README.md"], swiftSettings: checked + [.swiftLanguageMode(.v6)]),
        .target(name: "Adapters", dependencies: ["Numerics", "ModelFiles"], exclude: ["README.md"], swiftSettings: checked + [.swiftLanguageMode(.v6)]),
        .target(name: "Pipelines", dependencies: ["Numerics", "ModelFiles", "Models", "Schedulers", "Tokenizer", "Imaging", "Adapters", "RenderRecord"],
                exclude: ["README.md"], swiftSettings: checked + [.swiftLanguageMode(.v6)]),
        // The queue's operations as protocols, and sweeps: no SQL dialect, no worker.
        .target(name: "RenderQueue", dependencies: ["RenderRecord", .product(name: "Yams", package: "Yams")],
                exclude: ["README.md"], swiftSettings: checked + [.swiftLanguageMode(.v6)]),
        // The worker: claims jobs from a RenderQueue and renders them with Pipelines; sorts their failures.
        .target(name: "RenderWorker", dependencies: ["RenderQueue", "Pipelines", "Imaging", "Models", "ModelFiles", "Schedulers",
                                                     "Adapters", "Tokenizer"],
                exclude: ["README.md"], swiftSettings: checked + [.swiftLanguageMode(.v6)]),
        // The queue on SQLite (GRDB), the embedded default, and on PostgreSQL (postgres-nio), for farms.
        .target(name: "SQLiteQueue", dependencies: ["RenderQueue", "RenderRecord", "KilnBasics", .product(name: "GRDB", package: "GRDB.swift")],
                exclude: ["README.md"], swiftSettings: checked + [.swiftLanguageMode(.v6)]),
        .target(name: "PostgresQueue", dependencies: ["RenderQueue", "RenderRecord", "KilnBasics", .product(name: "PostgresNIO", package: "postgres-nio")],
                exclude: ["README.md"], swiftSettings: checked + [.swiftLanguageMode(.v6)]),
        // Opens the queue a `--db` names: a file path (SQLite) or a postgresql:// URL.
        .target(name: "QueueBackends", dependencies: ["RenderQueue", "SQLiteQueue", "PostgresQueue"], exclude: ["README.md"], swiftSettings: [.swiftLanguageMode(.v6)]),
        // `kiln serve`: a web gallery over the queue (GalleryReader only; JobQueue for --allow-actions).
        .target(name: "Gallery", dependencies: ["RenderQueue", "RenderRecord", "KilnBasics", "Imaging",
                                  .product(name: "Hummingbird", package: "hummingbird"),
                                  .product(name: "ServiceLifecycle", package: "swift-service-lifecycle")],
                exclude: ["README.md"], swiftSettings: [.swiftLanguageMode(.v6)]),
        .target(name: "Models", dependencies: ["Numerics", "ModelFiles", "Tokenizer", "CZlib"], exclude: ["README.md"],
                swiftSettings: checked + [.swiftLanguageMode(.v6)]),
        .executableTarget(name: "kiln", dependencies: [
            "Models", "ModelFiles", "Pipelines", "Schedulers", "Imaging", "Numerics", "RenderQueue", "RenderWorker", "QueueBackends", "Gallery",
            "Tokenizer", .product(name: "ArgumentParser", package: "swift-argument-parser"),
            // Hummingbird's graph (the gallery's) holds swift-numerics, whose target Numerics would clash with
            // ours where the two meet: renamed by depending on it under an alias (nothing imports it).
            .product(name: "Numerics", package: "swift-numerics", moduleAliases: ["Numerics": "SwiftNumerics"]),
        ], exclude: ["README.md"], swiftSettings: checked + [.swiftLanguageMode(.v6)]),
        .executableTarget(name: "KilnFuzz", dependencies: ["Adapters", "Imaging", "ModelFiles", "Models", "RenderQueue", "Tokenizer"],
                          exclude: ["README.md"]),
        .executableTarget(name: "KilnQueueBenchmark", dependencies: ["Pipelines", "QueueBackends", "RenderQueue"], swiftSettings: checked),
        .executableTarget(name: "KilnGalleryBenchmark", dependencies: ["Gallery", "Imaging", "Pipelines", "QueueBackends", "RenderQueue"],
                          swiftSettings: checked),
        .executableTarget(name: "KilnBenchmark", dependencies: ["Models", "Numerics", "ModelFiles", "Imaging"],
                          swiftSettings: checked),
        // OpenBLAS sgemm against the bf16 kernel at SDXL's GEMM shapes (oneDNN: Benchmarks/bf16).
        .executableTarget(name: "KilnGEMMBenchmark", dependencies: ["CKilnKernels", "Numerics", "CBLAS"], swiftSettings: checked),

        .target(name: "KilnTestSupport", dependencies: ["ModelFiles", "Numerics"], path: "Tests/KilnTestSupport"),
        .testTarget(name: "NumericsTests", dependencies: ["Numerics", "CKilnKernels", "KilnTestSupport"]),
        .testTarget(name: "ModelFilesTests", dependencies: ["ModelFiles", "KilnBasics", "Numerics", "KilnTestSupport"]),
        .testTarget(name: "TokenizerTests", dependencies: ["Tokenizer", "KilnTestSupport"]),
        .testTarget(name: "ModelsTests", dependencies: ["Models", "ModelFiles", "Numerics", "Tokenizer", "KilnTestSupport"]),
        .testTarget(name: "SchedulersTests", dependencies: ["Schedulers", "Numerics", "ModelFiles", "KilnTestSupport"]),
        .testTarget(name: "ImagingTests", dependencies: ["Imaging", "Numerics", "KilnTestSupport"]),
        .testTarget(name: "PipelinesTests", dependencies: ["Pipelines", "Imaging", "Models", "ModelFiles", "Numerics", "Schedulers", "Adapters",
                                                         "RenderRecord", "KilnTestSupport"]),
        .testTarget(name: "RenderQueueTests", dependencies: ["RenderQueue", "RenderWorker", "SQLiteQueue", "PostgresQueue", "QueueBackends", "Pipelines",
                                                            "ModelFiles", "Models", "Imaging", "KilnTestSupport",
                                                            .product(name: "GRDB", package: "GRDB.swift"),
                                                            .product(name: "PostgresNIO", package: "postgres-nio")]),
        .testTarget(name: "GalleryTests", dependencies: ["Gallery", "RenderQueue", "RenderWorker", "QueueBackends", "Pipelines", "Imaging", "ModelFiles",
                                                       "Schedulers", "KilnTestSupport",
                                                       .product(name: "HummingbirdTesting", package: "hummingbird")]),
        .testTarget(name: "KernelTests", dependencies: ["CKilnKernels"], path: "Tests/KernelTests"),
        .testTarget(name: "KilnCLITests", dependencies: ["kiln", "KilnTestSupport", "Imaging", "Numerics", "ModelFiles", "Pipelines", "Gallery"]),
    ],
    swiftLanguageModes: [.v5]
)
