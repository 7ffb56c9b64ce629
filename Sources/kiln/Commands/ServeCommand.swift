import ArgumentParser
import Foundation
import Gallery
import QueueBackends
import RenderQueue

/// `kiln serve`: a web gallery of the queue (see Sources/Gallery/README.md): read-only unless
/// `--allow-actions`, on loopback unless `--host` says otherwise (which needs a token).
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve", abstract: "Serve a web gallery of the queue: grids of sweeps, images with provenance, the live queue.")

    @OptionGroup var queue: QueueLocationOptions
    @Option(help: "Address to listen on; anything but loopback (127.0.0.1, ::1, localhost) needs --token.") var host = "127.0.0.1"
    @Option(help: "Port to listen on (0: any free port, printed at start).") var port = 8080
    @Option(help: "A secret every request must carry (Authorization: Bearer TOKEN, ?token=TOKEN, or the cookie it sets); default: $KILN_TOKEN.")
    var token: String?
    @Flag(name: .customLong("allow-actions"), help: "Let the pages cancel and retry jobs and pause or resume sweeps (each behind a CSRF token).")
    var allowActions = false
    @Option(name: .customLong("output-folder"), help: ArgumentHelp(
        "A folder kiln work wrote PNGs to (repeatable); only PNGs inside one, unchanged since written, are served.", valueName: "dir"))
    var outputFolders: [String] = []
    @Option(name: .customLong("idle-timeout"), help: "Seconds a connection may wait for its next request before it is closed.")
    var idleTimeout: Double = 60
    @Option(name: .customLong("request-timeout"), help: "Seconds a request may take to arrive in full; slower clients are cut off.")
    var requestTimeout: Double = 15
    @Option(name: .customLong("max-connections"), help: "Connections open at once; more are answered 503 and closed (default: 256, fewer under a low ulimit -n).")
    var maxConnections: Int?

    func run() async throws {
        try await failing {
            let token = self.token ?? ProcessInfo.processInfo.environment["KILN_TOKEN"].flatMap { $0.isEmpty ? nil : $0 }
            var options = GalleryOptions(host: host, port: port, token: token, allowActions: allowActions)
            options.outputFolders = outputFolders
            options.idleTimeout = idleTimeout
            options.requestTimeout = requestTimeout
            if let maxConnections { options.maxConnections = maxConnections }
            try options.validate()
            let (reader, actions) = try await queue.openGallery(actions: allowActions)
            let shownHost = host.contains(":") && !host.hasPrefix("[") ? "[\(host)]" : host
            let mode = (allowActions ? "actions on" : "read-only") + (token == nil ? "" : ", token required")
            let name = reader.displayName
            let app = try Gallery.application(reader: reader, actions: actions, options: options) { port in
                print("kiln serve: http://\(shownHost):\(port)/ over \(name) (\(mode)); Ctrl-C stops it")
                fflush(nil)
            }
            do {
                try await app.runService()
            } catch {
                throw ServeFailure(host: host, port: port, underlying: error)
            }
        }
    }
}

/// Why the server stopped, if it failed (e.g. the port is taken).
struct ServeFailure: Error, CustomStringConvertible {
    let host: String, port: Int, underlying: Error
    var description: String { "cannot serve on \(host):\(port): \(underlying)" }
}
