import ArgumentParser

/// Bounds on `kiln work`'s numeric options, checked by ArgumentParser after parsing and before
/// `run()`, so a value such as `--lease 1e300` is refused before any job is claimed (it used to
/// crash the lease timer after the claim).
extension WorkCommand {
    static let leaseRange: ClosedRange<Double> = 1...86_400
    static let checkpointRange: ClosedRange<Int> = 1...100_000

    func validate() throws {
        try failing {
            guard lease.isFinite, WorkCommand.leaseRange.contains(lease) else {
                throw ValidationError("--lease must be between 1 and 86400 seconds, not \(lease)")
            }
            guard WorkCommand.checkpointRange.contains(checkpointEvery) else {
                throw ValidationError("--checkpoint-every must be between 1 and 100000 steps, not \(checkpointEvery)")
            }
            if let previewEvery, !WorkCommand.checkpointRange.contains(previewEvery) {
                throw ValidationError("--preview-every must be between 1 and 100000 steps, not \(previewEvery)")
            }
            if previewVAE != nil, previewEvery == nil {
                throw ValidationError("--preview-vae needs --preview-every N (how often to make a preview)")
            }
        }
    }
}
