import Foundation
@testable import Gallery
import Imaging
import KilnTestSupport
import Pipelines
import QueueBackends
import RenderQueue
import XCTest

/// The gallery's pieces on their own: thumbnails, the reproducing command, escaping, forms.
final class GalleryPartsTests: XCTestCase {
    /// A 512x384 image with sharp detail, so nearest-neighbour and LANCZOS differ.
    func checkerboard() -> RGBImage {
        RGBImage(width: 512, height: 384, pixels: (0..<(512 * 384)).flatMap { i -> [UInt8] in
            let x = i % 512, y = i / 512
            return (x / 3 + y / 3) % 2 == 0 ? [250, 250, 250] : [10, 40, UInt8(x % 256)]
        })
    }

    func testThumbnailsAreLanczosAndCachedWithinTheirBytes() throws {
        let image = checkerboard()
        let png = try PNGFile.encode(image)
        let cache = ThumbnailCache(side: 256, maxBytes: 1 << 20)
        let thumb = try ImageFile.read(data: try cache.make(from: png, name: "t"), name: "t")
        XCTAssertEqual([thumb.width, thumb.height], [256, 192], "longest side 256, aspect kept")
        XCTAssertEqual(thumb, image.resized(width: 256, height: 192, filter: .lanczos))
        XCTAssertNotEqual(thumb, image.resized(width: 256, height: 192, filter: .nearest))
        let data = try cache.make(from: png, name: "t")
        cache.store("1", data)
        XCTAssertEqual(cache.cached("1"), data)
        // Over the byte bound, the least recently used entries go first.
        let small = ThumbnailCache(side: 256, maxBytes: data.count * 2 + 1)
        small.store("1", data); small.store("2", data)
        _ = small.cached("1")
        small.store("3", data)
        XCTAssertEqual(small.count, 2)
        XCTAssertNotNil(small.cached("1"))
        XCTAssertNil(small.cached("2"))
        XCTAssertThrowsError(try cache.make(from: Data("not a png".utf8), name: "x"))
    }

    /// The command's options, read back through the parameter table as `kiln render` reads
    /// them, give the image's request.
    func testRenderCommandReproducesTheRequest() throws {
        var request = RenderRequest(prompt: "it's a \"fox\" $HOME `x`")
        request.negativePrompt = "blurry"
        request.steps = 7
        request.guidance = 3.5
        request.seed = 1234
        request.width = 64
        request.height = 48
        request.scheduler = .dpmpp2mKarras
        request.originalSize = PixelSize(width: 2048, height: 1024)
        request.watermark = false
        request.precision = .bf16
        let record = Provenance(kilnVersion: "t", request: request, width: 64, height: 48, scheduler: "dpmpp-2m-karras",
                                schedulerClass: "DPMSolverMultistepScheduler", seed: 1234, imageIndex: 0, model: "/models/my model",
                                modelHash: "abc", watermarkBits: nil, seconds: 1)
        let command = RenderCommandLine.make(record, config: "/cfg")
        XCTAssertTrue(command.hasPrefix("kiln render --model '/models/my model' --config /cfg --prompt 'it'\\''s a \"fox\" $HOME `x`'"), command)
        XCTAssertTrue(command.hasSuffix("--no-watermark --seed 1234 --output out.png"), command)
        XCTAssertTrue(command.contains(" --precision bf16 "), command)
        let words = try shellWords(command)
        var rebuilt = RenderRequest(prompt: "")
        var i = 2
        while i < words.count {
            let name = String(words[i].dropFirst(2))
            if name == "no-watermark" { rebuilt.watermark = false; i += 1; continue }
            let value = words[i + 1]
            i += 2
            if ["model", "config", "output"].contains(name) { continue }
            try XCTUnwrap(RenderParameters.named(name), name).apply(.text(value), to: &rebuilt)
        }
        XCTAssertEqual(rebuilt, request)
    }

    /// POSIX shell words of a command made by `RenderCommandLine.quote` (single quotes only).
    func shellWords(_ command: String) throws -> [String] {
        var words: [String] = [], current = "", quoted = false, inWord = false, escaped = false
        for c in command {
            if escaped {
                current.append(c); escaped = false
            } else if quoted {
                if c == "'" { quoted = false } else { current.append(c) }
            } else if c == "'" {
                quoted = true; inWord = true
            } else if c == "\\" {
                escaped = true; inWord = true
            } else if c == " " {
                if inWord { words.append(current); current = ""; inWord = false }
            } else {
                current.append(c); inWord = true
            }
        }
        if inWord { words.append(current) }
        return words
    }

    func testEscapingAndForms() {
        let value = "<script>alert('x')</script> & \"quotes\""
        let html: HTML = "<td title=\"\(value)\">\(value)</td>"
        XCTAssertEqual(html.raw, "<td title=\"&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;quotes&quot;\">"
                       + "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;quotes&quot;</td>")
        let form = FormData("prompt=a+b%26c&seed=12&seed=13&bad=%ZZ&page=-1&x")
        XCTAssertEqual(form["prompt"], "a b&c")
        XCTAssertEqual(form.integer("seed"), 12)
        XCTAssertNil(form["bad"])
        XCTAssertEqual(form["x"], "")
        XCTAssertEqual(Identifier.parse("42"), 42)
        for bad in ["", "0", "-1", "+1", "1e3", "..", "4 2", "１２", "9999999999999999999"] { XCTAssertNil(Identifier.parse(Substring(bad)), bad) }
        XCTAssertEqual(Link.query([("prompt", "a&b c"), ("seed", nil), ("x", "")]), "?prompt=a%26b%20c")
    }
}
