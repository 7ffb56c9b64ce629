import Foundation
import Imaging
import KilnTestSupport
import XCTest

/// `--scheduler-config`, `--timesteps` and `--sigmas` through real `kiln` processes: the Lightning
/// recipe's image equals diffusers', a queued job shows the options in `v_outputs` on both
/// databases, and bad input is one line with nothing enqueued.
final class ScheduleOptionCommandTests: QueueTestCase {
    let model = Fixtures.model("tiny-sdxl-base")
    /// renders-scheduler-config.json's "lightning-euler-trailing-timesteps": Euler, trailing, guidance 0.
    let lightning = ["--prompt", "a cat", "--scheduler", "euler", "--scheduler-config", "timestep_spacing=trailing", "--guidance", "0",
                     "--timesteps", "999,759,499,259", "--width", "88", "--height", "56", "--seed", "7", "--no-watermark"]

    func testLightningRecipeRendersDiffusersImage() throws {
        let path = dir + "/l.png"
        let r = try KilnProcess.run(["render", "--model", model, "--output", path] + lightning)
        XCTAssertEqual(r.status, 0, r.stderr)
        let image = try ImageFile.read(path)
        let result = PixelComparison([(image.width, image.height, image.pixels)],
                                     try Expected("render-config-lightning-euler-trailing-timesteps").tensor("pixels"))
        XCTAssertTrue(result.sizesMatch && result.worst <= 1, "\(result)")
    }

    func testQueuedJobShowsTheOptionsOnBothDatabases() throws {
        try onEachBackend { _ in
            let db = try queue("q")
            let enqueue = try KilnProcess.run(["enqueue", "--db", db, "--model", model] + lightning + ["--scheduler-config", "final_sigmas_type=sigma_min"])
            XCTAssertEqual(enqueue.status, 0, enqueue.stderr)
            let work = try KilnProcess.run(["work", "--db", db, "--until-empty"])
            XCTAssertEqual(work.status, 0, work.stderr)
            let rows = try KilnProcess.query(db, "SELECT steps, scheduler_overrides, timesteps, sigmas IS NULL FROM v_outputs")
            XCTAssertEqual(rows.count, 1)
            let row = rows.first ?? ""
            XCTAssertTrue(row.hasPrefix("4,") && row.hasSuffix(",1"), row)
            for part in ["final_sigmas_type", "sigma_min", "timestep_spacing", "trailing", "[999,759,499,259]"] {
                XCTAssertTrue(row.contains(part), "\(part) in \(row)")
            }
        }
    }

    func testBadScheduleOptionsAreOneLineAndEnqueueNothing() throws {
        let cases: [([String], [String])] = [
            (["--timesteps", "999,259,499"], ["--timesteps", "descending order"]),
            (["--timesteps", "999,499,499"], ["--timesteps", "499 is repeated"]),
            (["--timesteps", "1000,499"], ["1000 is outside the model's training range 0...999"]),
            (["--timesteps", "999,499", "--steps", "2"], ["--steps", "--timesteps gives the step count"]),
            (["--sigmas", "14,1,0", "--steps", "2"], ["--steps", "--sigmas gives the step count"]),
            (["--scheduler", "ddim", "--timesteps", "999,499"], ["--timesteps", "schedulers that do: euler, dpmpp-2m, heun, lcm, tcd"]),
            (["--scheduler", "unipc", "--sigmas", "14,1,0"], ["--sigmas", "schedulers that do: euler"]),
            (["--scheduler", "heun", "--scheduler-config", "rescale_betas_zero_snr=true"], ["--scheduler-config", "no config key 'rescale_betas_zero_snr'", "its keys: "]),
            (["--scheduler-config", "solver_order=2"], ["'euler' (EulerDiscreteScheduler) has no config key 'solver_order'"]),
            (["--scheduler-config", "timestep_spacing=sideways"], ["--scheduler-config", "supported: linspace, leading, trailing"]),
            (["--scheduler-config", "trailing"], ["--scheduler-config", "KEY=VALUE"]),
            (["--scheduler", "euler-a", "--scheduler-config", "prediction_type=sample"], ["--scheduler-config", "cannot take prediction_type=sample"]),
        ]
        try onEachBackend { _ in
            for (i, (arguments, mentions)) in cases.enumerated() {
                let db = try queue("bad\(i)")
                try assertOneLineFailure(["enqueue", "--db", db, "--model", model, "--prompt", "x"] + arguments, mentions: mentions)
                XCTAssertTrue(try nothingWritten(db), "case \(i): nothing written")
            }
        }
        // kiln render refuses the same before writing anything.
        try assertOneLineFailure(["render", "--model", model, "--prompt", "x", "--timesteps", "999,259,499", "--output", dir + "/o.png"],
                                 mentions: ["--timesteps", "descending order"])
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/o.png"))
    }

    func testSweepOverScheduleOptionsAndItsBadInput() throws {
        let spec = dir + "/spec.yaml"
        try "model: \(model)\nbase: {prompt: a cat, width: 64, height: 64, scheduler: euler}\naxes:\n  timesteps: ['999,499', '999,759,499,259']\n  scheduler-config: ['timestep_spacing=trailing', 'timestep_spacing=leading;final_sigmas_type=sigma_min']\n"
            .write(toFile: spec, atomically: true, encoding: .utf8)
        let dry = try KilnProcess.run(["sweep", "--dry-run", "--db", dir + "/dry.db", spec])
        XCTAssertEqual(dry.status, 0, dry.stderr)
        XCTAssertTrue(dry.stdout.hasPrefix("4 jobs\n") && dry.stdout.contains("steps=4") && dry.stdout.contains("steps=2"), dry.stdout)
        try "model: \(model)\nbase: {prompt: a cat, steps: 4, width: 64, height: 64}\naxes:\n  timesteps: ['999,499', '999,259']\n"
            .write(toFile: spec, atomically: true, encoding: .utf8)
        let db = dir + "/s.db"
        try assertOneLineFailure(["sweep", "--db", db, spec], mentions: ["steps", "timesteps gives the step count"])
        XCTAssertFalse(FileManager.default.fileExists(atPath: db))
        try "model: \(model)\nbase: {prompt: a cat, width: 64, height: 64, scheduler: euler}\naxes:\n  timesteps: ['999,499', '1000,259']\n"
            .write(toFile: spec, atomically: true, encoding: .utf8)
        try assertOneLineFailure(["sweep", "--db", db, spec], mentions: ["1000 is outside the model's training range"])
        XCTAssertFalse(FileManager.default.fileExists(atPath: db))
    }
}
