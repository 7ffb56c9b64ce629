import Foundation
import KilnTestSupport
import ModelFiles
import XCTest

/// Models named by Hugging Face Hub id, found in a cache laid out as huggingface_hub writes it.
final class HubCacheTests: XCTestCase {
    var dir = ""
    var cache: HubCacheFixture!
    let commitA = String(repeating: "a1", count: 20), commitB = String(repeating: "b2", count: 20)
    let tiny = Fixtures.model("tiny-sdxl-base")

    override func setUpWithError() throws {
        dir = try Fixtures.temporaryDirectory()
        cache = try HubCacheFixture(root: dir + "/hub")
    }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: dir) }

    func snapshot(_ argument: String) throws -> HubSnapshot {
        try HubCache(root: cache.root).snapshot(try XCTUnwrap(HubModelID(argument), argument))
    }

    func error(_ argument: String) -> String {
        XCTAssertThrowsError(try snapshot(argument)) { _ in }
        do { _ = try snapshot(argument); return "" } catch { return "\(error)" }
    }

    func testGitBlobIdIsGits() {
        XCTAssertEqual(GitBlobSHA1.hex(Data()), "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391")
        XCTAssertEqual(GitBlobSHA1.hex(Data("hello\n".utf8)), "ce013625030ba8dba906f756967f9e9ca394464a")
    }

    func testCacheRootFollowsHuggingfaceHubsOrder() {
        let home = "/home/u"
        XCTAssertEqual(HubCache(environment: ["HOME": home]).root, "/home/u/.cache/huggingface/hub")
        XCTAssertEqual(HubCache(environment: ["HOME": home, "XDG_CACHE_HOME": "/x"]).root, "/x/huggingface/hub")
        XCTAssertEqual(HubCache(environment: ["HOME": home, "XDG_CACHE_HOME": "/x", "HF_HOME": "~/hf"]).root, "/home/u/hf/hub")
        XCTAssertEqual(HubCache(environment: ["HOME": home, "HF_HOME": "/h", "HUGGINGFACE_HUB_CACHE": "/legacy"]).root, "/legacy")
        XCTAssertEqual(HubCache(environment: ["HOME": home, "HF_HOME": "/h", "HUGGINGFACE_HUB_CACHE": "/legacy", "HF_HUB_CACHE": "/c"]).root, "/c")
    }

    func testHubIdShapes() {
        XCTAssertEqual(HubModelID("stabilityai/stable-diffusion-xl-base-1.0")?.repo, "stabilityai/stable-diffusion-xl-base-1.0")
        XCTAssertEqual(HubModelID("org/name@v1.0")?.revision, "v1.0")
        XCTAssertEqual(HubModelID("org/name@refs/pr/3")?.revision, "refs/pr/3")
        XCTAssertEqual(HubModelID("org/name")?.downloadCommand, "hf download org/name")
        XCTAssertEqual(HubModelID("org/name@fp16")?.downloadCommand, "hf download org/name --revision fp16")
        for path in ["name", "/org/name", "org/name/unet", "./org", "org/", "/name", "org/-name", "org/na--me", "org/na..me",
                     "org/name.", "org/name@", "org/name@../x", "org/na me", "~/models", "models/x.safetensors@"] {
            XCTAssertNil(HubModelID(path), path)
        }
        XCTAssertEqual(HubModelID("models/sdxl.safetensors")?.repo, "models/sdxl.safetensors", "shaped like an id: the path rule decides")
    }

    func testMainResolvesThroughRefsToTheSnapshot() throws {
        let path = try cache.add(repo: "org/tiny", commit: commitA, from: tiny)
        let link = path + "/unet/config.json"
        XCTAssertTrue(try FileManager.default.destinationOfSymbolicLink(atPath: link).hasPrefix("../../../blobs/"))
        XCTAssertEqual(try String(contentsOfFile: cache.repoFolder("org/tiny") + "/refs/main", encoding: .utf8), commitA)
        let s = try snapshot("org/tiny")
        XCTAssertEqual(s, HubSnapshot(repo: "org/tiny", commit: commitA, path: path))
        XCTAssertEqual(HubSnapshot(path: s.path), s)
        XCTAssertEqual(HubSnapshot(path: path + "/"), HubSnapshot(repo: "org/tiny", commit: commitA, path: path + "/"))
        XCTAssertNil(HubSnapshot(path: tiny))
        XCTAssertNil(HubSnapshot(path: cache.repoFolder("org/tiny") + "/snapshots/abc"))
        // Its weights open through the symlinks.
        XCTAssertNotNil(try DiffusersFolder(path: s.path).weights("text_encoder"))
    }

    func testCommitAndBranchRevisions() throws {
        try cache.add(repo: "org/tiny", commit: commitA, from: tiny)
        try cache.add(repo: "org/tiny", commit: commitB, from: tiny, ref: "fp16")
        XCTAssertEqual(try snapshot("org/tiny").commit, commitA)
        XCTAssertEqual(try snapshot("org/tiny@fp16").commit, commitB)
        XCTAssertEqual(try snapshot("org/tiny@\(commitB)").commit, commitB, "a 40-hex revision names the commit")
        try cache.setRef(repo: "org/tiny", "main", to: commitB)
        XCTAssertEqual(try snapshot("org/tiny").commit, commitB)
        let e = error("org/tiny@v2")
        XCTAssertTrue(e.contains("revision 'v2'") && e.contains("`hf download org/tiny --revision v2`"), e)
        let c = error("org/tiny@\(String(repeating: "c3", count: 20))")
        XCTAssertTrue(c.contains("snapshot c3c3") && c.contains("--revision c3c3"), c)
    }

    func testMissingRepoNamesTheCacheAndTheDownload() {
        let e = error("org/absent")
        XCTAssertTrue(e.contains(cache.root) && e.contains("`hf download org/absent`") && e.contains("no such folder"), e)
        XCTAssertFalse(e.contains("\n"))
    }

    func testIncompleteSnapshotNamesTheMissingFiles() throws {
        try cache.add(repo: "org/tiny", commit: commitA, from: tiny,
                      skipping: ["unet/diffusion_pytorch_model-00003-of-00004.safetensors", "tokenizer_2/merges.txt"])
        let e = error("org/tiny")
        XCTAssertTrue(e.contains("unet/diffusion_pytorch_model-00003-of-00004.safetensors, tokenizer_2/merges.txt"), e)
        XCTAssertTrue(e.hasSuffix("`hf download org/tiny`"), e)
        try cache.add(repo: "org/vae-only", commit: commitA, from: tiny, skipping: ["model_index.json"])
        XCTAssertTrue(error("org/vae-only").contains("lacks model_index.json"))
        try cache.add(repo: "org/no-unet", commit: commitA, from: tiny, skipping: [
            "unet/diffusion_pytorch_model.safetensors.index.json", "unet/config.json"])
        XCTAssertTrue(error("org/no-unet").contains("lacks unet/config.json, unet/diffusion_pytorch_model.safetensors"))
    }

    func testFP16VariantAloneIsComplete() throws {
        // text_encoder holds both; without its plain file the snapshot is complete for
        // diffusers' variant="fp16" and for Kiln's default (plain, else fp16), which loads it.
        // diffusers' variant=None does not (no model.safetensors), nor Kiln's --variant none
        // (WeightVariantTests).
        try cache.add(repo: "org/tiny", commit: commitA, from: tiny, skipping: ["text_encoder/model.safetensors"])
        let s = try snapshot("org/tiny")
        XCTAssertEqual(s.commit, commitA)
        XCTAssertTrue(try DiffusersFolder(path: s.path).weightFiles("text_encoder").isFP16)
        XCTAssertThrowsError(try DiffusersFolder(path: s.path).weightFiles("text_encoder", variant: .plain))
    }

    func testAUNetsShardsAreCheckedEvenBesideASingleFile() throws {
        // diffusers loads a UNet's shard index before a single file beside it, so its shards must all be there.
        let source = dir + "/both"
        try FileManager.default.copyItem(atPath: tiny, toPath: source)
        try FileManager.default.copyItem(atPath: source + "/unet/diffusion_pytorch_model-00001-of-00004.safetensors",
                                         toPath: source + "/unet/diffusion_pytorch_model.safetensors")
        try cache.add(repo: "org/both", commit: commitA, from: source, skipping: ["unet/diffusion_pytorch_model-00004-of-00004.safetensors"])
        XCTAssertTrue(error("org/both").contains("lacks unet/diffusion_pytorch_model-00004-of-00004.safetensors"), error("org/both"))
    }

    func testRefHoldingNoCommitIsRefused() throws {
        try cache.add(repo: "org/tiny", commit: commitA, from: tiny)
        try cache.setRef(repo: "org/tiny", "main", to: "not a commit")
        XCTAssertTrue(error("org/tiny").contains("refs/main: does not hold a 40-hex commit hash"))
    }

    func testAnExistingPathWinsOverAHubId() throws {
        let env = HubCache(root: cache.root)
        try cache.add(repo: "org/tiny", commit: commitA, from: tiny)
        XCTAssertEqual(try ModelLocation.resolve("org/tiny", relativeTo: dir, cache: env), cache.repoFolder("org/tiny") + "/snapshots/" + commitA)
        try FileManager.default.createDirectory(atPath: dir + "/org/tiny", withIntermediateDirectories: true)
        XCTAssertEqual(try ModelLocation.resolve("org/tiny", relativeTo: dir, cache: env), dir + "/org/tiny")
        XCTAssertEqual(try ModelLocation.resolve(tiny, relativeTo: dir, cache: env), tiny)
        // Not id-shaped, or written as a path: a path, missing or not.
        XCTAssertEqual(try ModelLocation.resolve("./org/absent", relativeTo: dir, cache: env), dir + "/./org/absent")
        XCTAssertEqual(try ModelLocation.resolve("models/base/unet", relativeTo: dir, cache: env), dir + "/models/base/unet")
        XCTAssertThrowsError(try ModelLocation.resolve("org/absent", relativeTo: dir, cache: env))
    }

    func testFileInARepoResolvesOrNamesTheMissingFile() throws {
        let env = HubCache(root: cache.root)
        try cache.add(repo: "org/tiny", commit: commitA, from: tiny)
        let snapshot = cache.repoFolder("org/tiny") + "/snapshots/" + commitA
        XCTAssertEqual(try ModelLocation.resolveFile("org/tiny:vae/config.json", relativeTo: dir, cache: env), snapshot + "/vae/config.json")
        XCTAssertEqual(try ModelLocation.resolveFile("org/tiny@\(commitA):vae/config.json", relativeTo: dir, cache: env), snapshot + "/vae/config.json")
        XCTAssertThrowsError(try ModelLocation.resolveFile("org/tiny:lora.safetensors", relativeTo: dir, cache: env)) { error in
            XCTAssertTrue("\(error)".contains("lacks lora.safetensors") && "\(error)".hasSuffix("`hf download org/tiny`"), "\(error)")
        }
        // Leaving the snapshot, or not id-shaped: a path.
        XCTAssertEqual(try ModelLocation.resolveFile("org/tiny:../x", relativeTo: dir, cache: env), dir + "/org/tiny:../x")
        XCTAssertEqual(try ModelLocation.resolveFile("style.safetensors", relativeTo: dir, cache: env), dir + "/style.safetensors")
    }
}
