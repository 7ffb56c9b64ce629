import ArgumentParser
import Foundation
import RenderQueue

/// Reports an error as one line on standard error and exits non-zero.
func failing<T>(_ body: () throws -> T) throws -> T {
    do {
        return try body()
    } catch {
        throw reported(error)
    }
}

/// `failing` for an async body.
nonisolated(nonsending) func failing<T>(_ body: () async throws -> T) async throws -> T {
    do {
        return try await body()
    } catch {
        throw reported(error)
    }
}

/// `error` written as one line on standard error, and the exit code that says so; an
/// `ExitCode` passes through.
private func reported(_ error: Error) -> ExitCode {
    if let exit = error as? ExitCode { return exit }
    FileHandle.standardError.write(Data(("kiln: " + OneLine.describing(error) + "\n").utf8))
    return ExitCode(1)
}
