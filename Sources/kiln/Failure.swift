import ArgumentParser
import Foundation

/// Reports an error as one line on standard error and exits non-zero.
func failing<T>(_ body: () throws -> T) throws -> T {
    do {
        return try body()
    } catch let exit as ExitCode {
        throw exit
    } catch {
        FileHandle.standardError.write(Data(("kiln: " + oneLine(error) + "\n").utf8))
        throw ExitCode(1)
    }
}

/// The error's own description, folded to a single line.
func oneLine(_ error: Error) -> String {
    let text = String(describing: error)
    return text.split(whereSeparator: \.isNewline).joined(separator: " ")
}
