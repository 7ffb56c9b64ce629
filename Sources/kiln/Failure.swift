import ArgumentParser
import Foundation
import RenderQueue

/// Reports an error as one line on standard error and exits non-zero.
func failing<T>(_ body: () throws -> T) throws -> T {
    do {
        return try body()
    } catch let exit as ExitCode {
        throw exit
    } catch {
        FileHandle.standardError.write(Data(("kiln: " + OneLine.describing(error) + "\n").utf8))
        throw ExitCode(1)
    }
}
