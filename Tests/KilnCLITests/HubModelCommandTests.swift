import Foundation
import Imaging
import KilnTestSupport
import XCTest

/// `--model org/name[@revision]` through real `kiln` processes, from a Hugging Face cache laid
/// out as huggingface_hub writes it (HF_HUB_CACHE points at it): the image is the folder's, the
/// record names the repo and commit, a queued job keeps the snapshot it resolved, and what is
/// missing is said in one line with the `hf download` command.
final class HubModelCommandTests: QueueTestCase {
    let commitA = String(repeating: "0a", count: 20), commitB = String(repeating: "0b", count: 20)
    let common = ["--prompt", "a lighthouse at dusk", "--steps", "2", "--width", "64", "--height", "64", "--seed", "11", "--no-watermark"]

    func makeCache() throws -> (fixture: HubCacheFixture, env: [String: String]) {
        let fixture = try HubCacheFixture(root: dir + "/hf/hub")
        try fixture.add(repo: "kiln-test/tiny-sdxl", commit: commitA, from: Fixtures.model("tiny-sdxl-base"))
        try fixture.add(repo: "kiln-test/tiny-refiner", commit: commitA, from: Fixtures.model("tiny-sdxl-refiner"))
        // HF_HOME/hub is where huggingface_hub looks when HF_HUB_CACHE is unset.
        return (fixture, ["HF_HUB_CACHE": "", "HUGGINGFACE_HUB_CACHE": "", "HF_HOME": dir + "/hf"])
    }

    func testHubIdRendersTheFoldersImageAndRecordsRepoAndCommit() throws {
        let (_, env) = try makeCache()
        let byId = try KilnProcess.run(["render", "--model", "kiln-test/tiny-sdxl", "--output", dir + "/hub.png"] + common, environment: env)
        XCTAssertEqual(byId.status, 0, byId.stderr)
        let byPath = try KilnProcess.run(["render", "--model", Fixtures.model("tiny-sdxl-base"), "--output", dir + "/folder.png"] + common)
        XCTAssertEqual(byPath.status, 0, byPath.stderr)
        let (hub, folder) = (try PNGFile.read(dir + "/hub.png"), try PNGFile.read(dir + "/folder.png"))
        XCTAssertEqual(hub.image.width, 64)
        XCTAssertTrue(hub.image.pixels == folder.image.pixels, "the cache's snapshot renders the folder's pixels")
        let record = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(try XCTUnwrap(hub.text["kiln"]).utf8)) as? [String: Any])
        let plain = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(try XCTUnwrap(folder.text["kiln"]).utf8)) as? [String: Any])
        XCTAssertEqual(record["modelRepo"] as? String, "kiln-test/tiny-sdxl")
        XCTAssertEqual(record["modelCommit"] as? String, commitA)
        XCTAssertEqual(record["modelHash"] as? String, plain["modelHash"] as? String, "the model hash is the content's")
        XCTAssertNil(plain["modelRepo"], "a folder path writes no Hub keys")
        XCTAssertNil(plain["modelCommit"])
        XCTAssertTrue(try XCTUnwrap(hub.text["parameters"]).contains("Model: kiln-test/tiny-sdxl"))
    }

    /// `--lora org/name:FILE:SCALE` reads FILE from the repo's snapshot: the image is the path's.
    func testLoRAFromTheCacheRendersAsItsPath() throws {
        let (fixture, env) = try makeCache()
        let loras = dir + "/lora-repo"
        try FileManager.default.createDirectory(atPath: loras, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: Fixtures.path("loras/lantern-peft.safetensors"), toPath: loras + "/pytorch_lora_weights.safetensors")
        try fixture.add(repo: "kiln-test/lantern", commit: commitA, from: loras)
        let a = try KilnProcess.run(["render", "--model", "kiln-test/tiny-sdxl", "--lora", "kiln-test/lantern:pytorch_lora_weights.safetensors:0.8",
                                     "--output", dir + "/hub.png"] + common, environment: env)
        XCTAssertEqual(a.status, 0, a.stderr)
        let b = try KilnProcess.run(["render", "--model", Fixtures.model("tiny-sdxl-base"), "--lora", Fixtures.path("loras/lantern-peft.safetensors") + ":0.8",
                                     "--output", dir + "/path.png"] + common)
        XCTAssertEqual(b.status, 0, b.stderr)
        let c = try KilnProcess.run(["render", "--model", Fixtures.model("tiny-sdxl-base"), "--output", dir + "/none.png"] + common)
        XCTAssertEqual(c.status, 0, c.stderr)
        let (x, y, z) = (try PNGFile.read(dir + "/hub.png").image, try PNGFile.read(dir + "/path.png").image, try PNGFile.read(dir + "/none.png").image)
        XCTAssertTrue(x.pixels == y.pixels, "the cached LoRA renders as its path")
        XCTAssertFalse(x.pixels == z.pixels, "the LoRA changed the image")
        let r = try KilnProcess.run(["render", "--model", "kiln-test/tiny-sdxl", "--lora", "kiln-test/lantern@v3:lora.safetensors",
                                     "--output", dir + "/x.png"] + common, environment: env)
        XCTAssertNotEqual(r.status, 0)
        XCTAssertEqual(r.stderrLines.count, 1, r.stderr)
        XCTAssertTrue(r.stderr.contains("--lora kiln-test/lantern@v3: revision 'v3'") && r.stderr.contains("`hf download kiln-test/lantern --revision v3`"), r.stderr)
    }

    func testMissingModelOrFilesSayWhatAndHowInOneLine() throws {
        let (fixture, env) = try makeCache()
        func refused(_ model: String, _ expected: [String], extra: [String] = []) throws {
            let r = try KilnProcess.run(["render", "--model", model, "--output", dir + "/x.png"] + common + extra, environment: env)
            XCTAssertNotEqual(r.status, 0, model)
            XCTAssertEqual(r.stderrLines.count, 1, r.stderr)
            for text in expected { XCTAssertTrue(r.stderr.contains(text), "\(text) in: \(r.stderr)") }
            XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/x.png"))
        }
        try refused("kiln-test/absent", ["--model kiln-test/absent: no such folder", dir + "/hf/hub", "`hf download kiln-test/absent`"])
        try refused("kiln-test/tiny-sdxl@v2", ["revision 'v2'", "`hf download kiln-test/tiny-sdxl --revision v2`"])
        try fixture.add(repo: "kiln-test/partial", commit: commitB, from: Fixtures.model("tiny-sdxl-base"), skipping: ["vae/diffusion_pytorch_model.safetensors"])
        try refused("kiln-test/partial", ["lacks vae/diffusion_pytorch_model.safetensors", "`hf download kiln-test/partial`"])
        try refused(Fixtures.model("tiny-sdxl-base"), ["--refiner kiln-test/no-refiner: no such folder", "`hf download kiln-test/no-refiner`"],
                    extra: ["--refiner", "kiln-test/no-refiner"])
        // A sweep: nothing enqueued, the spec's key named.
        let spec = dir + "/spec.yaml", db = dir + "/q.db"
        try "model: kiln-test/absent@v1\nbase: {prompt: a fox}\n".write(toFile: spec, atomically: true, encoding: .utf8)
        let s = try KilnProcess.run(["sweep", "--db", db, spec], environment: env)
        XCTAssertNotEqual(s.status, 0)
        XCTAssertEqual(s.stderrLines.count, 1, s.stderr)
        XCTAssertTrue(s.stderr.contains("'model' kiln-test/absent@v1: no such folder") && s.stderr.contains("`hf download kiln-test/absent --revision v1`"), s.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: db), "nothing written")
    }

    /// A job stores the snapshot folder it resolved: when refs/main moves on to another commit
    /// after enqueue (or sweep), the job renders, and records, the commit it was given.
    func testQueuedJobKeepsTheSnapshotItResolved() throws {
        try onEachBackend { _ in
            let (fixture, env) = try makeCache()
            let db = try queue("hub")
            let snapshotA = fixture.repoFolder("kiln-test/tiny-sdxl") + "/snapshots/" + commitA
            let e = try KilnProcess.run(["enqueue", "--db", db, "--model", "kiln-test/tiny-sdxl", "--refiner", "kiln-test/tiny-refiner",
                                         "--high-noise-frac", "0.5"] + common, environment: env)
            XCTAssertEqual(e.status, 0, e.stderr)
            let spec = dir + "/spec.yaml"
            try "model: kiln-test/tiny-sdxl\nbase: {prompt: a fox, steps: 1, width: 64, height: 64, seed: 3}\n"
                .write(toFile: spec, atomically: true, encoding: .utf8)
            let s = try KilnProcess.run(["sweep", "--db", db, spec], environment: env)
            XCTAssertEqual(s.status, 0, s.stderr)
            // The cache moves on: main now names commit B, whose files differ (no usable UNet).
            try fixture.add(repo: "kiln-test/tiny-sdxl", commit: commitB, from: Fixtures.model("tiny-sdxl-base"),
                            skipping: ["unet/diffusion_pytorch_model-00001-of-00004.safetensors"])
            XCTAssertEqual(try KilnProcess.query(db, "SELECT model FROM v_jobs ORDER BY job_id"), [snapshotA, snapshotA])
            let w = try KilnProcess.run(["work", "--db", db, "--until-empty"], environment: ["HF_HUB_CACHE": "/nonexistent"])
            XCTAssertEqual(w.status, 0, w.stderr)
            XCTAssertEqual(try KilnProcess.query(db, "SELECT state FROM v_jobs ORDER BY job_id"), ["done", "done"])
            XCTAssertEqual(try KilnProcess.query(db, "SELECT model_repo, model_commit FROM v_outputs ORDER BY job_id"),
                           ["kiln-test/tiny-sdxl,\(commitA)", "kiln-test/tiny-sdxl,\(commitA)"])
            let refiner = try KilnProcess.query(db, "SELECT provenance FROM v_outputs ORDER BY job_id").first ?? ""
            XCTAssertTrue(refiner.contains("refinerRepo") && refiner.contains("tiny-refiner") && refiner.contains("refinerCommit"), refiner)
        }
    }

    /// A folder path writes no Hub keys, so v_outputs shows NULL (an empty CSV field).
    func testFolderPathLeavesTheHubColumnsEmpty() throws {
        try onEachBackend { _ in
            let db = try queue("plain")
            let e = try KilnProcess.run(["enqueue", "--db", db, "--model", Fixtures.model("tiny-sdxl-base")] + common)
            XCTAssertEqual(e.status, 0, e.stderr)
            XCTAssertEqual(try KilnProcess.run(["work", "--db", db, "--until-empty"]).status, 0)
            XCTAssertEqual(try KilnProcess.query(db, "SELECT model_repo, model_commit FROM v_outputs"), [","])
        }
    }
}
