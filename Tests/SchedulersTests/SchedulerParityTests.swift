import Foundation
import KilnTestSupport
import ModelFiles
import Numerics
import Schedulers
import XCTest

/// Each scheduler against diffusers on the published SDXL scheduler config (and variants), driven
/// by the same synthetic model output, so only the scheduler arithmetic is compared.
final class SchedulerParityTests: XCTestCase {
    struct Case: Decodable {
        let file: String
        let scheduler: String
        let steps: Int
        let config: [String: JSONValue]
        /// `set_timesteps(strength=)` and `step(eta=)`, for the schedulers that take them.
        let strength: Double?
        let eta: Double?

        func make() throws -> any DiffusionScheduler {
            try SchedulerKind(name: scheduler).make(config: try SchedulerParityTests.config(self), steps: steps, eta: eta, strength: strength ?? 1)
        }
    }

    /// Enough of JSON to turn the case's config back into a ConfigFile.
    enum JSONValue: Decodable {
        case number(Double), string(String), bool(Bool), null
        init(from decoder: Decoder) throws {
            let c = try decoder.singleValueContainer()
            if c.decodeNil() { self = .null } else if let b = try? c.decode(Bool.self) { self = .bool(b) }
            else if let n = try? c.decode(Double.self) { self = .number(n) } else { self = .string(try c.decode(String.self)) }
        }
        var json: Any {
            switch self {
            case .number(let n): return n
            case .string(let s): return s
            case .bool(let b): return b
            case .null: return NSNull()
            }
        }
    }

    /// The cases of both fixture lists: schedulers.json and the few-step schedulers' own.
    static func cases() throws -> [Case] {
        try ["schedulers.json", "schedulers-few-step.json"].flatMap { name in
            let data = try XCTUnwrap(FileManager.default.contents(atPath: Fixtures.expected(name)), name)
            return try JSONDecoder().decode([Case].self, from: data)
        }
    }

    static func config(_ c: Case) throws -> ConfigFile {
        let object = c.config.mapValues(\.json)
        return try ConfigFile(path: "\(c.file) config", data: try JSONSerialization.data(withJSONObject: object))
    }

    /// The synthetic model of the fixture script: 0.6 x + 0.2 sin(3 ramp + t / 100) in NCHW order.
    static func syntheticModel(_ input: Tensor, t: Float) -> Tensor {
        let nchw = input.nhwcToNCHW()
        let n = nchw.count
        let out = Tensor(uninitialized: nchw.shape)
        let step = Float(2) / Float(n - 1)
        let half = n / 2
        for i in 0..<n {
            // torch.linspace(-1, 1, n) in float32
            let ramp: Float = i < half ? -1 + step * Float(i) : 1 - step * Float(n - 1 - i)
            out.unsafePointer[i] = 0.6 * nchw.unsafePointer[i] + 0.2 * sinf(ramp * 3 + t / 100)
        }
        return out.nchwToNHWC()
    }

    func run(_ c: Case, interruptAt: Int? = nil) throws -> (Tensor, any DiffusionScheduler) {
        let e = try Expected(c.file)
        var scheduler = try c.make()
        var generator = TorchGenerator(seed: 7)
        _ = generator.randn([1, 4, 6, 5])  // the fixture's starting sample was drawn from the same generator
        var sample = try e.image("start")
        for (i, t) in scheduler.timesteps.enumerated() {
            if i == interruptAt {
                // Stop, keep only plain values, and continue in a fresh scheduler.
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
        return (sample, scheduler)
    }

    func testEverySchedulerMatchesDiffusers() throws {
        let cases = try SchedulerParityTests.cases()
        XCTAssertEqual(Set(cases.map(\.scheduler)), Set(SchedulerKind.allCases.map(\.rawValue)))
        for c in cases {
            let e = try Expected(c.file)
            let scheduler = try c.make()
            let expectedTimesteps = try e.tensor("timesteps").scalars
            XCTAssertEqual(scheduler.timesteps.count, expectedTimesteps.count, c.file)
            for (a, b) in zip(scheduler.timesteps, expectedTimesteps) { XCTAssertEqual(a, b, accuracy: abs(b) * 1e-5 + 1e-4, "\(c.file) timesteps") }
            XCTAssertEqual(scheduler.initNoiseSigma, try e.tensor("init_noise_sigma")[flat: 0], accuracy: 1e-4, c.file)
            let (final, _) = try run(c)
            let err = final.relativeError(to: try e.image("final"))
            XCTAssertLessThanOrEqual(err, 1e-4, "\(c.file): relative error \(err)")
        }
    }

    func testSavedStateResumesBitIdentically() throws {
        for c in try SchedulerParityTests.cases() {
            let (straight, _) = try run(c)
            let count = try c.make().timesteps.count
            for k in [1, count / 2, count - 1] where k > 0 && k < count {
                let (resumed, _) = try run(c, interruptAt: k)
                XCTAssertTrue(resumed.scalars == straight.scalars, "\(c.file) resumed after step \(k)")
            }
        }
    }

    /// LCM draws noise after every step but the last, TCD only with eta > 0: the generator ends
    /// where diffusers' does, so what the pipeline draws next (the refiner's noise) is the same.
    func testFewStepSchedulersLeaveTheGeneratorWhereDiffusersDoes() throws {
        let cases = try SchedulerParityTests.cases().filter { ["lcm", "tcd"].contains($0.scheduler) || $0.eta != nil }
        XCTAssertGreaterThanOrEqual(cases.count, 10)
        for c in cases {
            var scheduler = try c.make()
            var generator = TorchGenerator(seed: 7)
            var sample = generator.randn([1, 4, 6, 5]).nchwToNHWC()
            for t in scheduler.timesteps {
                let input = scheduler.scaleModelInput(sample)
                sample = scheduler.step(modelOutput: SchedulerParityTests.syntheticModel(input, t: t), sample: sample, generator: &generator)
            }
            // Equal to float32 rounding (torch's vectorised Box-Muller), a draw apart otherwise.
            let next = generator.randn([1, 4, 6, 5]), expected = try Expected(c.file).tensor("next_draw")
            let apart = zip(next.scalars, expected.scalars).map { abs($0 - $1) }.max() ?? .infinity
            XCTAssertLessThan(apart, 1e-5, c.file)
        }
    }

    func testFewStepSchedulersRefuseWhatDiffusersRefuses() throws {
        let c = try SchedulerParityTests.cases()[0]
        let config = try SchedulerParityTests.config(c)
        func message(_ body: () throws -> Any) -> String {
            do { _ = try body(); return "no error" } catch { return "\(error)" }
        }
        XCTAssertContains(message { try SchedulerKind.lcm.make(config: config, steps: 51) }, "use at most 50 steps")
        XCTAssertContains(message { try SchedulerKind.lcm.make(config: config, steps: 20, strength: 0.3) }, "use at most 15 steps")
        XCTAssertContains(message { try SchedulerKind.tcd.make(config: config, steps: 4, strength: 0) }, "strength")
        XCTAssertContains(message { try SchedulerKind.tcd.make(config: config, steps: 4, eta: 1.5) }, "eta must be between 0 and 1")
        XCTAssertContains(message { try SchedulerKind.euler.make(config: config, steps: 4, eta: 0.3) }, "schedulers that do: ddim, tcd")
        XCTAssertContains(message { try SchedulerKind.ddim.make(config: config, steps: 4, strength: 0.5) }, "schedulers that do: lcm, tcd")
        var values = config.values
        values["original_inference_steps"] = 1001.0
        XCTAssertContains(message { try SchedulerKind.lcm.make(config: ConfigFile(path: "c", values: values), steps: 4) }, "1000 training timesteps")
        // TCD with original_inference_steps null takes from every training timestep, LCM refuses it.
        let null = try ConfigFile(path: "c", data: Data(#"{"original_inference_steps": null, "beta_schedule": "scaled_linear", "beta_start": 0.00085, "beta_end": 0.012}"#.utf8))
        XCTAssertEqual(try SchedulerKind.tcd.make(config: null, steps: 4).timesteps, [999, 749, 499, 249])
        XCTAssertContains(message { try SchedulerKind.lcm.make(config: null, steps: 4) }, "not null")
        // A TCD state saved with one eta does not resume with another.
        var tcd = try SchedulerKind.tcd.make(config: config, steps: 4, eta: 0.5)
        XCTAssertThrowsError(try tcd.restore(try SchedulerKind.tcd.make(config: config, steps: 4, eta: 0.3).savedState()))
    }

    func XCTAssertContains(_ text: String, _ part: String, line: UInt = #line) {
        XCTAssertTrue(text.contains(part), "'\(text)' lacks '\(part)'", line: line)
    }

    func testBadNamesAndSteps() throws {
        XCTAssertThrowsError(try SchedulerKind(name: "plms")) { XCTAssertTrue("\($0)".contains("euler-a"), "\($0)") }
        let c = try SchedulerParityTests.cases()[0]
        XCTAssertThrowsError(try SchedulerKind.euler.make(config: try SchedulerParityTests.config(c), steps: 0))
        var s = try SchedulerKind.heun.make(config: try SchedulerParityTests.config(c), steps: 3)
        XCTAssertThrowsError(try s.restore(SchedulerState(scheduler: "euler", stepIndex: 1)))
    }
}
