import Foundation

/// Problems configuring or restoring a scheduler.
public enum SchedulerError: Error, CustomStringConvertible, Equatable {
    case unknownScheduler(String)
    case invalidSteps(Int)
    case corruptState(String)
    case stateMismatch(expected: String, found: String)
    /// A schedule the scheduler's `set_timesteps` refuses; the text names the values.
    case invalidSchedule(String)
    /// An option given to a scheduler that would ignore it.
    case optionNotTaken(option: String, scheduler: String, takenBy: [String])
    /// A `--scheduler-config` key the scheduler's diffusers class does not read.
    case unknownConfigKey(key: String, scheduler: String, className: String, keys: [String])

    public var description: String {
        switch self {
        case let .unknownScheduler(name):
            return "unknown scheduler '\(name)' (choose one of: \(SchedulerKind.allCases.map(\.rawValue).joined(separator: ", ")))"
        case let .invalidSteps(n): return "steps must be at least 1, not \(n)"
        case let .corruptState(why): return "saved scheduler state is corrupt (\(why))"
        case let .stateMismatch(expected, found): return "saved scheduler state is for '\(found)', not '\(expected)'"
        case let .invalidSchedule(why): return why
        case let .optionNotTaken(option, scheduler, takenBy):
            return "scheduler '\(scheduler)' does not take \(option) (schedulers that do: \(takenBy.joined(separator: ", "))); drop it or choose one of those"
        case let .unknownConfigKey(key, scheduler, className, keys):
            return "scheduler '\(scheduler)' (\(className)) has no config key '\(key)' (its keys: \(keys.joined(separator: ", ")))"
        }
    }
}
