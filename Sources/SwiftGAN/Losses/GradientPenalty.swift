// MARK: - Gradient penalty (WGAN-GP form)

/// `λ · E_x̂ (‖∇_x̂ C(x̂)‖₂ − 1)²` with `x̂ = u·x_r + (1 − u)·x_f`, one `u ~ U(0, 1)` per sample.
///
/// The gradient is taken with `createGraph: true`, so differentiating the
/// penalty with respect to the critic's weights is exact double backprop.
///
/// - Parameters:
///   - critic: the discriminator, `[N, C, H, W]` → `[N]`.
///   - real, fake: `[N, C, H, W]` (used as constants).
///   - mixing: `u`, `[N]`.
///   - weight: λ.
public func gradientPenalty(critic: (Tensor) -> Tensor, real: Tensor, fake: Tensor, mixing u: Tensor, weight: Float) -> Tensor {
    let n = real.shape[0]
    let u4 = u.reshaped([n, 1, 1, 1])
    let interpolate = withoutGradients { real * u4 + fake * (1 - u4) }
    interpolate.requiresGrad = true
    let score = critic(interpolate)
    let grad = gradients(of: score, wrt: [interpolate], createGraph: true)[0]
    let norm = sqrt(square(grad.reshaped([n, -1])).sum(alongAxes: [1]))
    return square(norm - 1).mean() * weight
}
