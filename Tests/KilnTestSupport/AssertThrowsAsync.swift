import XCTest

/// `XCTAssertThrowsError` for an async expression (XCTest's autoclosures cannot await): fails
/// with `message` (or "did not throw") when `expression` returns, else hands the error to `handler`.
public func XCTAssertThrowsErrorAsync<T>(_ expression: @autoclosure () async throws -> T, _ message: @autoclosure () -> String = "",
                                         file: StaticString = #filePath, line: UInt = #line,
                                         _ handler: (Error) -> Void = { _ in }) async {
    do {
        _ = try await expression()
        let text = message()
        XCTFail(text.isEmpty ? "did not throw" : "did not throw - \(text)", file: file, line: line)
    } catch {
        handler(error)
    }
}
