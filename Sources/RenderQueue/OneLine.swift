/// Text folded to a single line, line breaks turned into spaces: how the queue stores a job's
/// error, and how `kiln` and the gallery show one, so a message never spans lines of a log, a
/// table cell or a status column.
public enum OneLine {
    /// `text` with each run of line breaks replaced by one space.
    public static func folding(_ text: some StringProtocol) -> String {
        text.split(whereSeparator: \.isNewline).joined(separator: " ")
    }

    /// The error's own description, folded.
    public static func describing(_ error: any Error) -> String { folding(String(describing: error)) }
}
