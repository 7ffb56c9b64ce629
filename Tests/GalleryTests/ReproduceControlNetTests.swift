@testable import Gallery
import Pipelines
import XCTest

/// The gallery's reproduce command and the PNG's parameters text carry each ControlNet with its
/// control image, scale and window, in order, and guess mode; nothing about ControlNet without one.
final class ReproduceControlNetTests: XCTestCase {
    func record(_ request: RenderRequest, hashes: [String]? = nil) -> Provenance {
        var p = Provenance(kilnVersion: "t", request: request, width: 72, height: 56, scheduler: "euler", schedulerClass: "EulerDiscreteScheduler",
                           seed: 9, imageIndex: 0, model: "/models/base", modelHash: "abc", watermarkBits: nil, seconds: 1)
        p.controlnetHashes = hashes
        return p
    }

    func testReproduceCommandAndParametersCarryTheControlNets() throws {
        var request = RenderRequest(prompt: "a lighthouse")
        let plain = RenderCommandLine.make(record(request), config: nil)
        XCTAssertFalse(plain.contains("control"), plain)
        XCTAssertFalse(record(request).parametersText.contains("ControlNet"))
        for (name, value) in [("controlnet", "/cn/canny"), ("control-image", "/in/edges 1.png"), ("controlnet", "/cn/depth"),
                              ("control-image", "/in/depth.png"), ("control-scale", "0.5"), ("control-scale", "0.8"), ("control-end", "0.7")] {
            try XCTUnwrap(RenderParameters.named(name)).apply(.text(value), to: &request)
        }
        try XCTUnwrap(RenderParameters.named("guess-mode")).apply(.flag(true), to: &request)
        let command = RenderCommandLine.make(record(request, hashes: ["aaaa1111", "bbbb2222"]), config: nil)
        XCTAssertTrue(command.contains(" --controlnet /cn/canny --control-image '/in/edges 1.png' --controlnet /cn/depth --control-image /in/depth.png "),
                      command)
        XCTAssertTrue(command.contains(" --control-scale '0.5;0.8' "), command)
        XCTAssertTrue(command.contains(" --control-end 0.7 "), command)
        XCTAssertTrue(command.contains(" --guess-mode "), command)
        XCTAssertFalse(command.contains("--control-start"), command)
        let text = record(request, hashes: ["aaaa1111", "bbbb2222"]).parametersText
        XCTAssertTrue(text.contains(#"ControlNet 0: "Model: canny [aaaa1111], Image: edges 1.png, Weight: 0.5, Guidance Start: 0.0, Guidance End: 0.7, Guess Mode: True""#), text)
        XCTAssertTrue(text.contains(#"ControlNet 1: "Model: depth [bbbb2222], Image: depth.png, Weight: 0.8"#), text)
    }
}
