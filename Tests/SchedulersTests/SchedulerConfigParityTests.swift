import Foundation
import KilnTestSupport
import ModelFiles
import Numerics
import Schedulers
import XCTest

/// `--scheduler-config KEY=VALUE` (diffusers' `from_config(config, KEY=VALUE)`), `--timesteps` and
/// `--sigmas` (`set_timesteps(timesteps=)`, `sigmas=`) against diffusers 0.42.1, on the synthetic
/// model output of SchedulerParityTests: every scheduler with every spacing, custom schedules,
/// `prediction_type=sample`, Karras sigmas, zero terminal SNR, `final_sigmas_type`, ...
final class SchedulerConfigParityTests: XCTestCase {
    struct Case: Decodable {
        let file: String
        let scheduler: String
        let steps: Int?
        let timesteps: [Int]?
        let sigmas: [Double]?
        let eta: Double?
        let config: [String: SchedulerParityTests.JSONValue]
        /// The overrides as `--scheduler-config` text, `k=v;k2=v2`.
        let schedulerConfig: String

        enum CodingKeys: String, CodingKey {
            case file, scheduler, steps, timesteps, sigmas, eta, config, schedulerConfig = "scheduler_config"
        }

        func make() throws -> any DiffusionScheduler {
            let object = config.mapValues(\.json)
            let file = try ConfigFile(path: "\(self.file) config", data: try JSONSerialization.data(withJSONObject: object))
            let count = timesteps?.count ?? sigmas.map { $0.count - 1 } ?? steps ?? 0
            return try SchedulerKind(name: scheduler).make(config: file, steps: count, eta: eta,
                                                          overrides: try SchedulerOverrides.parse(schedulerConfig),
                                                          timesteps: timesteps, sigmas: sigmas)
        }
    }

    static func cases() throws -> [Case] {
        let data = try XCTUnwrap(FileManager.default.contents(atPath: Fixtures.expected("schedulers-config.json")))
        return try JSONDecoder().decode([Case].self, from: data)
    }

    func run(_ c: Case, interruptAt: Int? = nil) throws -> Tensor {
        let e = try Expected(c.file)
        var scheduler = try c.make()
        var generator = TorchGenerator(seed: 7)
        _ = generator.randn([1, 4, 6, 5])
        var sample = try e.image("start")
        for (i, t) in scheduler.timesteps.enumerated() {
            if i == interruptAt {
                let saved = try JSONEncoder().encode(scheduler.savedState())
                let savedGenerator = try JSONEncoder().encode(generator)
                var fresh = try c.make()
                try fresh.restore(try JSONDecoder().decode(SchedulerState.self, from: saved))
                scheduler = fresh
                generator = try JSONDecoder().decode(TorchGenerator.self, from: savedGenerator)
            }
            let input = scheduler.scaleModelInput(sample)
            sample = scheduler.step(modelOutput: SchedulerParityTests.syntheticModel(input, t: t), sample: sample, generator: &generator)
        }
        return sample
    }

    func testEveryCaseMatchesDiffusers() throws {
        let cases = try Self.cases()
        XCTAssertGreaterThanOrEqual(cases.count, 60)
        XCTAssertEqual(Set(cases.map(\.scheduler)), Set(SchedulerKind.allCases.map(\.rawValue)))
        for spacing in ["trailing", "leading", "linspace"] {
            XCTAssertEqual(Set(cases.filter { $0.schedulerConfig.contains("timestep_spacing=\(spacing)") }.map(\.scheduler)),
                           Set(SchedulerKind.allCases.map(\.rawValue)), spacing)
        }
        for c in cases {
            let e = try Expected(c.file)
            let scheduler = try c.make()
            let expectedTimesteps = try e.tensor("timesteps").scalars
            XCTAssertEqual(scheduler.timesteps.count, expectedTimesteps.count, c.file)
            for (a, b) in zip(scheduler.timesteps, expectedTimesteps) { XCTAssertEqual(a, b, accuracy: abs(b) * 1e-5 + 1e-4, "\(c.file) timesteps") }
            if let sigmas = (scheduler as? EulerDiscreteScheduler)?.sigmas ?? (scheduler as? DPMSolverMultistepScheduler)?.sigmas
                ?? (scheduler as? UniPCMultistepScheduler)?.sigmas {
                let expected = try e.tensor("sigmas").scalars
                XCTAssertEqual(sigmas.count, expected.count, c.file)
                for (a, b) in zip(sigmas, expected) { XCTAssertEqual(a, b, accuracy: abs(b) * 1e-5 + 1e-6, "\(c.file) sigmas") }
            }
            XCTAssertEqual(scheduler.initNoiseSigma, try e.tensor("init_noise_sigma")[flat: 0], accuracy: 1e-4 * max(1, abs(scheduler.initNoiseSigma)), c.file)
            let final = try run(c)
            let err = final.relativeError(to: try e.image("final"))
            XCTAssertLessThanOrEqual(err, 1e-4, "\(c.file): relative error \(err)")
        }
    }

    func testSavedStateResumesBitIdentically() throws {
        for c in try Self.cases() {
            let straight = try run(c)
            let count = try c.make().timesteps.count
            for k in [1, count / 2, count - 1] where k > 0 && k < count {
                XCTAssertTrue(try run(c, interruptAt: k).scalars == straight.scalars, "\(c.file) resumed after step \(k)")
            }
        }
    }

    func message(_ body: () throws -> Any) -> String {
        do { _ = try body(); return "no error" } catch { return "\(error)" }
    }

    func XCTAssertContains(_ text: String, _ part: String, line: UInt = #line) {
        XCTAssertTrue(text.contains(part), "'\(text)' lacks '\(part)'", line: line)
        XCTAssertFalse(text.contains("\n"), "one line: '\(text)'", line: line)
    }

    /// What diffusers refuses (or would silently ignore) is refused in one line naming what is allowed.
    func testBadConfigKeysValuesAndSchedulesAreRefusedInOneLine() throws {
        let c = try Self.cases()[0]
        let object = c.config.mapValues(\.json)
        let file = try ConfigFile(path: "scheduler_config.json", data: try JSONSerialization.data(withJSONObject: object))
        func make(_ kind: SchedulerKind, _ text: String = "", steps: Int = 4, timesteps: [Int]? = nil, sigmas: [Double]? = nil) -> String {
            message { try kind.make(config: file, steps: steps, overrides: try SchedulerOverrides.parse(text), timesteps: timesteps, sigmas: sigmas) }
        }
        // Keys the class does not read: from_config would ignore them silently.
        XCTAssertContains(make(.heun, "rescale_betas_zero_snr=true"), "scheduler 'heun' (HeunDiscreteScheduler) has no config key 'rescale_betas_zero_snr' (its keys: ")
        XCTAssertContains(make(.euler, "timestep_spacings=trailing"), "has no config key 'timestep_spacings'")
        XCTAssertContains(make(.ddim, "final_sigmas_type=sigma_min"), "has no config key 'final_sigmas_type'")
        XCTAssertContains(make(.euler, "original_inference_steps=4"), "timestep_spacing")
        // Bad values name the supported ones.
        XCTAssertContains(make(.euler, "timestep_spacing=trailng"), "'timestep_spacing' = \"trailng\" is not supported (supported: linspace, leading, trailing)")
        XCTAssertContains(make(.euler, "prediction_type=x0"), "(supported: epsilon, v_prediction, sample)")
        XCTAssertContains(make(.euler, "use_karras_sigmas=yes"), "'use_karras_sigmas' must be true or false")
        XCTAssertContains(make(.euler, "final_sigmas_type=one"), "(supported: zero, sigma_min)")
        XCTAssertContains(make(.dpmpp2m, "solver_order=3"), "'solver_order' = 3 is not supported (supported: 2, null)")
        XCTAssertContains(make(.euler, "use_exponential_sigmas=true"), "use_exponential_sigmas")
        XCTAssertContains(make(.euler, "use_karras_sigmas=true;sigma_min=0.1"), "'sigma_min' = 0.1 is not supported (supported: null)")
        XCTAssertContains(make(.euler, "sigma_min=0.1"), "no error")
        XCTAssertContains(make(.euler, "steps_offset=-1"), "'steps_offset' must be between 0 and 100000")
        XCTAssertContains(make(.euler, "timestep_spacing=trailing"), "no error")
        XCTAssertThrowsError(try SchedulerOverrides.parse("timestep_spacing")) { XCTAssertTrue("\($0)".contains("must be KEY=VALUE"), "\($0)") }
        XCTAssertThrowsError(try SchedulerOverrides.parse("=trailing"))
        // prediction_type=sample where diffusers cannot take it.
        XCTAssertContains(make(.eulerAncestral, "prediction_type=sample"), "'euler-a' (EulerAncestralDiscreteScheduler) cannot take prediction_type=sample")
        // Custom schedules.
        XCTAssertContains(make(.euler, timesteps: [999, 259, 499]), "must be in descending order (259 comes before 499)")
        XCTAssertContains(make(.euler, timesteps: [999, 499, 499]), "499 is repeated")
        XCTAssertContains(make(.euler, timesteps: [1000, 499]), "1000 is outside the model's training range 0...999")
        XCTAssertContains(make(.lcm, timesteps: [999, -1]), "-1 is below 0")
        XCTAssertContains(make(.ddim, timesteps: [999, 499]), "scheduler 'ddim' does not take timesteps (schedulers that do: euler, dpmpp-2m, heun, lcm, tcd)")
        XCTAssertContains(make(.unipc, sigmas: [14, 1, 0]), "scheduler 'unipc' does not take sigmas (UniPC takes sigmas only with use_flow_sigmas")
        XCTAssertContains(make(.heun, sigmas: [14, 1, 0]), "(schedulers that do: euler)")
        XCTAssertContains(make(.euler, sigmas: [14, 14, 0]), "14.0 is repeated")
        XCTAssertContains(make(.euler, sigmas: [1]), "give at least two")
        XCTAssertContains(make(.euler, "use_karras_sigmas=true", timesteps: [999, 499]), "cannot take timesteps with Karras sigmas")
        XCTAssertContains(make(.dpmpp2mKarras, timesteps: [999, 499]), "does not take timesteps")
        XCTAssertContains(make(.dpmpp2mKarras, "use_karras_sigmas=false"), "for use_karras_sigmas=false choose dpmpp-2m")
    }

    /// The overrides' text form is sorted and round-trips; values are typed as from_config's keywords.
    func testOverrideTextIsTyped() throws {
        let parsed = try SchedulerOverrides.parse("use_karras_sigmas=true; timestep_spacing=trailing;steps_offset=1;timestep_scaling=2.5")
        XCTAssertEqual(parsed["use_karras_sigmas"], .bool(true))
        XCTAssertEqual(parsed["timestep_spacing"], .string("trailing"))
        XCTAssertEqual(parsed["steps_offset"], .number(1))
        XCTAssertEqual(SchedulerOverrides.text(parsed), "steps_offset=1;timestep_scaling=2.5;timestep_spacing=trailing;use_karras_sigmas=true")
        XCTAssertEqual(try SchedulerOverrides.parse(SchedulerOverrides.text(parsed)!), parsed)
        XCTAssertNil(SchedulerOverrides.text([:]))
    }
}
