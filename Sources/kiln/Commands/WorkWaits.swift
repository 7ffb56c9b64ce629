import RenderQueue

/// `body`'s value, or nil when it stopped waiting for a lost queue server (`ServerWaitEnded`,
/// said in one line): `kiln work`'s loop then goes on to its next claim, which waits for the
/// server again, or ends when a stop was requested.
func waited<T>(_ body: () async throws -> T) async throws -> T? {
    do {
        return try await body()
    } catch let ended as ServerWaitEnded {
        say(ended.description)
        return nil
    }
}
