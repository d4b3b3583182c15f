// MARK: - Penalties on the critic's gradient

/// A regulariser of the critic added to the discriminator's loss. All are exact double
/// backprop: the input gradient is taken with `createGraph: true`.
///
/// Each penalty is declared here whole: its suffix, formula, weight option and default, the random inputs it
/// draws (`randomInputs`) and its computation (`penalty(_:...)`). The option table, the step's inputs, the C ABI
/// and Python read these declarations, so adding a penalty touches this file (and the PyTorch twin and fixtures).
public enum PenaltyKind: String, CaseIterable {
    /// Gradient penalty (WGAN-GP).
    case gradient = "GP"
    /// Lipschitz penalty (WGAN-LP, one-sided).
    case lipschitz = "LP"
    /// R1 on real data.
    case r1 = "R1"
    /// DRAGAN (std over the whole real batch; the clip, for images in [−1, 1], can be turned off with `dragan_clip`).
    case dragan = "DRAGAN"
    /// R2: R1's zero-centred penalty on fake data (Mescheder et al. 2018).
    case r2 = "R2"
    /// 0-GP: the zero-centred gradient penalty at GP's interpolates (Thanh-Tung et al. 2019).
    case zeroCentredGradient = "GP0"

    /// The penalty as a formula, in one line (`swiftgan list`; the one place it is written).
    public var formula: String {
        switch self {
        case .gradient: return "+ gp_weight·E(‖∇C(x̂)‖−1)², x̂ = u·x_r + (1−u)·x_f, u ~ U(0,1) per sample"
        case .lipschitz: return "+ lp_weight·E max(0, ‖∇C(x̂)‖−1)², x̂ as for GP"
        case .r1: return "+ (r1_weight/2)·E‖∇C(x_r)‖²"
        case .dragan: return "+ dragan_weight·E(‖∇C(x̂)‖−1)², x̂ = clip(x_r + α·0.5·std(x_r)·ε, −1, 1), ε ~ U(0,1), α ~ U(−1,1) per sample"
        case .r2: return "+ (r2_weight/2)·E‖∇C(x_f)‖²"
        case .zeroCentredGradient: return "+ gp0_weight·E‖∇C(x̂)‖², x̂ as for GP (one u ~ U(0,1) per sample, shared with GP and LP)"
        }
    }

    /// The config key of this penalty's weight.
    public var weightKey: String { rawValue.lowercased() + "_weight" }

    /// The weight's help in the option table.
    public var weightHelp: String {
        switch self {
        case .gradient: return "the gradient penalty's weight λ (-GP)"
        case .lipschitz: return "the Lipschitz penalty's weight λ (-LP)"
        case .r1: return "R1's weight γ (-R1)"
        case .dragan: return "DRAGAN's penalty weight λ (-DRAGAN)"
        case .r2: return "R2's weight γ (-R2)"
        case .zeroCentredGradient: return "the zero-centred gradient penalty's weight λ (-GP0)"
        }
    }

    /// The weight before any option sets it.
    public var defaultWeight: Float { 10 }

    /// The random inputs this penalty draws each critic step, in the order it draws them; penalties that share
    /// an input (GP and LP: `u`) share its draw.
    public var randomInputs: [RandomInput] {
        switch self {
        case .gradient, .lipschitz, .zeroCentredGradient: return [.mixing]
        case .dragan: return [.draganAlpha, .draganNoise]
        case .r1, .r2: return []
        }
    }
}

/// A random input of a penalty: its name (the step input that gives it explicitly, to replay a step), its
/// meaning, its shape for one critic step and its distribution. Shapes follow what the critic judges: with
/// PacGAN's packing, one entry per packed sample.
public struct RandomInput {
    public let name: String
    public let meaning: String
    /// The shape of one critic step's entry, from the shape of the critic's real batch `[B', C', ...]`.
    public let shape: (_ criticBatch: [Int]) -> [Int]
    /// Its shape in words, for the catalogue (B' the critic's batch, one packed sample's shape after it).
    public let shapeText: String
    let low: Float, high: Float

    /// A draw of this input for a critic batch of shape `criticBatch`, from `rng`.
    public func draw(criticBatch: [Int], rng: inout RandomGenerator) -> Tensor {
        .uniform(shape(criticBatch), low: low, high: high, rng: &rng)
    }

    /// GP's, LP's and GP0's mixing coefficients u ~ U(0, 1), one per sample.
    static let mixing = RandomInput(name: "u", meaning: "the interpolates' mixing coefficients u ~ U(0, 1) (GP, LP, GP0)",
                                    shape: { [$0[0]] }, shapeText: "[B']", low: 0, high: 1)
    /// DRAGAN's α ~ U(−1, 1), one per sample.
    static let draganAlpha = RandomInput(name: "dragan_alpha", meaning: "DRAGAN's per-sample α ~ U(-1, 1)",
                                         shape: { [$0[0]] }, shapeText: "[B']", low: -1, high: 1)
    /// DRAGAN's ε ~ U(0, 1), one per value of the real batch.
    static let draganNoise = RandomInput(name: "dragan_noise", meaning: "DRAGAN's per-value ε ~ U(0, 1)",
                                         shape: { $0 }, shapeText: "[B', critic sample]", low: 0, high: 1)
}

/// The random inputs of one critic step's penalties, by name (`RandomInput.name`), and DRAGAN's clip option.
public struct PenaltyInputs {
    public var values: [String: Tensor]
    /// Whether DRAGAN clips its perturbed points to [−1, 1] (the range of images).
    public var draganClip: Bool
    /// DRAGAN's std(x_r) over the whole real batch, when the critic is given only a slice of it (one rank's of a
    /// training spread over several); nil: the std of the batch the penalty is given.
    public var realStandardDeviation: Float?

    public init(_ values: [String: Tensor] = [:], draganClip: Bool = true) {
        self.values = values
        self.draganClip = draganClip
    }

    subscript(_ input: RandomInput) -> Tensor {
        guard let t = values[input.name] else { preconditionFailure("the penalty input \(input.name) was not drawn") }
        return t
    }
}

/// The gradient norms ‖∇_x C(x)‖₂ per sample, differentiable (double backprop).
///
/// In float32 whatever the step's `Precision`: the critic's pass at the penalty's points, its input gradient and
/// (each op's backward running in its forward's precision) the double backprop through them. A gradient norm is
/// a sum of squares of gradients, each of them through every layer twice; bfloat16 products would perturb it by
/// the rounding of every operand on that path.
func criticGradientNorms(critic: (Tensor) -> Tensor, at point: Tensor) -> Tensor {
    let x = point.detached()
    x.requiresGrad = true
    let grad = Precision.using(.fp32) { gradients(of: critic(x), wrt: [x], createGraph: true)[0] }
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
    case .gradient, .lipschitz, .zeroCentredGradient:
        let u = perSample(inputs[.mixing], like: real.shape)
        let interpolate = withoutGradients { real * u + fake * (1 - u) }
        let norms = criticGradientNorms(critic: critic, at: interpolate)
        if kind == .zeroCentredGradient { return square(norms).mean() * weight }
        let excess = norms - 1
        return square(kind == .gradient ? excess : relu(excess)).mean() * weight
    case .r1, .r2:
        let norms = criticGradientNorms(critic: critic, at: kind == .r1 ? real : fake)
        return square(norms).mean() * (weight / 2)
    case .dragan:
        let perturbed = withoutGradients { () -> Tensor in
            let std = inputs.realStandardDeviation ?? sampleStandardDeviation(real)
            let alpha = perSample(inputs[.draganAlpha], like: real.shape)
            let moved = real + alpha * (inputs[.draganNoise] * (0.5 * std))
            return inputs.draganClip ? clamp(moved, min: -1, max: 1) : moved
        }
        return square(criticGradientNorms(critic: critic, at: perturbed) - 1).mean() * weight
    }
}

/// The unbiased standard deviation of all elements (as `torch.std`).
public func sampleStandardDeviation(_ x: Tensor) -> Float {
    var sum = 0.0
    for i in 0..<x.count { sum += Double(x.pointer[i]) }
    let mean = sum / Double(x.count)
    var sq = 0.0
    for i in 0..<x.count { let d = Double(x.pointer[i]) - mean; sq += d * d }
    return Float((sq / Double(max(x.count - 1, 1))).squareRoot())
}

/// The WGAN-GP gradient penalty: `penalty(.gradient, ...)` with explicit mixing coefficients `u` `[N]`.
public func gradientPenalty(critic: (Tensor) -> Tensor, real: Tensor, fake: Tensor, mixing u: Tensor, weight: Float) -> Tensor {
    penalty(.gradient, weight: weight, critic: critic, real: real, fake: fake, inputs: PenaltyInputs([RandomInput.mixing.name: u]))
}
