import ArgumentParser
import Pipelines

/// The `kiln` command: Stable Diffusion XL on the CPU.
@main
struct Kiln: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kiln",
        abstract: "Stable Diffusion XL on the CPU, run as a batch job processor over SQLite.",
        version: Provenance.currentVersion,
        subcommands: [InspectCommand.self, RenderCommand.self, WatermarkCommand.self,
                      EnqueueCommand.self, SweepCommand.self, WorkCommand.self, StatusCommand.self, ReportCommand.self,
                      CancelCommand.self, RetryCommand.self, PauseCommand.self, ResumeCommand.self, PruneCommand.self,
                      SheetCommand.self, ExportCommand.self, ServeCommand.self, ControlCommand.self]
    )

    /// Reads the environment's settings (`ProcessSettings`), then parses and runs the command:
    /// the commands that use a queue (and `serve`) are awaited, async through and through (a
    /// worker's renders run on its own `RenderExecutor`); the others (`render`, `inspect`,
    /// `watermark`, `control`) run on the main thread as they always ran, never on a thread of
    /// Swift's cooperative pool, which a render would occupy.
    @MainActor
    static func main() async {
        ProcessSettings.install()
        do {
            var command = try parseAsRoot(nil)
            if var async = command as? any AsyncParsableCommand {
                try await async.run()
            } else {
                try command.run()
            }
        } catch {
            exit(withError: error)
        }
    }
}
