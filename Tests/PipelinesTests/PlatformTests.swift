import Foundation
import KilnTestSupport
import Numerics
import Pipelines
import XCTest

/// Provenance names what can still change pixels between machines (instruction set, OpenBLAS
/// core) and never the thread count; a render resumed on the same machine records the same.
final class PlatformTests: XCTestCase {
    static let base = ModelReference(path: Fixtures.model("tiny-sdxl-base"))

    func request() -> RenderRequest {
        var r = RenderRequest(prompt: "a kiln at night")
        r.steps = 3; r.seed = 5; r.width = 64; r.height = 64
        return r
    }

    func testProvenanceNamesInstructionSetAndBLASCoreButNoThreadCount() throws {
        let session = try RenderSession(request: request(), model: PlatformTests.base, models: ModelCache())
        _ = try session.run()
        let record = Provenance(session: session, imageIndex: 0, seconds: nil)
        XCTAssertEqual(record.platforms, [PlatformRecord(instructionSet: InstructionSet.current, blasCore: BLASLibrary.shared.coreName)])
        let json = record.json()
        XCTAssertTrue(json.contains("\"instructionSet\":\"\(InstructionSet.current)\""), json)
        XCTAssertTrue(json.contains("\"blasCore\":\"\(BLASLibrary.shared.coreName)\""), json)
        XCTAssertFalse(json.lowercased().contains("thread"), "no thread count in what goes into the PNG")
        #if arch(x86_64)
        XCTAssertTrue(InstructionSet.current.hasPrefix("x86_64"), InstructionSet.current)
        #endif
    }

    func testResumedRenderRecordsTheSamePlatformsAndOlderCheckpointsStillLoad() throws {
        let straight = try RenderSession(request: request(), model: PlatformTests.base, models: ModelCache())
        _ = try straight.run()
        let session = try RenderSession(request: request(), model: PlatformTests.base, models: ModelCache())
        try session.advance()
        let saved = try JSONEncoder().encode(session.snapshot())
        let state = try JSONDecoder().decode(DenoiseState.self, from: saved)
        XCTAssertEqual(state.platforms, [.current])
        let resumed = try RenderSession(request: request(), model: PlatformTests.base, models: ModelCache(), resuming: state)
        _ = try resumed.run()
        XCTAssertEqual(Provenance(session: resumed, imageIndex: 0, seconds: nil).json(),
                       Provenance(session: straight, imageIndex: 0, seconds: nil).json(), "the same provenance bytes")

        // A checkpoint from another kind of machine: both are named, in order.
        var foreign = state
        foreign.platforms = [PlatformRecord(instructionSet: "arm64 asimd", blasCore: "NEOVERSEN1")]
        let elsewhere = try RenderSession(request: request(), model: PlatformTests.base, models: ModelCache(), resuming: foreign)
        XCTAssertEqual(elsewhere.platforms, (foreign.platforms ?? []) + [.current])

        // A checkpoint saved before platforms were recorded.
        var old = try XCTUnwrap(JSONSerialization.jsonObject(with: saved) as? [String: Any])
        old["platforms"] = nil
        let legacy = try JSONDecoder().decode(DenoiseState.self, from: JSONSerialization.data(withJSONObject: old))
        XCTAssertNil(legacy.platforms)
        XCTAssertEqual(try RenderSession(request: request(), model: PlatformTests.base, models: ModelCache(), resuming: legacy).platforms, [.current])
    }
}
