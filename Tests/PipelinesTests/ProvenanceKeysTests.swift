import Foundation
import Pipelines
import XCTest

/// Provenance's JSON keys are a stored format: outputs and PNG "kiln" chunks hold them, and the
/// queue's views read them (`$.modelHash`, `$.schedulerConfig`, ...). These tests pin them.
final class ProvenanceKeysTests: XCTestCase {
    /// Every key, as written today; a renamed property must keep its key (Provenance.CodingKeys).
    static let keys: Set<String> = [
        "kilnVersion", "request", "width", "height", "scheduler", "schedulerClass", "seed", "imageIndex", "model",
        "modelHash", "mode", "strength", "guidance", "refiner", "refinerHash", "stages", "watermarkBits", "seconds",
        "schedulerConfig", "stepSeconds", "platforms",
    ]

    func testEveryFieldIsWrittenUnderItsStoredKey() throws {
        var record = Provenance(kilnVersion: "0.2.0", request: RenderRequest(prompt: "p"), width: 64, height: 48, scheduler: "euler",
                                schedulerClass: "EulerDiscreteScheduler", seed: 7, imageIndex: 1, model: "m", modelHash: "h",
                                watermarkBits: "ab", seconds: 1.5)
        record.mode = "image-to-image"
        record.strength = 0.4
        record.guidance = 6
        record.refiner = "r"
        record.refinerHash = "rh"
        record.stages = []
        record.schedulerConfig = "{}"
        record.stepSeconds = [0.5]
        record.platforms = [PlatformRecord(instructionSet: "avx2", blasCore: "Haswell", convolution: nil, precision: nil)]
        let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(record.json().utf8)) as? [String: Any])
        XCTAssertEqual(Set(object.keys), Self.keys)
        XCTAssertEqual(object["modelHash"] as? String, "h")
        XCTAssertEqual(object["refinerHash"] as? String, "rh")
        XCTAssertEqual(object["schedulerConfig"] as? String, "{}")
    }

    /// Provenance stored by an earlier kiln decodes field by field.
    func testStoredProvenanceDecodes() throws {
        let stored = #"{"guidance":6,"height":48,"imageIndex":1,"kilnVersion":"0.1.0","mode":"inpainting","model":"m","modelHash":"h","#
            + #""refiner":"r","refinerHash":"rh","request":{"prompt":"p","seed":7,"version":2},"scheduler":"euler","schedulerClass":"EulerDiscreteScheduler","#
            + #""schedulerConfig":"{}","seconds":1.5,"seed":7,"stepSeconds":[0.5],"strength":0.4,"watermarkBits":"ab","width":64}"#
        let record = try JSONDecoder().decode(Provenance.self, from: Data(stored.utf8))
        XCTAssertEqual(record.modelHash, "h")
        XCTAssertEqual(record.refinerHash, "rh")
        XCTAssertEqual(record.schedulerConfig, "{}")
        XCTAssertEqual(record.schedulerClass, "EulerDiscreteScheduler")
        XCTAssertEqual(record.imageIndex, 1)
        XCTAssertEqual(record.kilnVersion, "0.1.0")
        XCTAssertEqual(record.watermarkBits, "ab")
        XCTAssertEqual(record.stepSeconds, [0.5])
        XCTAssertEqual(record.mode, "inpainting")
        XCTAssertEqual(record.strength, 0.4)
        XCTAssertEqual(record.guidance, 6)
        XCTAssertEqual(record.request.prompt, "p")
    }
}
