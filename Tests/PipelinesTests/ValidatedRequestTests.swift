import Foundation
import Pipelines
import XCTest

/// A request is validated once, where it enters, and carried as a `ValidatedRequest`: these pin
/// what that value promises (issue 19 item 3).
final class ValidatedRequestTests: XCTestCase {
    func request() -> RenderRequest {
        var r = RenderRequest(prompt: "a lighthouse")
        r.steps = 4
        r.image = InputReference(sha256: "", file: "in.png")
        r.loras = [LoRAReference(file: "style.safetensors", sha256: "", scale: 0.8)]
        r.vae = VAEReference(file: "vae.safetensors")
        return r
    }

    func testABadParameterIsRefusedWhereTheRequestEnters() {
        var r = request()
        r.steps = 0
        XCTAssertThrowsError(try ValidatedRequest(r)) { XCTAssertTrue("\($0)".contains("steps"), "\($0)") }
        XCTAssertEqual(try ValidatedRequest(request()).request, request())
    }

    func testRecordingInputHashesKeepsTheRequestValid() throws {
        let valid = try ValidatedRequest(request())
        var hashed = request()
        hashed.image?.sha256 = String(repeating: "a", count: 64)
        hashed.loras[0].sha256 = String(repeating: "b", count: 64)
        hashed.loras[0].shortHash = "0123456789ab"
        hashed.vae?.sha256 = String(repeating: "c", count: 64)
        XCTAssertEqual(try valid.recordingHashes(of: hashed).request, hashed)
    }

    func testAnyOtherChangeAfterValidationIsRefused() throws {
        let valid = try ValidatedRequest(request())
        for change in [{ (r: inout RenderRequest) in r.steps = 0 }, { $0.prompt = "another" }, { $0.loras[0].scale = 99 },
                       { $0.image?.file = "other.png" }] {
            var changed = request()
            change(&changed)
            XCTAssertThrowsError(try valid.recordingHashes(of: changed)) { XCTAssertTrue("\($0)".contains("validate it again"), "\($0)") }
        }
    }

    /// The render takes the validated value; the RenderRequest entry point still validates.
    func testTheSessionRefusesAnInvalidRequestBeforeReadingAModel() {
        var r = request()
        r.guidance = -1
        XCTAssertThrowsError(try RenderSession(request: r, model: ModelReference(path: "/nonexistent"), models: ModelCache(maxBytes: 1 << 20))) {
            XCTAssertTrue("\($0)".contains("guidance"), "\($0)")
        }
    }
}
