import Foundation

/// How `jobs.step_seconds` grows, so the column reads as on SQLite: there, json_insert writes a
/// real with 15 significant digits and always a decimal point (SQLite's "%!.15g": 0.5, 1.0,
/// 1.0e-05).
enum StepSeconds {
    /// `seconds` as SQLite's JSON writes a real; nil when it is not finite (not valid JSON).
    static func jsonNumber(_ seconds: Double) -> String? {
        guard seconds.isFinite else { return nil }
        let text = String(format: "%.15g", seconds)
        guard !text.contains(".") else { return text }
        if let e = text.firstIndex(where: { $0 == "e" || $0 == "E" }) { return text[..<e] + ".0" + text[e...] }
        return text + ".0"
    }
}
