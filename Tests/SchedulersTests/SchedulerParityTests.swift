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

    static func cases() throws -> [Case] {
        let data = try XCTUnwrap(FileManager.default.contents(atPath: Fixtures.expected("schedulers.json")))
        return try JSONDecoder().decode([Case].self, from: data)
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
        var scheduler = try SchedulerKind(name: c.scheduler).make(config: try SchedulerParityTests.config(c), steps: c.steps)
        var generator = TorchGenerator(seed: 7)
        _ = generator.randn([1, 4, 6, 5])  // the fixture's starting sample was drawn from the same generator
        var sample = try e.image("start")
        for (i, t) in scheduler.timesteps.enumerated() {
            if i == interruptAt {
                // Stop, keep only plain values, and continue in a fresh scheduler.
                let saved = try JSONEncoder().encode(scheduler.savedState())
                let savedGenerator = try JSONEncoder().encode(generator)
                var fresh = try SchedulerKind(name: c.scheduler).make(config: try SchedulerParityTests.config(c), steps: c.steps)
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
            let scheduler = try SchedulerKind(name: c.scheduler).make(config: try SchedulerParityTests.config(c), steps: c.steps)
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
            let count = try SchedulerKind(name: c.scheduler).make(config: try SchedulerParityTests.config(c), steps: c.steps).timesteps.count
            for k in [1, count / 2, count - 1] where k > 0 && k < count {
                let (resumed, _) = try run(c, interruptAt: k)
                XCTAssertTrue(resumed.scalars == straight.scalars, "\(c.file) resumed after step \(k)")
            }
        }
    }

    func testBadNamesAndSteps() throws {
        XCTAssertThrowsError(try SchedulerKind(name: "plms")) { XCTAssertTrue("\($0)".contains("euler-a"), "\($0)") }
        let c = try SchedulerParityTests.cases()[0]
        XCTAssertThrowsError(try SchedulerKind.euler.make(config: try SchedulerParityTests.config(c), steps: 0))
        var s = try SchedulerKind.heun.make(config: try SchedulerParityTests.config(c), steps: 3)
        XCTAssertThrowsError(try s.restore(SchedulerState(scheduler: "euler", stepIndex: 1)))
    }
}
