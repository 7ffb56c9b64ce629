import Foundation
import KilnTestSupport
import ModelFiles
import XCTest

/// `--unet` (one component) by Hub id: `org/name` is the repo's snapshot itself, a repo holding one
/// component and no pipeline files (latent-consistency/lcm-sdxl), and `org/name:PATH` a file or
/// folder in it (ByteDance/SDXL-Lightning's UNet files).
final class ComponentLocationTests: XCTestCase {
    var dir = ""
    override func setUpWithError() throws { dir = try Fixtures.temporaryDirectory() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: dir) }

    func testComponentRepoAndFileInARepo() throws {
        let fixture = try HubCacheFixture(root: dir + "/hub")
        let cache = HubCache(root: fixture.root)
        let lcm = try fixture.add(repo: "latent-consistency/lcm-sdxl", commit: String(repeating: "c3", count: 20),
                                  from: Fixtures.model("unets/lcm-unet"))
        let lightning = try fixture.add(repo: "ByteDance/SDXL-Lightning", commit: String(repeating: "d4", count: 20),
                                        from: Fixtures.model("unets/swap-unet"))
        XCTAssertEqual(try ModelLocation.resolveComponent("latent-consistency/lcm-sdxl", relativeTo: dir, cache: cache), lcm)
        XCTAssertEqual(try ModelLocation.resolveComponent("ByteDance/SDXL-Lightning:diffusion_pytorch_model.fp16.safetensors",
                                                          relativeTo: dir, cache: cache),
                       lightning + "/diffusion_pytorch_model.fp16.safetensors")
        // The snapshot opens as a UNet folder through its symlinks into blobs/.
        XCTAssertEqual(try UNetFile(path: lcm).layout, .folder)
        // Not a pipeline, so --model would refuse it; a missing repo names the download.
        XCTAssertThrowsError(try cache.snapshot(try XCTUnwrap(HubModelID("latent-consistency/lcm-sdxl"))))
        XCTAssertThrowsError(try ModelLocation.resolveComponent("org/absent", relativeTo: dir, cache: cache)) {
            XCTAssertTrue("\($0)".contains("hf download org/absent"), "\($0)")
        }
        // An existing path wins, relative to the folder given.
        try FileManager.default.createDirectory(atPath: dir + "/org/absent", withIntermediateDirectories: true)
        XCTAssertEqual(try ModelLocation.resolveComponent("org/absent", relativeTo: dir, cache: cache), dir + "/org/absent")
    }
}
