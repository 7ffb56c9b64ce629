import Foundation
import Numerics

/// Everything a scheduler carries between steps, as plain values: enough to stop after any step
/// and continue later with bit-identical results.
public struct SchedulerState: Sendable, Codable, Equatable {
    public var scheduler: String
    public var stepIndex: Int
    /// Earlier model outputs or samples kept by multistep and second-order schedulers.
    public var tensors: [String: StoredTensor]
    public var numbers: [String: Double]

    public init(scheduler: String, stepIndex: Int, tensors: [String: StoredTensor] = [:], numbers: [String: Double] = [:]) {
        self.scheduler = scheduler; self.stepIndex = stepIndex; self.tensors = tensors; self.numbers = numbers
    }
}

/// A tensor as shape + little-endian float32 bytes, for saved states.
public struct StoredTensor: Sendable, Codable, Equatable {
    public var shape: [Int]
    public var data: Data

    public init(_ t: Tensor) {
        shape = t.shape
        data = t.withUnsafeBufferPointer { Data(buffer: $0) }
    }

    public func tensor() throws -> Tensor {
        let count = shape.reduce(1, *)
        guard count * 4 == data.count, shape.allSatisfy({ $0 >= 0 }) else { throw SchedulerError.corruptState("tensor of shape \(shape) has \(data.count) bytes") }
        let t = Tensor(uninitialized: shape)
        _ = data.withUnsafeBytes { memcpy(t.unsafePointer, $0.baseAddress!, data.count) }
        return t
    }
}

/// The protocol the pipeline drives, shaped like diffusers' scheduler API: `timesteps` to call
/// the UNet with, `scaleModelInput`, then `step` once per UNet call.
public protocol DiffusionScheduler: Sendable {
    var name: String { get }
    /// The timesteps for the UNet, in calling order.
    var timesteps: [Float] { get }
    /// How much the initial Gaussian noise is scaled by.
    var initNoiseSigma: Float { get }
    /// Number of `step` calls made so far (diffusers' `step_index`), settable to start later.
    var stepIndex: Int { get set }
    /// Model evaluations per step (2 for Heun), diffusers' `order` as used to cut timesteps.
    var order: Int { get }
    func scaleModelInput(_ sample: Tensor) -> Tensor
    /// diffusers' `add_noise` once a begin index is set: noise at the noise level of step
    /// `stepIndex` (the begin index before the first step, the next step's level after a step),
    /// as image-to-image adds it to the encoded image and 4-channel inpainting to the original.
    func addNoise(_ original: Tensor, noise: Tensor) -> Tensor
    mutating func step(modelOutput: Tensor, sample: Tensor, generator: inout TorchGenerator) -> Tensor
    func savedState() -> SchedulerState
    mutating func restore(_ state: SchedulerState) throws
}

extension DiffusionScheduler {
    public var order: Int { 1 }

    /// diffusers' `set_begin_index`: image-to-image and refiner stages start part-way through
    /// the schedule; multistep history starts empty there, as it does in diffusers.
    public mutating func setBeginIndex(_ index: Int) { stepIndex = index }

    /// Checks that a saved state belongs to this scheduler and its step is in range.
    func checkRestorable(_ state: SchedulerState) throws {
        guard state.scheduler == name else { throw SchedulerError.stateMismatch(expected: name, found: state.scheduler) }
        guard state.stepIndex >= 0, state.stepIndex <= timesteps.count else { throw SchedulerError.corruptState("step \(state.stepIndex)") }
    }
}

/// Elementwise helpers for scheduler arithmetic (latents are small; plain loops suffice).
enum Elementwise {
    static func map(_ a: Tensor, _ f: (Float) -> Float) -> Tensor {
        let out = Tensor(uninitialized: a.shape)
        let s = a.unsafePointer, d = out.unsafePointer
        for i in 0..<a.count { d[i] = f(s[i]) }
        return out
    }

    static func zip(_ a: Tensor, _ b: Tensor, _ f: (Float, Float) -> Float) -> Tensor {
        precondition(a.shape == b.shape)
        let out = Tensor(uninitialized: a.shape)
        let x = a.unsafePointer, y = b.unsafePointer, d = out.unsafePointer
        for i in 0..<a.count { d[i] = f(x[i], y[i]) }
        return out
    }
}
