// MARK: - Nearest-neighbour 2× upsampling and its adjoint

/// `y[n, c, 2i + a, 2j + b] = x[n, c, i, j]` for a, b ∈ {0, 1}.
package func upsampleNearest2xForward(_ y: UnsafeMutablePointer<Float>,  // [N, C, 2H, 2W]
                              _ x: UnsafePointer<Float>,  // [N, C, H, W]
                              planes: Int, height h: Int, width w: Int) {
    Profile.time(.elementwise) {
        parallelChunks(planes, costPerItem: 4 * h * w) { range in
            for plane in range {
                let src = x + plane * h * w, dst = y + plane * 4 * h * w
                for i in 0..<h {
                    let row = dst + 2 * i * 2 * w
                    for j in 0..<w { let v = src[i * w + j]; row[2 * j] = v; row[2 * j + 1] = v }
                    (row + 2 * w).update(from: row, count: 2 * w)
                }
            }
        }
    }
}

/// `x[n, c, i, j] = Σ_{a,b} y[n, c, 2i + a, 2j + b]` (the adjoint of the 2× upsampling).
package func sumPool2x2Forward(_ x: UnsafeMutablePointer<Float>,  // [N, C, H, W]
                       _ y: UnsafePointer<Float>,  // [N, C, 2H, 2W]
                       planes: Int, height h: Int, width w: Int) {
    Profile.time(.elementwise) {
        parallelChunks(planes, costPerItem: 4 * h * w) { range in
            for plane in range {
                let src = y + plane * 4 * h * w, dst = x + plane * h * w
                for i in 0..<h {
                    let r0 = src + 2 * i * 2 * w, r1 = r0 + 2 * w
                    for j in 0..<w { dst[i * w + j] = r0[2 * j] + r0[2 * j + 1] + r1[2 * j] + r1[2 * j + 1] }
                }
            }
        }
    }
}
