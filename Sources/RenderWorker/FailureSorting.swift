import Adapters
import Foundation
import Imaging
import ModelFiles
import Pipelines
import RenderQueue
import Schedulers
import Tokenizer

/// How the worker sorts what a render throws: the errors of every module it runs.
extension FailureKind {
    /// Sorts an error thrown by a render. Errors of unknown kind count as transient, so they are
    /// retried as before.
    public static func of(_ error: Error) -> FailureKind {
        switch error {
        case let e as RenderError:
            if case .cancelled = e { return .transient }
            return .permanent
        case is ModelFileError, is AdapterError, is TokenizerError, is SchedulerError, is ImageGeometryError, is DecodingError:
            return .permanent
        case let e as ImagingError:
            // Writing an output fails for lack of space or a missing folder, which can change.
            if case .writeFailed = e { return .transient }
            return .permanent
        case let e as QueueDatabaseFailure:
            return e.failureKind
        case let e as POSIXError:
            return transientErrnos.contains(e.code.rawValue) ? .transient : .permanent
        default:
            let ns = error as NSError
            if ns.domain == NSPOSIXErrorDomain { return transientErrnos.contains(Int32(ns.code)) ? .transient : .permanent }
            return .transient
        }
    }

    /// A full disk (or quota), which frees up in its own time: the job waits for it rather than
    /// using up its attempts. Foundation reports ENOSPC from a file write as CocoaError 640
    /// ("There isn't enough space") with the POSIX error underneath; both are recognised.
    public static func isDiskFull(_ error: Error) -> Bool {
        switch error {
        case let e as QueueDatabaseFailure: return e.isDiskFull
        case let e as POSIXError: return fullErrnos.contains(e.code.rawValue)
        case let e as ImagingError:
            if case let .writeFailed(_, reason) = e { return fullReasons.contains { reason.contains($0) } }
            return false
        default:
            let ns = error as NSError
            if ns.domain == NSPOSIXErrorDomain { return fullErrnos.contains(Int32(ns.code)) }
            if ns.domain == NSCocoaErrorDomain, ns.code == CocoaError.fileWriteOutOfSpace.rawValue { return true }
            if let under = ns.userInfo[NSUnderlyingErrorKey] as? Error { return isDiskFull(under) }
            return false
        }
    }

    static let fullErrnos: Set<Int32> = [ENOSPC, EDQUOT]
    /// How a write error's text names a full disk: strerror's words, or Foundation's.
    static let fullReasons: [String] = fullErrnos.map { String(cString: strerror($0)) } + ["There isn’t enough space", "There isn't enough space"]

    static let transientErrnos: Set<Int32> = [ENOSPC, ENOMEM, EAGAIN, EDQUOT, EIO, EINTR, EBUSY, ENFILE, EMFILE]
}
