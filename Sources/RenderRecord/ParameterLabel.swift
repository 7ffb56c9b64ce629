import Foundation

/// How an image is labelled on a grid axis, the same in `kiln sheet` and `kiln serve`.
extension RenderParameter {
    /// The parameter's value in the image's request; the scheduler that ran when the request left
    /// it to the model; else "default".
    public func label(in record: Provenance) -> String {
        if let v = value(in: record.request) { return v }
        return name == "scheduler" ? record.scheduler : "default"
    }
}
