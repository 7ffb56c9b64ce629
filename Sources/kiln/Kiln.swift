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
    /// `serve` awaited (it is async through and through), every other command on the main
    /// thread as it always ran, never on a thread of Swift's cooperative pool (a render would
    /// occupy one, and a PostgreSQL queue call waits for a task that needs one).
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
