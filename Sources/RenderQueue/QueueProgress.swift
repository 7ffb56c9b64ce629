import Foundation

/// How much work is left in the queue, from the steps jobs still have to run and the mean of the
/// step times workers have measured (`jobs.step_seconds`).
public struct QueueProgress: Sendable, Equatable {
    /// Steps of queued and running jobs not yet done.
    public var stepsLeft: Int
    /// Mean measured seconds per step, nil before any step was measured.
    public var secondsPerStep: Double?
    /// Seconds the queue still needs at that rate on one worker.
    public var eta: Double? { secondsPerStep.map { Double(stepsLeft) * $0 } }

    public init(stepsLeft: Int, secondsPerStep: Double?) {
        self.stepsLeft = stepsLeft
        self.secondsPerStep = secondsPerStep
    }
}
