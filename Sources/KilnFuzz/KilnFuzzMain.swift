import Foundation

/// `KilnFuzz HARNESS FILE...` replays saved inputs through a harness. Built by Fuzz/run.sh with
/// coverage instrumentation and libFuzzer's driver linked in, `KILN_FUZZ_TARGET=HARNESS KilnFuzz
/// [libFuzzer options]` fuzzes that harness through `LLVMFuzzerRunDriver` instead.
@main
enum KilnFuzzMain {
    typealias Callback = @convention(c) (UnsafePointer<UInt8>?, Int) -> Int32
    typealias Driver = @convention(c) (UnsafeMutablePointer<Int32>, UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>, Callback) -> Int32

    nonisolated(unsafe) static var chosen: Harness = .safetensors

    static func fail(_ message: String) -> Never {
        FileHandle.standardError.write(Data((message + "\n").utf8))
        exit(2)
    }

    static func main() {
        let names = Harness.allCases.map(\.rawValue).joined(separator: "|")
        if let name = ProcessInfo.processInfo.environment["KILN_FUZZ_TARGET"] {
            guard let harness = Harness(rawValue: name) else { fail("KILN_FUZZ_TARGET must be one of \(names)") }
            guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "LLVMFuzzerRunDriver") else {
                fail("this KilnFuzz was built without libFuzzer; build it with Fuzz/run.sh")
            }
            chosen = harness
            var argc = CommandLine.argc
            var argv = CommandLine.unsafeArgv
            let callback: Callback = { bytes, count in
                guard let bytes else { KilnFuzzMain.chosen.run(Data()); return 0 }
                KilnFuzzMain.chosen.run(Data(bytes: bytes, count: count))
                return 0
            }
            exit(unsafeBitCast(symbol, to: Driver.self)(&argc, &argv, callback))
        }
        let arguments = CommandLine.arguments.dropFirst()
        guard let name = arguments.first, let harness = Harness(rawValue: name) else { fail("usage: KilnFuzz \(names) FILE...") }
        for path in arguments.dropFirst() {
            guard let data = FileManager.default.contents(atPath: path) else { fail("\(path): cannot be read") }
            harness.run(data)
            print("\(path): ok")
        }
    }
}
