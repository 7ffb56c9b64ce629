import Foundation
@testable import Gallery
import Imaging
import KilnTestSupport
import Pipelines
import XCTest

/// Issue 17's options end to end on both databases: queued with `kiln enqueue`, each shows in its
/// `v_outputs` column and the PNG's parameters text, the UNet and VAE by SHA-256, and the
/// gallery's reproduce command, run through a shell, renders the same pixels with `kiln render`.
final class FewStepReproduceCommandTests: QueueTestCase {
    let model = Fixtures.model("tiny-sdxl-base")

    /// TCD with eta, trailing spacing, custom timesteps, A1111 weighting, a LoRA, a UNet folder and
    /// an AutoencoderTiny; Euler with sigmas, an LCM UNet and an AutoencoderKL file; LCM with a config override.
    var jobs: [[String]] {
        [["--prompt", "a (red:1.2) lighthouse", "--prompt-weighting", "a1111", "--negative-prompt", "fog", "--scheduler", "tcd",
          "--eta", "0.3", "--scheduler-config", "timestep_spacing=trailing", "--timesteps", "999,749,499,249", "--guidance", "1.5",
          "--lora", Fixtures.path("loras/layout-diffusers-old.safetensors") + ":0.8", "--unet", Fixtures.model("unets/swap-unet"),
          "--vae", Fixtures.model("vae-tiny-taesd"), "--width", "56", "--height", "72", "--seed", "23", "--no-watermark"],
         ["--prompt", "a red fox in the snow", "--scheduler", "euler", "--sigmas", "14.6,4.2,1.1,0", "--guidance", "8",
          "--unet", Fixtures.model("unets/lcm-unet"), "--vae", Fixtures.model("vae-kl-tiny-original.safetensors"),
          "--width", "64", "--height", "48", "--seed", "5"],
         ["--prompt", "a boat", "--scheduler", "lcm", "--scheduler-config", "timestep_scaling=5", "--steps", "3", "--guidance", "8",
          "--unet", Fixtures.model("unets/lcm-unet"), "--width", "48", "--height", "64", "--seed", "9", "--no-watermark"]]
    }

    /// The columns of each job, in job order.
    let columns = [
        "0.3|{\"timestep_spacing\":\"trailing\"}|[999,749,499,249]||swap-unet|64|vae-tiny-taesd|64|a1111",
        "|||[14.6,4.2,1.1,0]|lcm-unet|64|vae-kl-tiny-original.safetensors|64|none",
        "|{\"timestep_scaling\":5}|||lcm-unet|64|||none",
    ]
    /// Parts of each job's PNG parameters text.
    let texts = [
        ["Eta: 0.3", "Scheduler config: \"timestep_spacing=trailing\"", "Timesteps: \"999,749,499,249\"", "Prompt weighting: a1111",
         "Lora hashes: \"layout-diffusers-old: ", "UNet: swap-unet [", "VAE: vae-tiny-taesd, VAE hash: "],
        ["Sigmas: \"14.6,4.2,1.1,0\"", "UNet: lcm-unet [", "VAE: vae-kl-tiny-original.safetensors, VAE hash: "],
        ["Scheduler config: \"timestep_scaling=5\"", "UNet: lcm-unet ["],
    ]

    func testEveryFewStepOptionIsAColumnPNGTextAndReproducedByTheGalleryCommand() throws {
        try onEachBackend { backend in
            let db = try queue("fewstep")
            for job in jobs {
                let r = try KilnProcess.run(["enqueue", "--db", db, "--model", model] + job)
                XCTAssertEqual(r.status, 0, r.stderr)
            }
            let folder = dir + "/\(backend)"
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            let work = try KilnProcess.run(["work", "--db", db, "--until-empty", "--output-folder", folder])
            XCTAssertEqual(work.status, 0, work.stderr)

            let report = try KilnProcess.run(["report", "--db", db, "--format", "json", "--sql", """
                SELECT output_path, provenance, eta, scheduler_overrides, timesteps, sigmas, unet, length(unet_sha256) AS u, vae,
                       length(vae_sha256) AS v, prompt_weighting FROM v_outputs ORDER BY job_id
                """])
            XCTAssertEqual(report.status, 0, report.stderr)
            let rows = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(report.stdout.utf8)) as? [[String: Any]])
            XCTAssertEqual(rows.count, jobs.count)
            for (i, row) in rows.enumerated() {
                func text(_ key: String) -> String { (row[key] as? String).map { ($0 as NSString).lastPathComponent } ?? "" }
                let shown = ["eta", "scheduler_overrides", "timesteps", "sigmas", "unet", "u", "vae", "v", "prompt_weighting"].map(text)
                XCTAssertEqual(shown.joined(separator: "|").replacingOccurrences(of: " ", with: ""), columns[i], "job \(i + 1)")

                let queued = try PNGFile.read(try XCTUnwrap(row["output_path"] as? String))
                let parameters = queued.text["parameters"] ?? ""
                for part in texts[i] { XCTAssertTrue(parameters.contains(part), "job \(i + 1): \(part) in \(parameters)") }

                // The image page's command, split by /bin/sh as a user's shell would, renders the same pixels.
                let record = try JSONDecoder().decode(Provenance.self, from: Data(try XCTUnwrap(row["provenance"] as? String).utf8))
                let again = folder + "/again-\(i).png"
                let command = RenderCommandLine.make(record, config: nil, output: again)
                let sh = try ChildProcess("/bin/sh", ["-c", "printf '%s\\0' " + command])
                XCTAssertEqual(try sh.status(), 0, sh.stderr)
                let words = try Data(contentsOf: URL(fileURLWithPath: sh.stdoutPath)).split(separator: 0, omittingEmptySubsequences: false)
                    .dropLast().map { String(decoding: $0, as: UTF8.self) }
                let render = try KilnProcess.run(Array(words.dropFirst()))
                XCTAssertEqual(render.status, 0, "\(command)\n\(render.stderr)")
                let rendered = try PNGFile.read(again)
                XCTAssertTrue(rendered.image.pixels == queued.image.pixels, "job \(i + 1): \(command)")
                XCTAssertEqual(rendered.text["parameters"], parameters, "job \(i + 1)")
            }
        }
    }
}
