import Foundation
import KilnTestSupport
import ModelFiles
import Pipelines
import QueueBackends
import RenderQueue
import RenderWorker
import XCTest

/// Few-step jobs through the queue worker: an LCM or TCD job stopped after step 2, put back and
/// finished by another worker (its own model cache) from the checkpoint in the database gives the
/// PNG bytes of a job that ran straight through; and a swapped-in UNet or VAE whose bytes changed
/// after the job was added is refused when the job runs, as a changed LoRA is.
final class FewStepQueueResumeTests: QueueTestCase {
    let model = Fixtures.model("tiny-sdxl-base")

    /// `request` with its LoRA, UNet and VAE hashes resolved, as `kiln enqueue` stores them.
    func resolved(_ request: RenderRequest) throws -> RenderRequest { try InputFiles.resolve(request).request }

    func lora(_ name: String, _ scale: Double) -> LoRAReference { LoRAReference(file: Fixtures.path("loras/" + name), sha256: "", scale: scale) }

    /// LCM-LoRA's recipe, TCD with eta and classifier-free guidance, and an LCM UNet taking guidance through its embedding.
    func cases() throws -> [(String, RenderRequest)] {
        var lcm = RenderRequest(prompt: "a lighthouse on a cliff at dawn")
        lcm.scheduler = .lcm; lcm.steps = 4; lcm.guidance = 1; lcm.width = 72; lcm.height = 56; lcm.seed = 21
        lcm.loras = [lora("layout-kohya-diffusers-names.safetensors", 1)]
        var tcd = RenderRequest(prompt: "a lighthouse on a cliff at dawn")
        tcd.negativePrompt = "fog"; tcd.scheduler = .tcd; tcd.eta = 0.3; tcd.steps = 4; tcd.guidance = 1.5
        tcd.width = 56; tcd.height = 72; tcd.seed = 23
        tcd.loras = [lora("layout-diffusers-old.safetensors", 0.8)]
        var unet = RenderRequest(prompt: "a red fox in the snow")
        unet.scheduler = .lcm; unet.steps = 4; unet.guidance = 8; unet.width = 88; unet.height = 56; unet.seed = 5
        unet.unet = UNetReference(file: Fixtures.model("unets/lcm-unet"))
        return [("lcm", try resolved(lcm)), ("tcd", try resolved(tcd)), ("lcm-unet", try resolved(unet))]
    }

    func testStoppedFewStepJobsResumeToTheSamePNG() async throws {
        try await onEachBackend { _ in
            let (store, location) = try await openQueue()
            for (name, request) in try cases() {
                let interrupted = try await store.enqueue(model: model, request: request)
                let first = Worker(store: store, options: Worker.Options(name: "first"))
                first.onStep = { _, step, _ in if step == 2 { first.stop.request() } }
                let stopped = try await first.runOne()
                XCTAssertEqual(stopped, .released(interrupted, step: 2, steps: 4), name)
                let straight = try await store.enqueue(model: model, request: request)
                let second = Worker(store: store, options: Worker.Options(name: "second"))
                let resumed = try await second.runOne()
                XCTAssertEqual(resumed, .done(interrupted), name)
                let straightThrough = try await second.runOne()
                XCTAssertEqual(straightThrough, .done(straight), name)
                let hex = backend == .sqlite ? "hex(png)" : "encode(png, 'hex')"
                let rows = try await report(location, "SELECT \(hex) FROM outputs WHERE job_id IN (\(interrupted), \(straight)) ORDER BY job_id")
                XCTAssertEqual(rows.count, 2, name)
                XCTAssertEqual(rows.first, rows.last, "\(name): the resumed job's PNG differs from the straight one's")
                let attempts = try await report(location, "SELECT attempts FROM jobs WHERE job_id = \(interrupted)")
                XCTAssertEqual(attempts, [["2"]], name)
            }
        }
    }

    func testUNetOrVAEChangedAfterEnqueueFailsTheJob() async throws {
        let unet = dir + "/lcm-unet", vae = dir + "/taesd"
        try FileManager.default.copyItem(atPath: Fixtures.model("unets/lcm-unet"), toPath: unet)
        try FileManager.default.copyItem(atPath: Fixtures.model("vae-tiny-taesd"), toPath: vae)
        var withUNet = RenderRequest(prompt: "a boat")
        withUNet.steps = 2; withUNet.width = 64; withUNet.height = 48; withUNet.scheduler = .lcm
        withUNet.unet = UNetReference(file: unet)
        var withVAE = RenderRequest(prompt: "a boat")
        withVAE.steps = 2; withVAE.width = 64; withVAE.height = 48
        withVAE.vae = VAEReference(file: vae)
        let requests = [try resolved(withUNet), try resolved(withVAE)]
        XCTAssertEqual(requests.map { $0.unet?.sha256.count ?? $0.vae?.sha256.count }, [64, 64], "hashes recorded when added")
        for folder in [unet, vae] {
            let config = try FileHandle(forWritingTo: URL(fileURLWithPath: folder + "/config.json"))
            try config.seekToEnd()
            try config.write(contentsOf: Data("\n".utf8))
            try config.close()
        }
        try await onEachBackend { _ in
            let (store, _) = try await openQueue()
            for (parameter, request) in zip(["unet", "vae"], requests) {
                let job = try await store.enqueue(model: model, request: request)
                let outcome = try await Worker(store: store, options: Worker.Options(name: "w")).runOne()
                guard case .failed(let id, let message, let kind, let retry) = outcome else { XCTFail("\(parameter): \(outcome)"); continue }
                XCTAssertEqual(id, job)
                XCTAssertEqual(kind, .permanent, message)
                XCTAssertFalse(retry)
                XCTAssertTrue(message.hasPrefix("\(parameter): ") && message.contains("changed since the job was added"), message)
            }
        }
    }
}
