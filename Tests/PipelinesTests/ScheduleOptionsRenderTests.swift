import Foundation
import KilnTestSupport
import Numerics
import Pipelines
import Schedulers
import XCTest

/// Whole renders with `--scheduler-config`, `--timesteps` and `--sigmas` against diffusers'
/// StableDiffusionXLPipeline with the scheduler made by `from_config(config, **overrides)` and the
/// pipeline's `timesteps=`/`sigmas=` (renders-scheduler-config.json): pixels within one level,
/// final latents at 1e-4 relative; resumed renders bit-identical; the options as parameters,
/// stored only when set and written in the PNG's parameters text.
final class ScheduleOptionsRenderTests: XCTestCase {
    static let models = ModelCache()
    static let base = ModelReference(path: Fixtures.model("tiny-sdxl-base"))

    struct Case: Decodable {
        let name: String
        let scheduler: String
        let seed: UInt64
        let args: [String: Arg]
        let schedulerConfig: String
        enum CodingKeys: String, CodingKey { case name, scheduler, seed, args, schedulerConfig = "scheduler_config" }
    }

    enum Arg: Decodable {
        case number(Double), text(String), list([Double])
        init(from decoder: Decoder) throws {
            let c = try decoder.singleValueContainer()
            if let n = try? c.decode(Double.self) { self = .number(n) } else if let s = try? c.decode(String.self) { self = .text(s) } else { self = .list(try c.decode([Double].self)) }
        }
        /// The value as a user types it (lists comma-separated).
        var parameter: ParameterValue {
            switch self {
            case .number(let n): return .number(n)
            case .text(let s): return .text(s)
            case .list(let l): return .text(l.map { ParameterValue.number($0).description }.joined(separator: ","))
            }
        }
    }

    static func cases() throws -> [Case] {
        let data = try XCTUnwrap(FileManager.default.contents(atPath: Fixtures.expected("renders-scheduler-config.json")))
        return try JSONDecoder().decode([Case].self, from: data)
    }

    /// The request a user's options make: every value through the parameter table, as `kiln render` does.
    static func request(_ c: Case) throws -> RenderRequest {
        var r = RenderRequest(prompt: "")
        var values: [(String, ParameterValue)] = [("scheduler", .text(c.scheduler)), ("seed", .number(Double(c.seed))), ("watermark", .flag(false))]
        if !c.schedulerConfig.isEmpty { values.append(("scheduler-config", .text(c.schedulerConfig))) }
        for (key, arg) in c.args { values.append((key, key == "image" ? .text(Fixtures.path("images/\(arg.parameter)")) : arg.parameter)) }
        for (key, value) in values {
            try XCTUnwrap(RenderParameters.named(key), key).apply(value, to: &r)
        }
        try r.validate()
        return r
    }

    /// The input image of an image-to-image case, read as `kiln render --image` reads it.
    static func inputs(_ r: RenderRequest) throws -> RenderInputs {
        guard let path = r.image?.file else { return RenderInputs() }
        return try InputFiles.decode(image: (try Data(contentsOf: URL(fileURLWithPath: path)), path), mask: nil, latents: nil)
    }

    func testRendersMatchDiffusersWithinOneLevelAndTheirLatents() throws {
        let cases = try Self.cases()
        XCTAssertGreaterThanOrEqual(cases.count, 4)
        XCTAssertTrue(cases.contains { $0.args["timesteps"] != nil } && cases.contains { $0.args["sigmas"] != nil })
        XCTAssertTrue(cases.contains { $0.args["image"] != nil }, "an image-to-image case")
        for c in cases {
            let r = try Self.request(c)
            let session = try RenderSession(request: r, model: Self.base, inputs: try Self.inputs(r), models: Self.models)
            while !session.isFinished { try session.advance() }
            let e = try Expected("render-config-" + c.name)
            let latents = try session.snapshot().latents.tensor()
            let err = latents.relativeError(to: try e.image("latents"))
            XCTAssertLessThanOrEqual(err, 1e-4, "\(c.name): latents relative error \(err)")
            guard case .images(let images) = try session.finish() else { XCTFail("\(c.name): no images"); continue }
            let result = PixelComparison(images.map { ($0.width, $0.height, $0.pixels) }, try e.tensor("pixels"))
            XCTAssertTrue(result.sizesMatch && result.worst <= 1, "\(c.name): \(result)")
        }
    }

    /// Stopped after step 2 and resumed from the saved state, a render with a custom schedule and
    /// scheduler config is bit-identical to one that ran straight through.
    func testResumedRendersAreBitIdentical() throws {
        for c in try Self.cases() {
            let r = try Self.request(c)
            guard r.steps >= 3, r.image == nil else { continue }
            guard case .images(let straight) = try RenderSession(request: r, model: Self.base, models: Self.models).run(progress: { _, _ in true }) else {
                XCTFail(c.name); continue
            }
            let session = try RenderSession(request: r, model: Self.base, models: Self.models)
            try session.advance()
            try session.advance()
            let state = try JSONDecoder().decode(DenoiseState.self, from: try JSONEncoder().encode(session.snapshot()))
            let stored = try JSONDecoder().decode(RenderRequest.self, from: try JSONEncoder().encode(r))
            XCTAssertEqual(stored, r, "\(c.name): the request round-trips through its stored form")
            let resumed = try RenderSession(request: stored, model: Self.base, models: ModelCache(), resuming: state)
            XCTAssertEqual(resumed.completedSteps, 2, c.name)
            guard case .images(let again) = try resumed.run(progress: { _, _ in true }) else { XCTFail(c.name); continue }
            XCTAssertTrue(straight == again, "\(c.name) resumed after step 2")
        }
    }

    func testOptionsAreStoredOnlyWhenSetAndWrittenInTheParametersText() throws {
        var r = RenderRequest(prompt: "a cat")
        let plain = String(decoding: try JSONEncoder().encode(r), as: UTF8.self)
        for key in ["scheduler_config", "timesteps", "sigmas"] { XCTAssertFalse(plain.contains(key), plain) }
        try RenderParameters.named("scheduler-config")!.apply(.text("timestep_spacing=trailing"), to: &r)
        try RenderParameters.named("scheduler-config")!.apply(.text("prediction_type=sample;use_karras_sigmas=false"), to: &r)
        try RenderParameters.named("timesteps")!.apply(.text("999, 759,499,259"), to: &r)
        XCTAssertEqual(r.steps, 4)
        XCTAssertEqual(r.timesteps, [999, 759, 499, 259])
        XCTAssertEqual(RenderParameters.named("scheduler-config")!.value(in: r), "prediction_type=sample;timestep_spacing=trailing;use_karras_sigmas=false")
        XCTAssertEqual(RenderParameters.named("scheduler_config")!.column, "scheduler_overrides")
        let json = String(decoding: try JSONEncoder().encode(r), as: UTF8.self)
        XCTAssertTrue(json.contains(#""timesteps":[999,759,499,259]"#), json)
        XCTAssertTrue(json.contains(#""use_karras_sigmas":false"#), json)
        let record = Provenance(kilnVersion: "test", request: r, width: 64, height: 64, scheduler: "euler", schedulerClass: "EulerDiscreteScheduler",
                                seed: 1, imageIndex: 0, model: "m", modelHash: "h", watermarkBits: nil, seconds: 1)
        XCTAssertTrue(record.parametersText.contains(#"Scheduler config: "prediction_type=sample;timestep_spacing=trailing;use_karras_sigmas=false""#), record.parametersText)
        XCTAssertTrue(record.parametersText.contains(#"Steps: 4,"#) && record.parametersText.contains(#"Timesteps: "999,759,499,259""#), record.parametersText)
        XCTAssertNoThrow(try r.validate())
        try RenderParameters.named("sigmas")!.apply(.text("14.6,4.2,1.1,0"), to: &r)
        XCTAssertEqual(r.steps, 3)
        XCTAssertThrowsError(try r.validate()) { XCTAssertTrue("\($0)".contains("give --timesteps or --sigmas, not both"), "\($0)") }
        r.timesteps = nil
        let sigmas = Provenance(kilnVersion: "test", request: r, width: 64, height: 64, scheduler: "euler", schedulerClass: "EulerDiscreteScheduler",
                                seed: 1, imageIndex: 0, model: "m", modelHash: "h", watermarkBits: nil, seconds: 1)
        XCTAssertTrue(sigmas.parametersText.contains(#"Sigmas: "14.6,4.2,1.1,0""#), sigmas.parametersText)
    }

    /// Bad input is refused by the request alone (one line each), or, needing the model, before
    /// the first step.
    func testBadInputIsRefusedInOneLine() throws {
        func refusal(_ edit: (inout RenderRequest) throws -> Void) -> String {
            do {
                var r = RenderRequest(prompt: "a cat")
                r.width = 64; r.height = 64
                try edit(&r)
                try r.validate()
                try r.checkSchedule(model: Self.base)
                _ = try RenderSession(request: r, model: Self.base, models: Self.models)
                return "no error"
            } catch { return "\(error)" }
        }
        func set(_ name: String, _ value: String) -> (inout RenderRequest) throws -> Void {
            { r in try RenderParameters.named(name)!.apply(.text(value), to: &r) }
        }
        let cases: [((inout RenderRequest) throws -> Void, String)] = [
            (set("timesteps", "999,259,499"), "must be in descending order"),
            (set("timesteps", "999,499,499"), "499 is repeated"),
            (set("timesteps", "1000,499"), "1000 is outside the model's training range 0...999"),
            (set("timesteps", "999,a"), "must be integers separated by commas"),
            ({ r in try set("timesteps", "999,499")(&r); r.steps = 3 }, "--timesteps gives 2 steps, not 3; drop --steps"),
            ({ r in r.scheduler = .ddim; try set("timesteps", "999,499")(&r) }, "schedulers that do: euler, dpmpp-2m, heun, lcm, tcd"),
            ({ r in r.scheduler = .unipc; try set("sigmas", "14,1,0")(&r) }, "schedulers that do: euler"),
            (set("sigmas", "1,14,0"), "must be in descending order"),
            ({ r in r.scheduler = .heun; try set("scheduler-config", "rescale_betas_zero_snr=true")(&r) }, "has no config key 'rescale_betas_zero_snr'"),
            // The model's own scheduler (Euler for the tiny base) is known only with the model.
            (set("scheduler-config", "solver_order=2"), "scheduler 'euler' (EulerDiscreteScheduler) has no config key 'solver_order'"),
            (set("scheduler-config", "foo_bar=1"), "no scheduler has a config key 'foo_bar'"),
            (set("scheduler-config", "timestep_spacing=sideways"), "(supported: linspace, leading, trailing)"),
            (set("scheduler-config", "spacing"), "must be KEY=VALUE"),
            ({ r in r.scheduler = .eulerAncestral; try set("scheduler-config", "prediction_type=sample")(&r) }, "cannot take prediction_type=sample"),
            ({ r in try set("scheduler-config", "use_karras_sigmas=true")(&r); try set("timesteps", "999,499")(&r) }, "cannot take timesteps with Karras sigmas"),
        ]
        for (i, (edit, expected)) in cases.enumerated() {
            let message = refusal(edit)
            XCTAssertTrue(message.contains(expected), "case \(i): '\(message)' lacks '\(expected)'")
            XCTAssertFalse(message.contains("\n"), "case \(i): one line")
        }
        XCTAssertEqual(refusal(set("timesteps", "999,759,499,259")), "no error")
    }
}
