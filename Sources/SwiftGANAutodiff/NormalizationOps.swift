// MARK: - Batch normalisation

/// Training-mode 2-D batch normalisation as `torch.nn.functional.batch_norm(training=True)`, optionally
/// followed by a ReLU (`slope` 0) or leaky ReLU (`slope` > 0) in the same pass (`slope` 1: none).
///
/// Normalises each channel with the batch's mean and biased variance, then
/// updates the running statistics in place with PyTorch's rule
/// (`r ← (1 − momentum)·r + momentum·stat`, unbiased variance for `runningVar`). With an activation, the
/// normalised values are not kept: the backward pass reads the activation's branch off the output.
///
/// - Parameters:
///   - x: `[N, C, H, W]`.
///   - gamma, beta: `[C]`.
///   - runningMean, runningVar: `[C]`, updated off the tape.
public func batchNorm2dTraining(_ x: Tensor, gamma: Tensor, beta: Tensor, runningMean: Tensor, runningVar: Tensor,
                                momentum: Float = 0.1, eps: Float = 1e-5, slope: Float = 1) -> Tensor {
    batchNorm2dTrainingRecomputable(x, gamma: gamma, beta: beta, runningMean: runningMean, runningVar: runningVar,
                                    momentum: momentum, eps: eps, slope: slope).output
}

/// `batchNorm2dTraining`, with `refill`, which writes the same output again (bit for bit) from x and the
/// batch's statistics: for `recomputingIntermediate`, which frees the output and recomputes it in the
/// backward pass (γ and β must be unchanged by then, as they are until the optimizer step).
package func batchNorm2dTrainingRecomputable(_ x: Tensor, gamma: Tensor, beta: Tensor, runningMean: Tensor, runningVar: Tensor,
                                     momentum: Float, eps: Float, slope: Float)
    -> (output: Tensor, refill: (UnsafeMutablePointer<Float>) -> Void) {
    let n = x.shape[0], c = x.shape[1], s = x.count / max(n * c, 1)
    let y = Tensor(uninitialized: x.shape)
    let mean = Tensor(uninitialized: [c]), invStd = Tensor(uninitialized: [c]), variance = Tensor(uninitialized: [c])
    batchNormTrainingForward(y.pointer, mean: mean.pointer, invStd: invStd.pointer, variance: variance.pointer,
                             x.pointer, gamma.pointer, beta.pointer, slope: slope, batch: n, channels: c, spatial: s, eps: eps)
    updateRunningStatistics(runningMean, runningVar, mean: mean, variance: variance, count: n * s, momentum: momentum)
    let refill = { (out: UnsafeMutablePointer<Float>) in
        batchNormApply(out, x.pointer, mean: mean.pointer, invStd: invStd.pointer, gamma.pointer, beta.pointer,
                       slope: slope, batch: n, channels: c, spatial: s)
    }
    // The rule reads x and the statistics, never the output (the activation's branch is recomputed from x).
    let output = record(y, [x, gamma, beta]) { gy, needed in
        if GradMode.isEnabled {
            // The input gradient alone (a penalty's gradient in x): one op that keeps no intermediates.
            guard needed != [true, false, false] else {
                return [batchNormInputGradient(gy, x, gamma, beta, mean: mean, invStd: invStd, slope: slope, eps: eps), nil, nil]
            }
            return batchNormGradientGraph(gy, x, gamma, beta, mean: mean, invStd: invStd, slope: slope, eps: eps, needed: needed)
        }
        let gx = needed[0] ? gy.resultBuffer() : nil  // the kernel reads each value of gy before writing gx's there
        let gg = needed[1] ? Tensor(uninitialized: [c]) : nil
        let gb = needed[2] ? Tensor(uninitialized: [c]) : nil
        batchNormTrainingBackward(gradInput: gx?.pointer, gradGamma: gg?.pointer, gradBeta: gb?.pointer,
                                  gy.pointer, x.pointer, mean: mean.pointer, invStd: invStd.pointer,
                                  gamma: gamma.pointer, beta: beta.pointer, slope: slope,
                                  batch: n, channels: c, spatial: s)
        return [gx, gg, gb]
    }
    return (output, refill)
}

/// PyTorch's update of the running statistics from a batch's mean and biased variance over `count` values per
/// channel: `r ← (1 − momentum)·r + momentum·stat`, the variance made unbiased (× count / (count − 1)). Inside
/// `DeferredRunningStatistics.deferring`, the update is held back until its `apply`.
func updateRunningStatistics(_ runningMean: Tensor, _ runningVar: Tensor, mean: Tensor, variance: Tensor, count: Int,
                             momentum: Float) {
    if let deferred = DeferredRunningStatistics.scope.current {
        deferred.updates.append { updateRunningStatistics(runningMean, runningVar, mean: mean, variance: variance,
                                                          count: count, momentum: momentum) }
        return
    }
    let m = Float(count)
    let unbias = m > 1 ? m / (m - 1) : 1
    for i in 0..<runningMean.count {
        runningMean.pointer[i] = (1 - momentum) * runningMean.pointer[i] + momentum * mean.pointer[i]
        runningVar.pointer[i] = (1 - momentum) * runningVar.pointer[i] + momentum * variance.pointer[i] * unbias
    }
}

/// The batch-norm gradients, after the activation's of negative slope `slope` (a mask constant in x, its
/// branch recomputed from x and the forward's statistics), written with differentiable ops.
func batchNormGradientGraph(_ gy: Tensor, _ x: Tensor, _ gamma: Tensor, _ beta: Tensor, mean: Tensor, invStd: Tensor,
                            slope: Float, eps: Float, needed: [Bool]) -> [Tensor?] {
    let upstream = slope == 1 ? gy : batchNormActivationGradient(gy, x, gamma, beta, mean: mean, invStd: invStd, slope: slope)
    return batchNormTrainingGradientGraph(upstream, x, gamma, eps: eps, needed: needed)
}

/// `gy` times the derivative of the activation after batch norm, at the normalised value of x (`activationMask`):
/// a mask constant in x, so the op is linear in gy and its rule is itself.
func batchNormActivationGradient(_ gy: Tensor, _ x: Tensor, _ gamma: Tensor, _ beta: Tensor, mean: Tensor, invStd: Tensor,
                                 slope: Float) -> Tensor {
    let n = x.shape[0], c = x.shape[1], s = x.count / max(n * c, 1)
    let out = Tensor(uninitialized: x.shape)
    batchNormActivationMask(out.pointer, gy.pointer, x.pointer, mean: mean.pointer, invStd: invStd.pointer,
                            gamma.pointer, beta.pointer, slope: slope, batch: n, channels: c, spatial: s)
    return record(out, [gy]) { g, _ in
        [batchNormActivationGradient(g, x, gamma, beta, mean: mean, invStd: invStd, slope: slope)]
    }
}

/// Training batch norm's input gradient `gx(gy, x, γ)` (after the activation's of negative slope `slope`) as
/// one op: the node keeps gy, x and γ, which the tape holds anyway, and its rule is a fused kernel
/// (`batchNormInputGradientBackward`); a third order goes through `batchNormGradientGraph`.
func batchNormInputGradient(_ gy: Tensor, _ x: Tensor, _ gamma: Tensor, _ beta: Tensor, mean: Tensor, invStd: Tensor,
                            slope: Float, eps: Float) -> Tensor {
    let n = x.shape[0], c = x.shape[1], s = x.count / max(n * c, 1)
    let gx = Tensor(uninitialized: x.shape)
    batchNormTrainingBackward(gradInput: gx.pointer, gradGamma: nil, gradBeta: nil, gy.pointer, x.pointer,
                              mean: mean.pointer, invStd: invStd.pointer, gamma: gamma.pointer,
                              beta: beta.pointer, slope: slope, batch: n, channels: c, spatial: s)
    return record(gx, [gy, x, gamma]) { v, needed in
        if GradMode.isEnabled {
            return recomputedGradients([gy, x, gamma], needed: needed, seed: v) {
                batchNormGradientGraph($0[0], $0[1], $0[2], beta, mean: mean, invStd: invStd, slope: slope, eps: eps,
                                       needed: [true, false, false])[0]!
            }
        }
        let ggy = needed[0] ? Tensor(uninitialized: x.shape) : nil
        let ggx = needed[1] ? Tensor(uninitialized: x.shape) : nil
        let ggamma = needed[2] ? Tensor(uninitialized: [c]) : nil
        batchNormInputGradientBackward(gradUpstream: ggy?.pointer, gradInput: ggx?.pointer, gradGamma: ggamma?.pointer,
                                       v.pointer, gy.pointer, x.pointer, mean: mean.pointer, invStd: invStd.pointer,
                                       gamma: gamma.pointer, beta: beta.pointer, slope: slope,
                                       batch: n, channels: c, spatial: s)
        return [ggy, ggx, ggamma]
    }
}

/// The batch-norm gradients written with differentiable ops (statistics
/// recomputed from x on the tape), for double backprop.
func batchNormTrainingGradientGraph(_ gy: Tensor, _ x: Tensor, _ gamma: Tensor, eps: Float, needed: [Bool]) -> [Tensor?] {
    let c = x.shape[1]
    let axes = [0, 2, 3]
    let centered = x - x.mean(alongAxes: axes)
    let invStd = 1 / sqrt(square(centered).mean(alongAxes: axes) + eps)
    let xHat = centered * invStd
    let gx: Tensor? = needed[0]
        ? (gamma.reshaped([1, c, 1, 1]) * invStd) * (gy - gy.mean(alongAxes: axes) - xHat * (gy * xHat).mean(alongAxes: axes))
        : nil
    let gg: Tensor? = needed[1] ? (gy * xHat).sum(alongAxes: axes).reshaped([c]) : nil
    let gb: Tensor? = needed[2] ? gy.sum(alongAxes: axes).reshaped([c]) : nil
    return [gx, gg, gb]
}

/// Evaluation-mode batch normalisation with the running statistics:
/// `y = (x − r_μ) · γ / √(r_var + eps) + β`, then the activation of negative slope `slope` (0: ReLU; 1, the
/// default: none). Off the tape (sampling) it is one pass over x, written over x itself with
/// `overwritingInput` (for an input nothing else reads, such as a convolution's fresh output); on the tape
/// it is written with differentiable ops.
public func batchNorm2dInference(_ x: Tensor, gamma: Tensor, beta: Tensor, runningMean: Tensor, runningVar: Tensor,
                                 eps: Float = 1e-5, slope: Float = 1, overwritingInput: Bool = false) -> Tensor {
    let c = x.shape[1]
    if !GradMode.isEnabled || ![x, gamma, beta].contains(where: { $0.isDifferentiable }) {
        let scale = Tensor(uninitialized: [c]), shift = Tensor(uninitialized: [c])
        for i in 0..<c {
            let a = gamma.pointer[i] / (runningVar.pointer[i] + eps).squareRoot()
            scale.pointer[i] = a
            shift.pointer[i] = beta.pointer[i] - runningMean.pointer[i] * a
        }
        let y = overwritingInput ? x : Tensor(uninitialized: x.shape)
        batchNormInferenceForward(y.pointer, x.pointer, scale: scale.pointer, shift: shift.pointer, slope: slope,
                                  batch: x.shape[0], channels: c, spatial: x.count / max(x.shape[0] * c, 1))
        return y
    }
    if slope != 1 {
        let normalized = batchNorm2dInference(x, gamma: gamma, beta: beta, runningMean: runningMean, runningVar: runningVar, eps: eps)
        return slope == 0 ? relu(normalized) : leakyRelu(normalized, slope: slope)
    }
    let scale = gamma.reshaped([1, c, 1, 1]) / sqrt(runningVar.detached().reshaped([1, c, 1, 1]) + eps)
    return (x - runningMean.detached().reshaped([1, c, 1, 1])) * scale + beta.reshaped([1, c, 1, 1])
}

// MARK: - Instance normalisation

/// Instance normalisation as `torch.nn.InstanceNorm2d` (no affine, no running statistics): each
/// sample's channel normalised by its own mean and biased variance over H×W. Written with
/// differentiable ops, so it is differentiable to any order. x: `[N, C, H, W]`, H·W > 1.
public func instanceNorm2d(_ x: Tensor, eps: Float = 1e-5) -> Tensor {
    let centered = x - x.mean(alongAxes: [2, 3])
    return centered / sqrt(square(centered).mean(alongAxes: [2, 3]) + eps)
}

// MARK: - Layer normalisation over C×H×W with a per-channel affine

/// Layer normalisation of each sample over C×H×W, then `γ_c·x̂ + β_c`: `torch.nn.GroupNorm(1, C)`, the
/// layer norm of the WGAN-GP code. Written with differentiable ops (any order). x: `[N, C, H, W]`.
public func layerNorm2d(_ x: Tensor, gamma: Tensor, beta: Tensor, eps: Float = 1e-5) -> Tensor {
    let c = x.shape[1]
    let centered = x - x.mean(alongAxes: [1, 2, 3])
    let normalized = centered / sqrt(square(centered).mean(alongAxes: [1, 2, 3]) + eps)
    return normalized * gamma.reshaped([1, c, 1, 1]) + beta.reshaped([1, c, 1, 1])
}

/// Running-statistics updates held back, to be applied after passes that came later.
///
/// A batch norm in training normalises with its batch's statistics and only writes the running ones (which
/// evaluation reads), so a network whose only state is batch norm's gives the same outputs and gradients
/// whatever the order of its training passes; only its running statistics, each update a function of the one
/// before, follow the order. A step that runs a pass earlier than PyTorch's step does (a critic's penalty before
/// its adversarial term, which lowers the step's peak memory) defers that pass's updates and applies them where
/// PyTorch's order has them: the running statistics are then the same, to the bit.
package final class DeferredRunningStatistics {
    fileprivate static let scope = ThreadScope<DeferredRunningStatistics>()
    fileprivate var updates: [() -> Void] = []

    /// Runs `body`, holding back the running-statistics updates of the batch norms it runs on this thread
    /// (synchronised ones included); returns its result and the updates, for `apply`.
    package static func deferring<R>(_ body: () -> R) -> (R, DeferredRunningStatistics) {
        let deferred = DeferredRunningStatistics()
        return (scope.with(deferred, body), deferred)
    }

    /// Applies the held updates, in the order their passes ran (once: they are then dropped).
    package func apply() {
        for update in updates { update() }
        updates = []
    }
}
