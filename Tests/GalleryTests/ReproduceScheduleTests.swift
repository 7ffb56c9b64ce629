@testable import Gallery
import Pipelines
import Schedulers
import XCTest

/// The gallery's reproduce command carries `--scheduler-config`, `--timesteps` and `--sigmas`, and
/// leaves out `--steps` when a custom schedule gives the step count (kiln refuses both).
final class ReproduceScheduleTests: XCTestCase {
    func record(_ request: RenderRequest) -> Provenance {
        Provenance(kilnVersion: "t", request: request, width: 64, height: 64, scheduler: "euler", schedulerClass: "EulerDiscreteScheduler",
                   seed: 9, imageIndex: 0, model: "/models/base", modelHash: "abc", watermarkBits: nil, seconds: 1)
    }

    func testReproduceCommandCarriesTheScheduleOptions() throws {
        var request = RenderRequest(prompt: "a cat")
        request.steps = 4
        let plain = RenderCommandLine.make(record(request), config: nil)
        XCTAssertTrue(plain.contains(" --steps 4 "), plain)
        for option in ["--scheduler-config", "--timesteps", "--sigmas"] { XCTAssertFalse(plain.contains(option), plain) }
        try RenderParameters.named("scheduler-config")!.apply(.text("timestep_spacing=trailing;prediction_type=sample"), to: &request)
        try RenderParameters.named("timesteps")!.apply(.text("999,759,499,259"), to: &request)
        let command = RenderCommandLine.make(record(request), config: nil)
        XCTAssertTrue(command.contains(" --scheduler-config 'prediction_type=sample;timestep_spacing=trailing' "), command)
        XCTAssertTrue(command.contains(" --timesteps 999,759,499,259 "), command)
        XCTAssertFalse(command.contains("--steps"), command)
        request.timesteps = nil
        try RenderParameters.named("sigmas")!.apply(.text("14.6,4.2,1.1,0"), to: &request)
        let sigmas = RenderCommandLine.make(record(request), config: nil)
        XCTAssertTrue(sigmas.contains(" --sigmas 14.6,4.2,1.1,0 ") && !sigmas.contains("--steps") && !sigmas.contains("--timesteps"), sigmas)
    }
}
