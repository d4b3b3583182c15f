import Glibc

// MARK: - Broadcasting plan

/// How two shapes broadcast (NumPy/PyTorch rules), with adjacent dimensions
/// coalesced so that inner loops run over the longest contiguous rows.
package struct BroadcastPlan {
    package let outputShape: [Int]
    let dims: [Int]  // coalesced output dimensions, outermost first
    let aStrides: [Int]  // element strides of a per coalesced dim (0 = broadcast)
    let bStrides: [Int]

    package init(_ a: [Int], _ b: [Int]) throws(SwiftGANError) {
        let rank = max(a.count, b.count)
        let pa = Array(repeating: 1, count: rank - a.count) + a
        let pb = Array(repeating: 1, count: rank - b.count) + b
        var out = [Int](repeating: 1, count: rank)
        for i in 0..<rank {
            guard pa[i] == pb[i] || pa[i] == 1 || pb[i] == 1 else {
                throw SwiftGANError("shapes \(a) and \(b) cannot be broadcast together")
            }
            out[i] = max(pa[i], pb[i])
        }
        outputShape = out
        func strides(_ s: [Int]) -> [Int] {
            var st = [Int](repeating: 0, count: rank)
            var acc = 1
            for i in stride(from: rank - 1, through: 0, by: -1) {
                st[i] = (s[i] == 1 && out[i] != 1) ? 0 : acc
                acc *= s[i]
            }
            return st
        }
        (dims, aStrides, bStrides) = BroadcastPlan.coalesce(out, [strides(pa), strides(pb)])
    }

    /// Drops unit dimensions and merges neighbours that every operand walks contiguously.
    static func coalesce(_ shape: [Int], _ strideSets: [[Int]]) -> ([Int], [Int], [Int]) {
        var dims: [Int] = []
        var sets: [[Int]] = strideSets.map { _ in [] }
        for i in 0..<shape.count where shape[i] != 1 {
            if let last = dims.last,
               strideSets.indices.allSatisfy({ sets[$0].last! == strideSets[$0][i] * shape[i] }) {
                dims[dims.count - 1] = last * shape[i]
                for k in strideSets.indices { sets[k][sets[k].count - 1] = strideSets[k][i] }
            } else {
                dims.append(shape[i])
                for k in strideSets.indices { sets[k].append(strideSets[k][i]) }
            }
        }
        if dims.isEmpty { return ([1], [0], [0]) }
        return (dims, sets[0], sets.count > 1 ? sets[1] : [])
    }

    /// Calls `body(outOffset, aOffset, bOffset, rowLength, aStep, bStep)` for every
    /// innermost row, in parallel chunks of rows.
    func forEachRow(_ body: (Int, Int, Int, Int, Int, Int) -> Void) {
        let inner = dims.last!
        let aStep = aStrides.last!, bStep = bStrides.last!
        let rows = dims.dropLast().reduce(1, *)
        let outer = Array(dims.dropLast())
        parallelChunks(rows, costPerItem: inner) { range in
            for row in range {
                var rest = row, ao = 0, bo = 0
                for d in stride(from: outer.count - 1, through: 0, by: -1) {
                    let idx = rest % outer[d]
                    rest /= outer[d]
                    ao += idx * aStrides[d]
                    bo += idx * bStrides[d]
                }
                body(row * inner, ao, bo, inner, aStep, bStep)
            }
        }
    }
}

// MARK: - Binary kernels

package enum BinaryOp { case add, subtract, multiply, divide }

/// `out = a op b` with broadcasting. `out` has the plan's output shape.
package func binaryForward(_ out: UnsafeMutablePointer<Float>, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>,
                   _ op: BinaryOp, _ plan: BroadcastPlan) {
    Profile.time(.elementwise) {
        plan.forEachRow { o, ao, bo, n, sa, sb in
            let po = out + o, pa = a + ao, pb = b + bo
            switch (op, sa, sb) {
            case (.add, 1, 1): for i in 0..<n { po[i] = pa[i] + pb[i] }
            case (.add, 1, 0): let v = pb[0]; for i in 0..<n { po[i] = pa[i] + v }
            case (.add, 0, 1): let v = pa[0]; for i in 0..<n { po[i] = v + pb[i] }
            case (.subtract, 1, 1): for i in 0..<n { po[i] = pa[i] - pb[i] }
            case (.subtract, 1, 0): let v = pb[0]; for i in 0..<n { po[i] = pa[i] - v }
            case (.subtract, 0, 1): let v = pa[0]; for i in 0..<n { po[i] = v - pb[i] }
            case (.multiply, 1, 1): for i in 0..<n { po[i] = pa[i] * pb[i] }
            case (.multiply, 1, 0): let v = pb[0]; for i in 0..<n { po[i] = pa[i] * v }
            case (.multiply, 0, 1): let v = pa[0]; for i in 0..<n { po[i] = v * pb[i] }
            case (.divide, 1, 1): for i in 0..<n { po[i] = pa[i] / pb[i] }
            case (.divide, 1, 0): let v = pb[0]; for i in 0..<n { po[i] = pa[i] / v }
            case (.divide, 0, 1): let v = pa[0]; for i in 0..<n { po[i] = v / pb[i] }
            default:  // both broadcast along the row: a constant row
                let v: Float
                switch op {
                case .add: v = pa[0] + pb[0]
                case .subtract: v = pa[0] - pb[0]
                case .multiply: v = pa[0] * pb[0]
                case .divide: v = pa[0] / pb[0]
                }
                for i in 0..<n { po[i] = v }
            }
        }
    }
}

// MARK: - Reduction kernel

/// `out[target] = Σ input` over the dimensions where `targetShape` is 1 (or missing),
/// accumulated in double precision. `targetShape` must broadcast to `inputShape`.
package func sumToKernel(_ out: UnsafeMutablePointer<Float>, _ input: UnsafePointer<Float>,
                 inputShape: [Int], targetShape: [Int]) {
    Profile.time(.elementwise) {
        let rank = inputShape.count
        let pt = Array(repeating: 1, count: rank - targetShape.count) + targetShape
        var tStrides = [Int](repeating: 0, count: rank)
        var inStrides = [Int](repeating: 0, count: rank)
        var acc = 1, accIn = 1
        for i in stride(from: rank - 1, through: 0, by: -1) {
            tStrides[i] = pt[i] == 1 ? 0 : acc
            acc *= pt[i]
            inStrides[i] = accIn
            accIn *= inputShape[i]
        }
        let targetCount = acc
        let (dims, inS, tS) = BroadcastPlan.coalesce(inputShape, [inStrides, tStrides])
        let inner = dims.last!, tStep = tS.last!
        let outer = Array(dims.dropLast())
        let rows = outer.reduce(1, *)

        func accumulate(_ range: Range<Int>, _ sums: UnsafeMutablePointer<Double>) {
            for row in range {
                var rest = row, io = 0, to = 0
                for d in stride(from: outer.count - 1, through: 0, by: -1) {
                    let idx = rest % outer[d]
                    rest /= outer[d]
                    io += idx * inS[d]
                    to += idx * tS[d]
                }
                let p = input + io
                if tStep == 0 {
                    sums[to] += rowSum(p, inner)
                } else {
                    for i in 0..<inner { sums[to + i] += Double(p[i]) }
                }
            }
        }

        let chunks = (targetCount <= 1 << 14 && rows >= 2 && rows * inner >= 1 << 16) ? min(Threads.count, rows) : 1
        let partial = UnsafeMutablePointer<Double>.allocate(capacity: chunks * targetCount)
        partial.initialize(repeating: 0, count: chunks * targetCount)
        defer { partial.deallocate() }
        if chunks == 1 {
            accumulate(0..<rows, partial)
        } else {
            parallelFor(chunks) { c in
                accumulate((rows * c / chunks)..<(rows * (c + 1) / chunks), partial + c * targetCount)
            }
        }
        for j in 0..<targetCount {
            var s = 0.0
            for c in 0..<chunks { s += partial[c * targetCount + j] }
            out[j] = Float(s)
        }
    }
}

// MARK: - Unary kernels

/// Element-wise functions with a known derivative.
package enum UnaryOp: Equatable {
    case affine(scale: Float, shift: Float)
    case square, sqrt, abs, exp, log, relu, tanh, sigmoid, softplus
    case leakyRelu(slope: Float)
    case clamp(low: Float, high: Float)
    /// ELU scaled: scale·x for x > 0, scale·α·(eˣ − 1) otherwise (`torch.nn.ELU(α)` with scale 1; SELU below).
    case elu(alpha: Float, scale: Float)

    /// SELU (Klambauer et al., PyTorch's constants).
    package static let selu = UnaryOp.elu(alpha: 1.6732632423543772848170429916717, scale: 1.0507009873554804934193349852946)

    @inline(__always) func apply(_ x: Float) -> Float {
        switch self {
        case .affine(let a, let b): return x * a + b
        case .square: return x * x
        case .sqrt: return x.squareRoot()
        case .abs: return Swift.abs(x)
        case .exp: return Glibc.expf(x)
        case .log: return Glibc.logf(x)
        case .relu: return x > 0 ? x : 0
        case .tanh: return Glibc.tanhf(x)
        case .sigmoid: return x >= 0 ? 1 / (1 + Glibc.expf(-x)) : { let e = Glibc.expf(x); return e / (1 + e) }()
        case .softplus: return softplusValue(x)
        case .leakyRelu(let s): return x > 0 ? x : x * s
        case .clamp(let lo, let hi): return Swift.min(Swift.max(x, lo), hi)
        case .elu(let a, let s): return x > 0 ? s * x : s * a * expm1NonPositive(SIMD8(repeating: x))[0]  // as eluForward
        }
    }

    /// The slope for x < 0 of ReLU (0) and leaky ReLU, the activations a batch norm fuses; nil for every other op.
    package var negativeSlope: Float? {
        switch self {
        case .relu: return 0
        case .leakyRelu(let s): return s
        default: return nil
        }
    }

    /// d apply / dx at x, where y = apply(x).
    @inline(__always) func derivative(_ x: Float, _ y: Float) -> Float {
        switch self {
        case .affine(let a, _): return a
        case .square: return 2 * x
        case .sqrt: return 0.5 / y
        case .abs: return x > 0 ? 1 : (x < 0 ? -1 : 0)
        case .exp: return y
        case .log: return 1 / x
        case .relu: return x > 0 ? 1 : 0
        case .tanh: return 1 - y * y
        case .sigmoid: return y * (1 - y)
        case .softplus: return UnaryOp.sigmoid.apply(x)
        case .leakyRelu(let s): return x > 0 ? 1 : s
        case .clamp(let lo, let hi): return (x >= lo && x <= hi) ? 1 : 0
        case .elu(let a, let s): return x > 0 ? s : s * a * expNonPositive(SIMD8(repeating: x))[0]  // as eluBackward
        }
    }
}

/// log(1 + e^x) as PyTorch computes it (threshold 20: x itself above it).
@inline(__always) func softplusValue(_ x: Float) -> Float {
    x > 20 ? x : Glibc.log1pf(Glibc.expf(x))
}

/// `out[i] = op(x[i])`.
package func unaryForward(_ out: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ count: Int, _ op: UnaryOp) {
    BranchLog.note(op, x, count)  // before x could be written over
    Profile.time(.elementwise) {
        parallelChunks(count) { r in
            switch op {
            case .relu: for i in r { out[i] = x[i] > 0 ? x[i] : 0 }
            case .leakyRelu(let s): for i in r { let v = x[i]; out[i] = v > 0 ? v : v * s }
            case .affine(let a, let b): for i in r { out[i] = x[i] * a + b }
            case .square: for i in r { out[i] = x[i] * x[i] }
            case .elu(let a, let s): eluForward(out, x, r, alpha: a, scale: s)
            default: for i in r { out[i] = op.apply(x[i]) }
            }
        }
    }
}

/// `gradInput[i] = gradOutput[i] · op'(x[i])` in one pass (`y` is op's output).
package func unaryBackward(_ gradInput: UnsafeMutablePointer<Float>, _ gradOutput: UnsafePointer<Float>,
                   _ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>, _ count: Int, _ op: UnaryOp) {
    Profile.time(.elementwise) {
        parallelChunks(count) { r in
            switch op {
            case .relu: for i in r { gradInput[i] = x[i] > 0 ? gradOutput[i] : 0 }
            case .leakyRelu(let s): for i in r { gradInput[i] = x[i] > 0 ? gradOutput[i] : gradOutput[i] * s }
            case .tanh: for i in r { gradInput[i] = gradOutput[i] * (1 - y[i] * y[i]) }
            case .elu(let a, let s): eluBackward(gradInput, gradOutput, x, r, alpha: a, scale: s)
            default: for i in r { gradInput[i] = gradOutput[i] * op.derivative(x[i], y[i]) }
            }
        }
    }
}

/// ELU's gradient read from its output y (`UnaryOp.elu`, y = op(x)): g·scale where y > 0, g·(y + scale·α)
/// elsewhere, which is g·scale·α·eˣ.
package func eluBackwardFromOutput(_ gradInput: UnsafeMutablePointer<Float>, _ gradOutput: UnsafePointer<Float>,
                                  _ y: UnsafePointer<Float>, _ count: Int, alpha: Float, scale: Float) {
    let shift = scale * alpha
    Profile.time(.elementwise) {
        parallelChunks(count) { r in
            for i in r { let v = y[i]; gradInput[i] = gradOutput[i] * (v > 0 ? scale : v + shift) }
        }
    }
}

// MARK: - Broadcast copy

/// `out = x` broadcast to `plan.outputShape` (the plan was built as `(outputShape, x.shape)`).
package func broadcastKernel(_ out: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ plan: BroadcastPlan) {
    Profile.time(.elementwise) {
        plan.forEachRow { o, _, xo, n, _, step in
            if step == 1 { (out + o).update(from: x + xo, count: n) } else { (out + o).update(repeating: x[xo], count: n) }
        }
    }
}
