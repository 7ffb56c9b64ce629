import Schedulers
import XCTest

/// Which scheduler a request without `--scheduler` renders with: the kind of the model's own
/// scheduler_config.json class, as the pipeline's `self.scheduler` is built from it.
final class SchedulerKindTests: XCTestCase {
    func testAModelsSchedulerClassNamesItsKind() {
        for kind in SchedulerKind.allCases where kind != .dpmpp2mKarras {
            XCTAssertEqual(SchedulerKind(modelClass: kind.diffusersClass), kind, kind.diffusersClass)
        }
        // One class, two Kiln names: the config's use_karras_sigmas, not the kind, picks the sigmas.
        XCTAssertEqual(SchedulerKind(modelClass: "DPMSolverMultistepScheduler"), .dpmpp2m)
        XCTAssertEqual(SchedulerKind(modelClass: nil), .euler)
        XCTAssertEqual(SchedulerKind(modelClass: "FlowMatchEulerDiscreteScheduler"), .euler)
    }
}
