@testable import Gallery
import Pipelines
import Schedulers
import XCTest

/// The gallery's reproduce command carries a TCD render's scheduler and eta, and only when set.
final class ReproduceEtaTests: XCTestCase {
    func record(_ request: RenderRequest) -> Provenance {
        Provenance(kilnVersion: "t", request: request, width: 64, height: 64, scheduler: "tcd", schedulerClass: "TCDScheduler",
                   seed: 9, imageIndex: 0, model: "/models/base", modelHash: "abc", watermarkBits: nil, seconds: 1)
    }

    func testReproduceCommandCarriesEta() {
        var request = RenderRequest(prompt: "a cat")
        request.scheduler = .tcd
        request.steps = 4
        XCTAssertFalse(RenderCommandLine.make(record(request), config: nil).contains("--eta"))
        request.eta = 0.3
        let command = RenderCommandLine.make(record(request), config: nil)
        XCTAssertTrue(command.contains(" --scheduler tcd --eta 0.3 "), command)
    }
}
