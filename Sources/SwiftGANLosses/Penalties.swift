// MARK: - Penalties on the critic's gradient

/// A regulariser of the critic added to the discriminator's loss. All are exact double
/// backprop: the input gradient is taken with `createGraph: true`.
public enum PenaltyKind: String, CaseIterable {
    /// Gradient penalty (WGAN-GP).
    case gradient = "GP"
    /// Lipschitz penalty (WGAN-LP, one-sided).
    case lipschitz = "LP"
    /// R1 on real data.
    case r1 = "R1"
    /// DRAGAN (std over the whole real batch; the clip, for images in [−1, 1], can be turned off with `dragan_clip`).
    case dragan = "DRAGAN"

    /// The penalty as a formula, in one line (`swiftgan list`; the one place it is written).
    public var formula: String {
        switch self {
        case .gradient: return "+ gp_weight·E(‖∇C(x̂)‖−1)², x̂ = u·x_r + (1−u)·x_f, u ~ U(0,1) per sample"
        case .lipschitz: return "+ lp_weight·E max(0, ‖∇C(x̂)‖−1)², x̂ as for GP"
        case .r1: return "+ (r1_weight/2)·E‖∇C(x_r)‖²"
        case .dragan: return "+ dragan_weight·E(‖∇C(x̂)‖−1)², x̂ = clip(x_r + α·0.5·std(x_r)·ε, −1, 1), ε ~ U(0,1), α ~ U(−1,1) per sample"
        }
    }

    /// The config key of this penalty's weight.
    public var weightKey: String { rawValue.lowercased() + "_weight" }
}

/// The random inputs a penalty draws (given explicitly to replay a step).
public struct PenaltyInputs {
    /// GP/LP mixing coefficients u, `[N]`.
    public var mixing: Tensor?
    /// DRAGAN's per-sample α, `[N]`.
    public var draganAlpha: Tensor?
    /// DRAGAN's per-element ε, shaped as a real batch.
    public var draganNoise: Tensor?
    /// Whether DRAGAN clips its perturbed points to [−1, 1] (the range of images).
    public var draganClip = true

    public init(mixing: Tensor? = nil, draganAlpha: Tensor? = nil, draganNoise: Tensor? = nil, draganClip: Bool = true) {
        self.mixing = mixing
        self.draganAlpha = draganAlpha
        self.draganNoise = draganNoise
        self.draganClip = draganClip
    }
}

/// The gradient norms ‖∇_x C(x)‖₂ per sample, differentiable (double backprop).
func criticGradientNorms(critic: (Tensor) -> Tensor, at point: Tensor) -> Tensor {
    let x = point.detached()
    x.requiresGrad = true
    let grad = gradients(of: critic(x), wrt: [x], createGraph: true)[0]
    return rowNorms(grad.reshaped([x.shape[0], -1]))
}

/// The L2 norm of each row of `x` [N, D], as [N, 1]. Its derivative x / ‖x‖ is 0 for a row of zeros, as in
/// PyTorch's `norm` (the subgradient there), where the derivative of √ of a sum of squares is 0 · ∞ = NaN: a
/// critic whose gradient vanishes at a sample (every ReLU of a small MLP off there) gives that sample (0 − 1)²,
/// not a NaN step. The derivative is differentiable in x and g with 1 / ‖x‖ held constant (a penalty
/// differentiates the norms once).
func rowNorms(_ x: Tensor) -> Tensor {
    let norms = withoutGradients { sqrt(square(x).sum(alongAxes: [1])) }
    let inverse = Tensor(uninitialized: norms.shape)
    for i in 0..<norms.count { inverse.pointer[i] = norms.pointer[i] > 0 ? 1 / norms.pointer[i] : 0 }
    return record(norms, [x]) { g, _ in [x * (g * inverse)] }  // captures x and inverse, never norms (a cycle)
}

/// `[N]` reshaped to broadcast against a batch of shape `shape` (`[N, 1, 1, 1]` for images).
func perSample(_ t: Tensor, like shape: [Int]) -> Tensor {
    t.reshaped([shape[0]] + Array(repeating: 1, count: shape.count - 1))
}

/// The penalty `kind` with weight `weight`, on critic `critic` at real and fake batches (constants).
public func penalty(_ kind: PenaltyKind, weight: Float, critic: (Tensor) -> Tensor, real: Tensor, fake: Tensor,
                    inputs: PenaltyInputs) -> Tensor {
    switch kind {
    case .gradient, .lipschitz:
        let u = perSample(inputs.mixing!, like: real.shape)
        let interpolate = withoutGradients { real * u + fake * (1 - u) }
        let excess = criticGradientNorms(critic: critic, at: interpolate) - 1
        return square(kind == .gradient ? excess : relu(excess)).mean() * weight
    case .r1:
        let norms = criticGradientNorms(critic: critic, at: real)
        return square(norms).mean() * (weight / 2)
    case .dragan:
        let perturbed = withoutGradients { () -> Tensor in
            let std = sampleStandardDeviation(real)
            let alpha = perSample(inputs.draganAlpha!, like: real.shape)
            let moved = real + alpha * (inputs.draganNoise! * (0.5 * std))
            return inputs.draganClip ? clamp(moved, min: -1, max: 1) : moved
        }
        return square(criticGradientNorms(critic: critic, at: perturbed) - 1).mean() * weight
    }
}

/// The unbiased standard deviation of all elements (as `torch.std`).
func sampleStandardDeviation(_ x: Tensor) -> Float {
    var sum = 0.0
    for i in 0..<x.count { sum += Double(x.pointer[i]) }
    let mean = sum / Double(x.count)
    var sq = 0.0
    for i in 0..<x.count { let d = Double(x.pointer[i]) - mean; sq += d * d }
    return Float((sq / Double(max(x.count - 1, 1))).squareRoot())
}

/// The WGAN-GP gradient penalty: `penalty(.gradient, ...)` with explicit mixing coefficients `u` `[N]`.
public func gradientPenalty(critic: (Tensor) -> Tensor, real: Tensor, fake: Tensor, mixing u: Tensor, weight: Float) -> Tensor {
    penalty(.gradient, weight: weight, critic: critic, real: real, fake: fake, inputs: PenaltyInputs(mixing: u))
}
