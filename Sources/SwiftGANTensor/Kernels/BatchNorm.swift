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
package func batchNormTrainingForward(_ y: UnsafeMutablePointer<Float>,  // [N, C, S]
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
    if slope != 1, let log = BranchLog.active {  // the activation's input, as computed above
        log.add(batch * channels * spatial, kinks: [0], { i in
            let c = i / spatial % channels, scale = invStd[c] * gamma[c]
            return x[i] * scale + (beta[c] - mean[c] * scale)
        }, branch: { $0 > 0 ? 1 : 0 })
    }
}

/// `batchNormTrainingForward`'s output again from x and the statistics it wrote (the same arithmetic, so the
/// same values bit for bit): `y = act(x · scale_c + shift_c)`, `scale_c = σ̂_c⁻¹ γ_c`, `shift_c = β_c − μ_c scale_c`.
package func batchNormApply(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>,  // [N, C, S]
                    mean: UnsafePointer<Float>, invStd: UnsafePointer<Float>,  // [C]
                    _ gamma: UnsafePointer<Float>, _ beta: UnsafePointer<Float>,  // [C]
                    slope: Float, batch: Int, channels: Int, spatial: Int) {
    Profile.time(.batchNorm) {
        parallelChunks(channels, costPerItem: batch * spatial) { cs in
            for c in cs {
                let scale = invStd[c] * gamma[c]
                let shift = beta[c] - mean[c] * scale
                for n in 0..<batch {
                    let row = (n * channels + c) * spatial
                    affineActivation(y + row, x + row, spatial, scale: scale, shift: shift, slope: slope)
                }
            }
        }
    }
}

/// The activation's derivative at the normalised value `x · scale + shift` (computed as the forward pass
/// does, so the branch is the forward's): 1 where positive, `slope` elsewhere.
@inline(__always)
func activationMask(_ x: Float, scale: Float, shift: Float, slope: Float) -> Float {
    x * scale + shift > 0 ? 1 : slope
}

/// `out = gy · act'` with the activation's branch taken at the normalised value of x (`activationMask`).
package func batchNormActivationMask(_ out: UnsafeMutablePointer<Float>, _ gy: UnsafePointer<Float>, _ x: UnsafePointer<Float>,  // [N, C, S]
                             mean: UnsafePointer<Float>, invStd: UnsafePointer<Float>,  // [C]
                             _ gamma: UnsafePointer<Float>, _ beta: UnsafePointer<Float>,  // [C]
                             slope: Float, batch: Int, channels: Int, spatial: Int) {
    Profile.time(.batchNorm) {
        parallelChunks(batch * channels, costPerItem: spatial) { rows in
            for row in rows {
                let c = row % channels
                let scale = invStd[c] * gamma[c], shift = beta[c] - mean[c] * scale
                for i in row * spatial..<(row + 1) * spatial {
                    out[i] = gy[i] * activationMask(x[i], scale: scale, shift: shift, slope: slope)
                }
            }
        }
    }
}

/// The gradients of `batchNormTrainingForward`: with `x̂ = (x − μ)·σ̂⁻¹` and M = N·S,
/// `gx = γ σ̂⁻¹ (g − Σg/M − x̂ Σ(g x̂)/M)`, `gγ = Σ g x̂`, `gβ = Σ g`, where g is `gy`, or with an
/// activation of negative slope `slope` ≠ 1 (`beta` then given) `gy` where the normalised value is
/// positive and `slope · gy` elsewhere: the branch is recomputed from x, so the output is not read.
/// Pass nil for a gradient that is not needed.
package func batchNormTrainingBackward(gradInput: UnsafeMutablePointer<Float>?,  // [N, C, S]
                               gradGamma: UnsafeMutablePointer<Float>?, gradBeta: UnsafeMutablePointer<Float>?,  // [C]
                               _ gy: UnsafePointer<Float>, _ x: UnsafePointer<Float>,  // [N, C, S]
                               mean: UnsafePointer<Float>, invStd: UnsafePointer<Float>, gamma: UnsafePointer<Float>,  // [C]
                               beta: UnsafePointer<Float>? = nil, slope: Float = 1,  // [C]
                               batch: Int, channels: Int, spatial: Int) {
    Profile.time(.batchNorm) {
        let m = Float(batch * spatial)
        parallelChunks(channels, costPerItem: batch * spatial * 3) { cs in
            // The activation's gradient of one row, when there is an activation.
            let row = slope == 1 ? nil : UnsafeMutablePointer<Float>.allocate(capacity: spatial)
            defer { row?.deallocate() }
            var scale: Float = 1, shift: Float = 0
            @inline(__always) func upstream(_ off: Int) -> UnsafePointer<Float> {
                guard let row else { return gy + off }
                for i in 0..<spatial { row[i] = gy[off + i] * activationMask(x[off + i], scale: scale, shift: shift, slope: slope) }
                return UnsafePointer(row)
            }
            for c in cs {
                let mu = mean[c], inv = invStd[c]
                if let beta { scale = inv * gamma[c]; shift = beta[c] - mu * scale }
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

/// The gradients of the input gradient `gx(g, x, γ)` of `batchNormTrainingBackward` (g = the activation's
/// gradient of gy, its mask held constant), against `v`, a gradient of gx: the second-order pass of a
/// penalty on the critic's input gradient. With `u = mask·gy`, `x̂ = (x − μ)·r`, r = σ̂⁻¹, M = N·S and per
/// channel `ū`, `a = mean(u x̂)`, `v̄`, `b = mean(v x̂)`, `w = mean(v u)`:
/// `∂/∂gy = mask · γ r (v − v̄ − x̂ b)` (the first-order rule applied to v),
/// `∂/∂x = −γ r² (x̂ (w − ū v̄ − 3ab) + b (u − ū) + a (v − v̄))` (through x̂ and r),
/// `∂/∂γ = r M (w − ū v̄ − ab)`. Pass nil for a gradient that is not needed.
package func batchNormInputGradientBackward(gradUpstream: UnsafeMutablePointer<Float>?,  // [N, C, S]
                                    gradInput: UnsafeMutablePointer<Float>?,  // [N, C, S]
                                    gradGamma: UnsafeMutablePointer<Float>?,  // [C]
                                    _ v: UnsafePointer<Float>, _ gy: UnsafePointer<Float>, _ x: UnsafePointer<Float>,  // [N, C, S]
                                    mean: UnsafePointer<Float>, invStd: UnsafePointer<Float>, gamma: UnsafePointer<Float>,  // [C]
                                    beta: UnsafePointer<Float>?, slope: Float,  // [C]
                                    batch: Int, channels: Int, spatial: Int) {
    Profile.time(.batchNorm) {
        let m = Double(batch * spatial)
        parallelChunks(channels, costPerItem: batch * spatial * 4) { cs in
            var scale: Float = 1, shift: Float = 0
            @inline(__always) func mask(_ j: Int) -> Float {
                slope == 1 ? 1 : activationMask(x[j], scale: scale, shift: shift, slope: slope)
            }
            for c in cs {
                let mu = mean[c], r = invStd[c]
                if let beta { scale = r * gamma[c]; shift = beta[c] - mu * scale }
                var su = 0.0, sux = 0.0, sv = 0.0, svx = 0.0, svu = 0.0
                for n in 0..<batch {
                    let off = (n * channels + c) * spatial
                    var rsu: Float = 0, rsux: Float = 0, rsv: Float = 0, rsvx: Float = 0, rsvu: Float = 0
                    for i in off..<off + spatial {
                        let u = mask(i) * gy[i], xh = (x[i] - mu) * r
                        rsu += u; rsux += u * xh; rsv += v[i]; rsvx += v[i] * xh; rsvu += v[i] * u
                    }
                    su += Double(rsu); sux += Double(rsux); sv += Double(rsv); svx += Double(rsvx); svu += Double(rsvu)
                }
                let uBar = su / m, a = sux / m, vBar = sv / m, b = svx / m, w = svu / m
                let g = Double(gamma[c]), rd = Double(r)
                gradGamma?[c] = Float(rd * m * (w - uBar * vBar - a * b))
                let kx = Float(-g * rd * rd), cx = Float(w - uBar * vBar - 3 * a * b)
                let ku = Float(g * rd)
                let (uBarF, aF, vBarF, bF) = (Float(uBar), Float(a), Float(vBar), Float(b))
                for n in 0..<batch {
                    let off = (n * channels + c) * spatial
                    for i in off..<off + spatial {
                        let mk = mask(i), u = mk * gy[i], xh = (x[i] - mu) * r
                        gradInput?[i] = kx * (xh * cx + bF * (u - uBarF) + aF * (v[i] - vBarF))
                        gradUpstream?[i] = mk * ku * (v[i] - vBarF - xh * bF)
                    }
                }
            }
        }
    }
}

/// Evaluation-mode batch normalisation with the running statistics folded into one per-channel affine map,
/// then an optional activation, in one pass: `y = act(x · scale_c + shift_c)`, `scale = γ/√(r_var + eps)`,
/// `shift = β − r_μ · scale`. `slope` is the activation's negative slope (0: ReLU, 1: none).
package func batchNormInferenceForward(_ y: UnsafeMutablePointer<Float>,  // [N, C, S]
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
