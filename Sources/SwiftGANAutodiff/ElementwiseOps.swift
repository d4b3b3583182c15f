// Differentiable element-wise, broadcasting and reduction ops. Each backward
// rule is written with these same ops, so gradients can be differentiated again.

// MARK: - Binary ops with broadcasting

func broadcastPlan(_ a: Tensor, _ b: Tensor) -> BroadcastPlan {
    do { return try BroadcastPlan(a.shape, b.shape) } catch { preconditionFailure(error.message) }
}

func binary(_ a: Tensor, _ b: Tensor, _ op: BinaryOp) -> Tensor {
    let plan = broadcastPlan(a, b)
    // Each output value is written after a's value at the same place is read, so a scratch a of the output's shape
    // can take it; unless the op is recorded with a rule that reads a's values (a product's, a quotient's).
    let rulesReadA: Bool = switch op {
    case .add, .subtract: false
    case .multiply, .divide: GradMode.isEnabled
    }
    let out = a.isScratch && a.shape == plan.outputShape && !rulesReadA
        ? a.resultBuffer() : Tensor(uninitialized: plan.outputShape)
    binaryForward(out.pointer, a.pointer, b.pointer, op, plan)
    let shapes = (a.shape, b.shape)
    switch op {  // a sum's rule reads the shapes only, so the tape does not keep its inputs' values
    case .add:
        return record(out, [a, b]) { g, needed in
            [needed[0] ? g.sum(to: shapes.0) : nil, needed[1] ? g.sum(to: shapes.1) : nil]
        }
    case .subtract:
        return record(out, [a, b]) { g, needed in
            [needed[0] ? g.sum(to: shapes.0) : nil, needed[1] ? (-g).sum(to: shapes.1) : nil]
        }
    default: break
    }
    return record(out, [a, b]) { g, needed in
        switch op {
        case .add, .subtract:
            preconditionFailure("recorded above")
        case .multiply:
            return [needed[0] ? (g * b).sum(to: a.shape) : nil, needed[1] ? (g * a).sum(to: b.shape) : nil]
        case .divide:
            return [needed[0] ? (g / b).sum(to: a.shape) : nil,
                    needed[1] ? (-(g * a) / (b * b)).sum(to: b.shape) : nil]
        }
    }
}

/// Element-wise sum with broadcasting.
public func + (a: Tensor, b: Tensor) -> Tensor { binary(a, b, .add) }
/// Element-wise difference with broadcasting.
public func - (a: Tensor, b: Tensor) -> Tensor { binary(a, b, .subtract) }
/// Element-wise product with broadcasting.
public func * (a: Tensor, b: Tensor) -> Tensor { binary(a, b, .multiply) }
/// Element-wise quotient with broadcasting.
public func / (a: Tensor, b: Tensor) -> Tensor { binary(a, b, .divide) }

// MARK: - Scalar arithmetic

/// `x · a + b` element-wise.
public func affine(_ x: Tensor, scale: Float, shift: Float) -> Tensor { unary(x, .affine(scale: scale, shift: shift)) }
public prefix func - (x: Tensor) -> Tensor { affine(x, scale: -1, shift: 0) }
public func * (x: Tensor, s: Float) -> Tensor { affine(x, scale: s, shift: 0) }
public func * (s: Float, x: Tensor) -> Tensor { affine(x, scale: s, shift: 0) }
public func / (x: Tensor, s: Float) -> Tensor { affine(x, scale: 1 / s, shift: 0) }
public func + (x: Tensor, s: Float) -> Tensor { affine(x, scale: 1, shift: s) }
public func + (s: Float, x: Tensor) -> Tensor { affine(x, scale: 1, shift: s) }
public func - (x: Tensor, s: Float) -> Tensor { affine(x, scale: 1, shift: -s) }
public func - (s: Float, x: Tensor) -> Tensor { affine(x, scale: -1, shift: s) }
public func / (s: Float, x: Tensor) -> Tensor { Tensor(scalar: s) / x }

// MARK: - Unary functions

func unary(_ x: Tensor, _ op: UnaryOp) -> Tensor {
    let out = Tensor(uninitialized: x.shape)
    unaryForward(out.pointer, x.pointer, x.count, op)
    if case .affine(let a, _) = op { return record(out, [x]) { g, _ in [g * a] } }  // reads neither x nor y
    // The output's values (not `out` itself: its node would hold it, a cycle) for the ops whose derivative
    // reads them; the others keep x only.
    let y: Tensor?
    switch op {
    case .sqrt, .exp, .tanh, .sigmoid: y = out.detached()
    default: y = nil
    }
    return record(out, [x]) { g, _ in
        if GradMode.isEnabled { return [unaryDerivativeGraph(op, x, g)] }
        let gi = g.resultBuffer()
        unaryBackward(gi.pointer, g.pointer, x.pointer, (y ?? x).pointer, x.count, op)
        return [gi]
    }
}

/// `unary(x, op)`, with `refill`, which writes the same output again from x (for `recomputingIntermediate`).
package func unaryRecomputable(_ x: Tensor, _ op: UnaryOp) -> (output: Tensor, refill: (UnsafeMutablePointer<Float>) -> Void) {
    (unary(x, op), { unaryForward($0, x.pointer, x.count, op) })
}

/// `g · op'(x)` written with differentiable ops (used when the backward pass is recorded).
func unaryDerivativeGraph(_ op: UnaryOp, _ x: Tensor, _ g: Tensor) -> Tensor {
    switch op {
    case .affine(let a, _): return g * a
    case .square: return g * x * 2
    case .sqrt: return g / (sqrt(x) * 2)
    case .exp: return g * exp(x)
    case .log: return g / x
    case .tanh: let y = tanh(x); return g * (1 - y * y)
    case .sigmoid: let s = sigmoid(x); return g * s * (1 - s)
    case .softplus: return g * sigmoid(x)
    case .elu(let alpha, let scale):
        // scale for x > 0, scale·α·eˣ otherwise: a mask picks the branch, eˣ stays differentiable.
        let positive = positiveMask(x)
        return g * (positive * scale + (1 - positive) * exp(x) * (scale * alpha))
    case .abs, .relu, .leakyRelu, .clamp:
        return piecewiseLinearGradient(g, x, op)
    }
}

/// `g · op'(x)` for a piecewise-linear op (abs, ReLU, leaky ReLU, clamp), whose derivative is a mask
/// constant in x: one pass, and the node keeps no mask tensor (x, which the op's own node keeps, is read
/// again). Linear in g, so differentiable to any order.
func piecewiseLinearGradient(_ g: Tensor, _ x: Tensor, _ op: UnaryOp) -> Tensor {
    let out = Tensor(uninitialized: g.shape)
    unaryBackward(out.pointer, g.pointer, x.pointer, x.pointer, g.count, op)
    return record(out, [g]) { gg, _ in [piecewiseLinearGradient(gg, x, op)] }
}

/// x² element-wise.
public func square(_ x: Tensor) -> Tensor { unary(x, .square) }
/// √x element-wise.
public func sqrt(_ x: Tensor) -> Tensor { unary(x, .sqrt) }
/// |x| element-wise (derivative 0 at 0, as PyTorch).
public func abs(_ x: Tensor) -> Tensor { unary(x, .abs) }
/// eˣ element-wise.
public func exp(_ x: Tensor) -> Tensor { unary(x, .exp) }
/// ln x element-wise.
public func log(_ x: Tensor) -> Tensor { unary(x, .log) }
/// max(x, 0).
public func relu(_ x: Tensor) -> Tensor { unary(x, .relu) }
/// x for x > 0, slope · x otherwise.
public func leakyRelu(_ x: Tensor, slope: Float) -> Tensor { unary(x, .leakyRelu(slope: slope)) }
/// tanh x.
public func tanh(_ x: Tensor) -> Tensor { unary(x, .tanh) }
/// 1 / (1 + e⁻ˣ).
public func sigmoid(_ x: Tensor) -> Tensor { unary(x, .sigmoid) }
/// log(1 + eˣ) (x itself above 20, as PyTorch).
public func softplus(_ x: Tensor) -> Tensor { unary(x, .softplus) }
/// SELU as `torch.nn.SELU`: scale·x for x > 0, scale·α·(eˣ − 1) otherwise (its backward pass reads its output).
public func selu(_ x: Tensor) -> Tensor { eluKeepingOutput(x, .selu) }
/// ELU as `torch.nn.ELU(alpha)`: x for x > 0, α·(eˣ − 1) otherwise (its backward pass reads its output).
public func elu(_ x: Tensor, alpha: Float = 1) -> Tensor { eluKeepingOutput(x, .elu(alpha: alpha, scale: 1)) }

/// An ELU (`UnaryOp.elu`, SELU included) whose backward pass reads its output y rather than its input x, as
/// PyTorch's rule for an in-place ELU does: the derivative is scale where y > 0 (exactly where x > 0) and
/// scale·α·eˣ = y + scale·α elsewhere. A convolution after it keeps the same tensor for its weight gradient, so
/// the pair keeps one activation rather than two, x is freed once the forward pass is done with it, and the
/// backward pass computes no exponential.
func eluKeepingOutput(_ x: Tensor, _ op: UnaryOp) -> Tensor {
    guard case .elu(let alpha, let scale) = op else { preconditionFailure("eluKeepingOutput of \(op)") }
    let y = Tensor(uninitialized: x.shape)
    unaryForward(y.pointer, x.pointer, x.count, op)
    if GradMode.isEnabled, x.isDifferentiable { attachELURule(y, values: y.detached(), input: Edge(x), alpha: alpha, scale: scale) }
    return y
}

/// Gives `y`, an ELU's output on the input behind `input`, the node of that ELU, whose rule reads `values` (y's
/// values off the tape: a rule capturing y itself, whose node holds the rule, would be a cycle).
private func attachELURule(_ y: Tensor, values: Tensor, input: Edge, alpha: Float, scale: Float) {
    y.tapeNode = Node(edges: [input]) { g, _ in
        guard GradMode.isEnabled else {
            let gx = g.resultBuffer()
            eluBackwardFromOutput(gx.pointer, g.pointer, values.pointer, g.count, alpha: alpha, scale: scale)
            return [gx]
        }
        // Recorded (double backprop): the values again as a tensor on the tape, with a node of this same rule,
        // so that the derivative's own derivative in x flows through them: d(y + scale·α)/dx = y + scale·α.
        let output = Tensor(shape: values.shape, storage: values.storage)
        attachELURule(output, values: values, input: input, alpha: alpha, scale: scale)
        let positive = positiveMask(values)
        return [g * (positive * scale + (1 - positive) * (output + scale * alpha))]
    }
}

/// 1 where `x` > 0, 0 elsewhere (a constant).
private func positiveMask(_ x: Tensor) -> Tensor {
    let mask = Tensor(uninitialized: x.shape)
    for i in 0..<x.count { mask.pointer[i] = x.pointer[i] > 0 ? 1 : 0 }
    return mask
}
/// min(max(x, low), high); the gradient passes where low ≤ x ≤ high.
public func clamp(_ x: Tensor, min low: Float, max high: Float) -> Tensor { unary(x, .clamp(low: low, high: high)) }

// MARK: - Shapes and reductions

extension Tensor {
    /// The same values under another shape with the same element count (one entry may be -1).
    public func reshaped(_ newShape: [Int]) -> Tensor {
        var s = newShape
        if let i = s.firstIndex(of: -1) { s[i] = count / s.filter { $0 != -1 }.reduce(1, *) }
        precondition(s.reduce(1, *) == count, "cannot reshape \(shape) to \(newShape)")
        let out = Tensor(shape: s, storage: storage)
        let original = shape
        return record(out, [self]) { g, _ in [g.reshaped(original)] }
    }

    /// `[N, ...]` flattened to `[N, rest]`.
    public func flattened() -> Tensor { reshaped([shape.first ?? 1, -1]) }

    /// The sum over the dimensions where `target` is 1 or missing, shaped `target`.
    public func sum(to target: [Int]) -> Tensor {
        if target == shape { return self }
        let out = Tensor(uninitialized: target)
        sumToKernel(out.pointer, pointer, inputShape: shape, targetShape: target)
        let original = shape
        return record(out, [self]) { g, _ in [g.broadcast(to: original)] }
    }

    /// The values repeated along broadcast dimensions to `target`.
    public func broadcast(to target: [Int]) -> Tensor {
        if target == shape { return self }
        let plan: BroadcastPlan
        do { plan = try BroadcastPlan(target, shape) } catch { preconditionFailure(error.message) }
        precondition(plan.outputShape == target, "cannot broadcast \(shape) to \(target)")
        let out = Tensor(uninitialized: target)
        broadcastKernel(out.pointer, pointer, plan)
        let original = shape
        return record(out, [self]) { g, _ in [g.sum(to: original)] }
    }

    /// The sum of all elements (shape `[]`).
    public func sum() -> Tensor { sum(to: []) }
    /// The mean of all elements (shape `[]`).
    public func mean() -> Tensor { sum() * (1 / Float(count)) }

    /// The sum over `axes`, keeping them as size 1.
    public func sum(alongAxes axes: [Int]) -> Tensor {
        var target = shape
        for a in axes { target[a] = 1 }
        return sum(to: target)
    }

    /// The mean over `axes`, keeping them as size 1.
    public func mean(alongAxes axes: [Int]) -> Tensor {
        let n = axes.reduce(1) { $0 * shape[$1] }
        return sum(alongAxes: axes) * (1 / Float(n))
    }
}
