import Glibc

// MARK: - Which side of a kink each element took

/// The branches that the kinked functions took, recorded on the calling thread while a test asks for them.
///
/// ReLU, leaky ReLU, ELU and SELU, abs and clamp each pick a formula by where their input lies (its sign, or its
/// place between two bounds), and so does a batch norm fused with a ReLU or leaky ReLU. Two computations that
/// agree up to rounding (K ranks against one process; one processor's kernels against another's) pick alike
/// everywhere but where an input lies within rounding of a kink, and from such an element on they differ by far
/// more than rounding: a leaky ReLU's derivative is 1 on one side and 0.2 on the other, and one element's flip
/// moves a small network's gradients by percents. A test comparing two such computations reads this log to tell
/// a flip, which says nothing about the code, from a difference that does.
///
/// Each call of a kinked kernel adds one `Call` in the order of the calls; other kernels add nothing. Off (the
/// default), a kernel pays one thread-specific read per call; on, a second pass over the call's inputs, on the
/// calling thread.
package enum BranchLog {
    /// One kernel call: how many elements it decided; the sum of their branch numbers (0 below a kink, 1 above
    /// it; for clamp 0, 1, 2 below, between and above its bounds; for abs 0, 1, 2 at negative, zero and positive
    /// inputs), which an element taking another branch changes; and how near its nearest input came to a kink, in
    /// units of the root mean square of its inputs (an element can take another branch by rounding only where
    /// this is of the order of float32's rounding, 1e-7).
    package struct Call: Equatable, Sendable {
        package let elements: Int
        package let branchSum: Int
        package let margin: Float
    }

    final class Recorder {
        var calls: [Call] = []

        /// Adds a call over the `count` values `value(i)`, whose kinks are at `kinks`, each value taking
        /// branch `branch(v)`.
        func add(_ count: Int, kinks: [Float], _ value: (Int) -> Float, branch: (Float) -> Int) {
            var sum = 0, nearest = Float.infinity, squares = 0.0
            for i in 0..<count {
                let v = value(i)
                sum += branch(v)
                for k in kinks { nearest = Swift.min(nearest, Swift.abs(v - k)) }
                squares += Double(v) * Double(v)
            }
            let rms = Float((squares / Double(Swift.max(count, 1))).squareRoot())
            calls.append(Call(elements: count, branchSum: sum, margin: rms > 0 ? nearest / rms : 0))
        }
    }

    private static let scope = ThreadScope<Recorder>()

    /// The recorder of the scope this thread is in, if any.
    @inline(__always) static var active: Recorder? { scope.current }

    /// Runs `body` recording the calls of kinked kernels started from this thread; returns its result and them.
    package static func recording<R, E: Error>(_ body: () throws(E) -> R) throws(E) -> (result: R, calls: [Call]) {
        let recorder = Recorder()
        let result = try scope.with(recorder, body)
        return (result, recorder.calls)
    }

    /// Starts (`on`) a log on this thread that lasts until it is stopped, or stops it (for a caller that cannot
    /// pass a closure: the C ABI's `sg_branch_log_set_enabled`). Not inside `recording`.
    package static func setEnabled(_ on: Bool) { scope.set(on ? Recorder() : nil) }

    /// The calls logged on this thread since `setEnabled(true)`; nil when no log is on.
    package static var calls: [Call]? { active?.calls }

    /// Records a call of `op` on `x[0..<count]` (nothing for an op without a kink), branching as the kernels do.
    static func note(_ op: UnaryOp, _ x: UnsafePointer<Float>, _ count: Int) {
        guard let recorder = active else { return }
        let value = { (i: Int) in x[i] }
        switch op {
        case .relu, .leakyRelu, .elu: recorder.add(count, kinks: [0], value) { $0 > 0 ? 1 : 0 }
        case .abs: recorder.add(count, kinks: [0], value) { $0 > 0 ? 2 : ($0 < 0 ? 0 : 1) }
        case .clamp(let lo, let hi): recorder.add(count, kinks: [lo, hi], value) { $0 < lo ? 0 : ($0 > hi ? 2 : 1) }
        default: return
        }
    }
}
