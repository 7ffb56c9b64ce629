import Foundation
import Numerics
import Tokenizer

/// The environment knobs, read here once, before any command runs, and handed to the modules that
/// use them (which never read the environment): `KILN_THREADS`, `KILN_BF16`, `KILN_CONV` and
/// `KILN_BLAS_CORE` as Numerics' `RuntimeSettings`, `KILN_RESOURCES` as the folder the bundled
/// CLIP vocabulary is looked for first.
enum ProcessSettings {
    static func install(from environment: [String: String] = ProcessInfo.processInfo.environment) {
        RuntimeSettings.install(RuntimeSettings(environment: environment))
        BundledVocabulary.searchFirst(environment["KILN_RESOURCES"])
    }
}
