import Foundation

extension PromptEncoder {
    /// Kiln's hint after diffusers' truncation warnings.
    public static let truncationHint = "--prompt-weighting compel or a1111 keeps prompts past 77 tokens, in chunks of 75"

    /// `--prompt-weighting none`: the warning diffusers' `encode_prompt` logs for each tokenizer
    /// that cuts the prompt, byte for byte (the cut-off text decoded, in Python's repr of a
    /// one-item list), then `truncationHint` on a line of its own.
    public func truncationNotices(_ request: RenderRequest) -> [String] {
        guard request.promptWeighting == .none else { return [] }
        let prompt2 = (request.prompt2?.isEmpty ?? true) ? request.prompt : request.prompt2!
        var notices: [String] = []
        for (pair, text) in zip(pairs, pairs.count == 2 ? [request.prompt, prompt2] : [request.prompt]) {
            let ids = pair.tokenizer.tokenIDs(pair.converted(text)), keep = pair.tokenizer.maxLength - 2
            guard ids.count > keep else { continue }
            let removed = pair.tokenizer.decode(Array(ids[keep...]))
            notices.append("The following part of your input was truncated because CLIP can only handle sequences up to \(pair.tokenizer.maxLength) tokens: [\(pythonRepr(removed))]")
        }
        return notices.isEmpty ? [] : notices + [PromptEncoder.truncationHint]
    }
}

/// Python's `repr()` of a string: single quotes, or double quotes when it holds `'` and no `"`;
/// the quote and `\` escaped, `\t` `\n` `\r`, other control and unprintable characters as
/// `\xhh`, `\uhhhh` or `\Uhhhhhhhh`.
func pythonRepr(_ text: String) -> String {
    let quote: Unicode.Scalar = text.contains("'") && !text.contains("\"") ? "\"" : "'"
    var out = String(quote)
    func hex(_ v: UInt32, _ width: Int) -> String {
        let h = String(v, radix: 16)
        return String(repeating: "0", count: max(0, width - h.count)) + h
    }
    for c in text.unicodeScalars {
        switch c {
        case quote, "\\": out += "\\" + String(c)
        case "\t": out += "\\t"
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        default:
            let v = c.value
            if v < 0x20 || v == 0x7F {
                out += "\\x" + hex(v, 2)
            } else if v < 0x7F || isPrintable(c) {
                out.unicodeScalars.append(c)
            } else if v <= 0xFF {
                out += "\\x" + hex(v, 2)
            } else if v <= 0xFFFF {
                out += "\\u" + hex(v, 4)
            } else {
                out += "\\U" + hex(v, 8)
            }
        }
    }
    return out + String(quote)
}

/// Python's `str.isprintable()` on one character: not a control, format, surrogate, private-use,
/// unassigned or separator character (the space aside).
private func isPrintable(_ c: Unicode.Scalar) -> Bool {
    switch c.properties.generalCategory {
    case .control, .format, .surrogate, .privateUse, .unassigned, .lineSeparator, .paragraphSeparator, .spaceSeparator:
        return c == " "
    default:
        return true
    }
}
