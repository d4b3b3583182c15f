// MARK: - Batch normalisation kernels (training mode, per channel over N·H·W)

/// Normalises with batch statistics: `y = (x − μ_c) · σ̂_c⁻¹ · γ_c + β_c`, with
/// `σ̂_c = √(var_c + eps)` (biased variance). Writes the statistics for the
/// backward pass and the running-statistics update.
func batchNormTrainingForward(_ y: UnsafeMutablePointer<Float>,  // [N, C, S]
                              mean: UnsafeMutablePointer<Float>,  // [C]
                              invStd: UnsafeMutablePointer<Float>,  // [C]
                              variance: UnsafeMutablePointer<Float>,  // [C], biased
                              _ x: UnsafePointer<Float>,  // [N, C, S]
                              _ gamma: UnsafePointer<Float>, _ beta: UnsafePointer<Float>,  // [C]
                              batch: Int, channels: Int, spatial: Int, eps: Float) {
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
                    let p = x + (n * channels + c) * spatial, q = y + (n * channels + c) * spatial
                    for i in 0..<spatial { q[i] = p[i] * scale + shift }
                }
            }
        }
    }
}

/// The gradients of `batchNormTrainingForward`: with `x̂ = (x − μ)·σ̂⁻¹` and M = N·S,
/// `gx = γ σ̂⁻¹ (gy − Σgy/M − x̂ Σ(gy x̂)/M)`, `gγ = Σ gy x̂`, `gβ = Σ gy`.
/// Pass nil for a gradient that is not needed.
func batchNormTrainingBackward(gradInput: UnsafeMutablePointer<Float>?,  // [N, C, S]
                               gradGamma: UnsafeMutablePointer<Float>?, gradBeta: UnsafeMutablePointer<Float>?,  // [C]
                               _ gy: UnsafePointer<Float>, _ x: UnsafePointer<Float>,  // [N, C, S]
                               mean: UnsafePointer<Float>, invStd: UnsafePointer<Float>, gamma: UnsafePointer<Float>,  // [C]
                               batch: Int, channels: Int, spatial: Int) {
    Profile.time(.batchNorm) {
        let m = Float(batch * spatial)
        parallelChunks(channels, costPerItem: batch * spatial * 3) { cs in
            for c in cs {
                let mu = mean[c], inv = invStd[c]
                var sumG = 0.0, sumGX = 0.0
                for n in 0..<batch {
                    let off = (n * channels + c) * spatial
                    let (s, sx) = rowSumAndCenteredDot(gy + off, x + off, spatial, mean: mu)
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
                    for i in 0..<spatial { gx[off + i] = k * (gy[off + i] - meanG - (x[off + i] - mu) * coef) }
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
                let c = row % channels, a = scale[c], b = shift[c]
                let p = x + row * spatial, q = y + row * spatial
                if slope == 1 {
                    for i in 0..<spatial { q[i] = p[i] * a + b }
                } else {
                    for i in 0..<spatial { let v = p[i] * a + b; q[i] = v > 0 ? v : v * slope }
                }
            }
        }
    }
}
