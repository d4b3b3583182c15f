// MARK: - Batch normalisation kernels (training mode, per channel over N·H·W)

/// `q = act(p · scale + shift)` over one row of `count`, `act` of negative slope `slope` (0: ReLU; 1: none).
@inline(__always)
func affineActivation(_ q: UnsafeMutablePointer<Float>, _ p: UnsafePointer<Float>, _ count: Int,
                      scale: Float, shift: Float, slope: Float) {
    if slope == 1 {
        for i in 0..<count { q[i] = p[i] * scale + shift }
    } else {
        for i in 0..<count { let v = p[i] * scale + shift; q[i] = v > 0 ? v : v * slope }
    }
}

/// Normalises with batch statistics: `y = act((x − μ_c) · σ̂_c⁻¹ · γ_c + β_c)`, with
/// `σ̂_c = √(var_c + eps)` (biased variance) and `act` the activation of negative slope `slope`
/// (0: ReLU; 1: none). Writes the statistics for the backward pass and the running-statistics update.
func batchNormTrainingForward(_ y: UnsafeMutablePointer<Float>,  // [N, C, S]
                              mean: UnsafeMutablePointer<Float>,  // [C]
                              invStd: UnsafeMutablePointer<Float>,  // [C]
                              variance: UnsafeMutablePointer<Float>,  // [C], biased
                              _ x: UnsafePointer<Float>,  // [N, C, S]
                              _ gamma: UnsafePointer<Float>, _ beta: UnsafePointer<Float>,  // [C]
                              slope: Float = 1, batch: Int, channels: Int, spatial: Int, eps: Float) {
    Profile.time(.batchNorm) {
        let m = Double(batch * spatial)
        parallelChunks(channels, costPerItem: batch * spatial * 3) { cs in
            for c in cs {
                var sum = 0.0
                for n in 0..<batch { sum += rowSum(x + (n * channels + c) * spatial, spatial) }
                let mu = sum / m
                let muF = Float(mu)
                var sq = 0.0
                for n in 0..<batch { sq += rowSquaredDeviations(x + (n * channels + c) * spatial, spatial, mean: muF) }
                let v = sq / m
                let inv = 1 / (v + Double(eps)).squareRoot()
                mean[c] = muF
                invStd[c] = Float(inv)
                variance[c] = Float(v)
                let scale = Float(inv) * gamma[c]
                let shift = beta[c] - muF * scale
                for n in 0..<batch {
                    let row = (n * channels + c) * spatial
                    affineActivation(y + row, x + row, spatial, scale: scale, shift: shift, slope: slope)
                }
            }
        }
    }
}

/// The gradients of `batchNormTrainingForward`: with `x̂ = (x − μ)·σ̂⁻¹` and M = N·S,
/// `gx = γ σ̂⁻¹ (g − Σg/M − x̂ Σ(g x̂)/M)`, `gγ = Σ g x̂`, `gβ = Σ g`, where g is `gy`, or with an
/// activation (`activated` = the forward's output, of negative slope `slope`) `gy` where the output is
/// positive and `slope · gy` elsewhere. Pass nil for a gradient that is not needed.
func batchNormTrainingBackward(gradInput: UnsafeMutablePointer<Float>?,  // [N, C, S]
                               gradGamma: UnsafeMutablePointer<Float>?, gradBeta: UnsafeMutablePointer<Float>?,  // [C]
                               _ gy: UnsafePointer<Float>, _ x: UnsafePointer<Float>,  // [N, C, S]
                               mean: UnsafePointer<Float>, invStd: UnsafePointer<Float>, gamma: UnsafePointer<Float>,  // [C]
                               activated: UnsafePointer<Float>? = nil, slope: Float = 1,  // [N, C, S]
                               batch: Int, channels: Int, spatial: Int) {
    Profile.time(.batchNorm) {
        let m = Float(batch * spatial)
        parallelChunks(channels, costPerItem: batch * spatial * 3) { cs in
            // The activation's gradient of one row, when there is an activation.
            let row = activated == nil ? nil : UnsafeMutablePointer<Float>.allocate(capacity: spatial)
            defer { row?.deallocate() }
            @inline(__always) func upstream(_ off: Int) -> UnsafePointer<Float> {
                guard let row, let y = activated else { return gy + off }
                for i in 0..<spatial { row[i] = y[off + i] > 0 ? gy[off + i] : gy[off + i] * slope }
                return UnsafePointer(row)
            }
            for c in cs {
                let mu = mean[c], inv = invStd[c]
                var sumG = 0.0, sumGX = 0.0
                for n in 0..<batch {
                    let off = (n * channels + c) * spatial
                    let (s, sx) = rowSumAndCenteredDot(upstream(off), x + off, spatial, mean: mu)
                    sumG += s
                    sumGX += sx
                }
                let sumGXhat = Float(sumGX) * inv
                gradGamma?[c] = sumGXhat
                gradBeta?[c] = Float(sumG)
                guard let gx = gradInput else { continue }
                let k = gamma[c] * inv
                let meanG = Float(sumG) / m
                let coef = sumGXhat / m * inv  // multiplies (x − μ)
                for n in 0..<batch {
                    let off = (n * channels + c) * spatial
                    let g = upstream(off)
                    for i in 0..<spatial { gx[off + i] = k * (g[i] - meanG - (x[off + i] - mu) * coef) }
                }
            }
        }
    }
}

/// Evaluation-mode batch normalisation with the running statistics folded into one per-channel affine map,
/// then an optional activation, in one pass: `y = act(x · scale_c + shift_c)`, `scale = γ/√(r_var + eps)`,
/// `shift = β − r_μ · scale`. `slope` is the activation's negative slope (0: ReLU, 1: none).
func batchNormInferenceForward(_ y: UnsafeMutablePointer<Float>,  // [N, C, S]
                               _ x: UnsafePointer<Float>,  // [N, C, S]
                               scale: UnsafePointer<Float>, shift: UnsafePointer<Float>,  // [C]
                               slope: Float, batch: Int, channels: Int, spatial: Int) {
    Profile.time(.batchNorm) {
        parallelChunks(batch * channels, costPerItem: spatial) { rows in
            for row in rows {
                let c = row % channels
                affineActivation(y + row * spatial, x + row * spatial, spatial, scale: scale[c], shift: shift[c], slope: slope)
            }
        }
    }
}
