import ArgumentParser
import Pipelines

/// The `kiln` command: Stable Diffusion XL on the CPU.
@main
struct Kiln: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kiln",
        abstract: "Stable Diffusion XL on the CPU, run as a batch job processor over SQLite.",
        version: Provenance.currentVersion,
        subcommands: [InspectCommand.self, RenderCommand.self, WatermarkCommand.self,
                      EnqueueCommand.self, SweepCommand.self, WorkCommand.self, StatusCommand.self, ReportCommand.self,
                      CancelCommand.self, RetryCommand.self, PauseCommand.self, ResumeCommand.self, PruneCommand.self,
                      SheetCommand.self, ExportCommand.self, ServeCommand.self, ControlCommand.self]
    )

    /// Reads the environment's settings (`ProcessSettings`), then parses and runs the command.
    static func main() {
        ProcessSettings.install()
        main(nil)
    }
}
