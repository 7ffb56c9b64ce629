import ArgumentParser
import QueueBackends
import RenderQueue

/// `--db`, the queue every queue command works on: a SQLite file or a `postgresql://` URL,
/// `KILN_DB` when absent (`Queues.location`). One option group, so its help and meaning are the
/// same in every command.
struct QueueLocationOptions: ParsableArguments {
    @Option(help: "The queue: a SQLite file or postgresql://user@host:port/dbname (default: $KILN_DB).") var db: String?

    /// The queue to write to; only `create` (enqueue, sweep, serve's actions) may make a new one.
    func open(create: Bool) async throws -> any JobQueue { try await Queues.open(db, create: create) }

    /// The queue for the gallery: its async reader, and with `actions` what its pages may change
    /// (opening the queue for writing first, which creates or migrates it).
    func openGallery(actions: Bool) async throws -> (reader: any GalleryReader, actions: (any GalleryActions)?) {
        try await Queues.openGallery(db, actions: actions)
    }

    /// The queue read only: never created, never migrated.
    func openReader() async throws -> any QueueReader { try await Queues.openReader(db) }
}
