import Foundation
import RenderRecord

/// A job as a worker sees it after claiming it.
public struct ClaimedJob: Sendable {
    public let jobID: Int64
    public let sweepID: Int64?
    public let model: String
    public let config: String?
    public let request: RenderRequest
    public let attempt: Int
    public let checkpoint: Data?

    public init(jobID: Int64, sweepID: Int64?, model: String, config: String?, request: RenderRequest, attempt: Int, checkpoint: Data?) {
        self.jobID = jobID
        self.sweepID = sweepID
        self.model = model
        self.config = config
        self.request = request
        self.attempt = attempt
        self.checkpoint = checkpoint
    }
}

/// One image of a finished job, ready to be stored.
public struct FinishedImage: Sendable {
    public var index: Int
    public var png: Data
    public var outputPath: String?
    public var provenance: String
    public var watermarkWritten: String?
    public var watermarkRead: String?

    public init(index: Int, png: Data, outputPath: String?, provenance: String, watermarkWritten: String?, watermarkRead: String?) {
        self.index = index
        self.png = png
        self.outputPath = outputPath
        self.provenance = provenance
        self.watermarkWritten = watermarkWritten
        self.watermarkRead = watermarkRead
    }
}

/// A finished image as the queue keeps it: its PNG bytes when they are in the database, or the
/// path it was written to with `--output-folder`.
public struct StoredOutput: Sendable {
    public let jobID: Int64
    public let imageIndex: Int
    public let sha256: String
    public let png: Data?
    public let outputPath: String?

    public init(jobID: Int64, imageIndex: Int, sha256: String, png: Data?, outputPath: String?) {
        self.jobID = jobID
        self.imageIndex = imageIndex
        self.sha256 = sha256
        self.png = png
        self.outputPath = outputPath
    }

    /// The file name `kiln export` gives it: `fileName(jobID:imageIndex:)`.
    public var exportName: String { StoredOutput.fileName(jobID: jobID, imageIndex: imageIndex) }

    /// The name of a job's image file, wherever Kiln writes one (`kiln work --output-folder`,
    /// `kiln export`, the gallery's downloads): `job-<id>-<index>.png`.
    public static func fileName(jobID: Int64, imageIndex: Int) -> String { "job-\(jobID)-\(imageIndex).png" }
}
