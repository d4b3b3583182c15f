// MARK: - Tensor

/// A float32, contiguous, row-major (NCHW for images) tensor on a pooled buffer.
///
/// A tensor produced by a differentiable op while recording carries the tape
/// node (`gradFn`) that computes its inputs' gradients. Leaves that gradients
/// may be asked for (parameters, penalty interpolates) set `requiresGrad`.
public final class Tensor {
    /// The dimensions, outermost first: `[N, C, H, W]` for images.
    public let shape: [Int]
    /// The number of elements.
    public let count: Int
    /// The values. Replaced only by `dropValues` and `restoreValues` (an intermediate whose values a
    /// backward pass recomputes rather than keeps); unchecked, as reading it is every kernel's first step.
    @exclusivity(unchecked) package private(set) var storage: Storage
    /// The tape node that produced this tensor, if it was recorded (a `Node` of SwiftGANAutodiff, the layer above,
    /// which reads it as `gradFn`).
    package var tapeNode: AnyObject?
    /// Marks a leaf whose gradient can be requested.
    public var requiresGrad: Bool
    /// Marks a tensor whose values the one op it is handed to may overwrite with its own result of the same shape
    /// (an element-wise op or rule that reads each value before writing it there; a binary op, its first operand):
    /// set by the code that made it, which holds the only reference to its storage and reads it no more (a gradient
    /// in `recomputingIntermediate`; a convolution's output before its bias, `ConvolutionLayer`).
    package var isScratch = false

    /// An uninitialised tensor (every op writes all of it).
    package init(uninitialized shape: [Int]) {
        self.shape = shape
        self.count = shape.reduce(1, *)
        self.storage = Storage(count: count)
        self.requiresGrad = false
    }

    /// A tensor sharing `storage` under another shape (reshape, detach).
    package init(shape: [Int], storage: Storage) {
        self.shape = shape
        self.count = shape.reduce(1, *)
        precondition(count == storage.count, "shape does not fit the storage")
        self.storage = storage
        self.requiresGrad = false
    }

    /// A tensor filled with `value`.
    public convenience init(repeating value: Float, shape: [Int]) {
        self.init(uninitialized: shape)
        fill(value)
    }

    /// A tensor holding `values` (row-major) under `shape`.
    public convenience init(_ values: [Float], shape: [Int]) {
        precondition(values.count == shape.reduce(1, *), "values do not fill the shape")
        self.init(uninitialized: shape)
        if AllocationCount.isCounting { return }
        values.withUnsafeBufferPointer { pointer.update(from: $0.baseAddress!, count: count) }
    }

    /// A tensor holding a copy of the `shape.reduce(1, *)` values at `values` (row-major).
    public convenience init(copying values: UnsafePointer<Float>, shape: [Int]) {
        self.init(uninitialized: shape)
        if AllocationCount.isCounting { return }
        pointer.update(from: values, count: count)
    }

    /// A copy of the samples `range` of this batch (its first axis), `[range.count, ...]`: a new tensor, on no tape.
    package func samples(_ range: Range<Int>) -> Tensor {
        let perSample = count / max(shape[0], 1)
        return Tensor(copying: pointer + range.lowerBound * perSample, shape: [range.count] + shape.dropFirst())
    }

    /// A scalar tensor (shape `[]`).
    public convenience init(scalar: Float) { self.init([scalar], shape: []) }

    /// The first element's address; valid while the tensor lives.
    @inline(__always) package var pointer: UnsafeMutablePointer<Float> { storage.pointer }

    /// Whether a gradient can flow to this tensor.
    @inline(__always) package var isDifferentiable: Bool { requiresGrad || tapeNode != nil }

    /// The elements in row-major order.
    public var scalars: [Float] { Array(UnsafeBufferPointer(start: pointer, count: count)) }

    /// The only element of a one-element tensor.
    public var scalar: Float {
        precondition(count == 1, "scalar of a tensor with \(count) elements")
        return pointer[0]
    }

    /// The same values, cut from the tape (no gradient flows through).
    public func detached() -> Tensor { Tensor(shape: shape, storage: storage) }

    /// An independent copy of the values, off the tape.
    public func copy() -> Tensor {
        let out = Tensor(uninitialized: shape)
        out.pointer.update(from: pointer, count: count)
        return out
    }

    /// Sets every value to `value` (nothing while counting allocations: the tensor has no values then).
    public func fill(_ value: Float) {
        if AllocationCount.isCounting { return }
        pointer.update(repeating: value, count: count)
    }

    /// Overwrites the values from `source` (same count), off the tape.
    public func assign(from source: UnsafePointer<Float>) { pointer.update(from: source, count: count) }

    /// Frees the values while the tensor stays on the tape with its shape and node: for an intermediate
    /// that the backward pass recomputes (`recomputingIntermediate`). Reading it before `restoreValues` is
    /// an error.
    package func dropValues() { storage = Storage.placeholder }

    /// Whether no other tensor shares this one's storage (so that its values are this tensor's alone).
    package func hasUniqueStorage() -> Bool { isKnownUniquelyReferenced(&storage) }

    /// A tensor of this shape for a backward rule's element-wise result: this gradient's own buffer when it is
    /// scratch (`isScratch`), a new one otherwise. The result never is scratch itself.
    package func resultBuffer() -> Tensor {
        isScratch ? Tensor(shape: shape, storage: storage) : Tensor(uninitialized: shape)
    }

    /// Whether the tensor holds its values (false between `dropValues` and `restoreValues`).
    package var hasValues: Bool { storage !== Storage.placeholder }

    /// Gives a tensor whose values were dropped those of `source` (same count; shared, not copied).
    package func restoreValues(from source: Tensor) {
        precondition(source.count == count, "restoreValues: \(source.count) values for a tensor of \(count)")
        storage = source.storage
    }

    /// Gives a tensor whose values were dropped a fresh buffer filled by `fill`.
    package func restoreValues(_ fill: (UnsafeMutablePointer<Float>) -> Void) {
        storage = Storage(count: count)
        fill(storage.pointer)
    }

    /// Copies the values into `destination` (`count` floats).
    public func write(to destination: UnsafeMutablePointer<Float>) { destination.update(from: pointer, count: count) }
}

// MARK: - Factories

extension Tensor {
    /// Zeros of the given shape.
    public static func zeros(_ shape: [Int]) -> Tensor { Tensor(repeating: 0, shape: shape) }
    /// Ones of the given shape.
    public static func ones(_ shape: [Int]) -> Tensor { Tensor(repeating: 1, shape: shape) }

    /// Draws from N(mean, std²) with `rng`.
    public static func normal(_ shape: [Int], mean: Float = 0, std: Float = 1, rng: inout RandomGenerator) -> Tensor {
        let t = Tensor(uninitialized: shape)
        rng.fillNormal(t.pointer, count: t.count, mean: mean, std: std)
        return t
    }

    /// Draws from U(low, high) with `rng`.
    public static func uniform(_ shape: [Int], low: Float = 0, high: Float = 1, rng: inout RandomGenerator) -> Tensor {
        let t = Tensor(uninitialized: shape)
        rng.fillUniform(t.pointer, count: t.count, low: low, high: high)
        return t
    }
}

extension Tensor: CustomStringConvertible {
    public var description: String { "Tensor(shape: \(shape))" }
}
