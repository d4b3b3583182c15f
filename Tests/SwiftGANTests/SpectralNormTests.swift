import XCTest
@testable import SwiftGAN
@testable import SwiftGANLosses
@testable import SwiftGANNN
@testable import SwiftGANAutodiff
@testable import SwiftGANOptimizers
@testable import SwiftGANTensor

final class SpectralNormTests: XCTestCase {
    /// The largest singular value of a rows × columns matrix, by many power iterations in double precision.
    func largestSingularValue(_ m: [[Double]]) -> Double {
        var v = [Double](repeating: 1, count: m[0].count)
        var sigma = 0.0
        for _ in 0..<500 {
            var u = [Double](repeating: 0, count: m.count)
            for i in 0..<m.count { for j in 0..<v.count { u[i] += m[i][j] * v[j] } }
            var nu = 0.0
            for x in u { nu += x * x }
            nu = nu.squareRoot()
            var next = [Double](repeating: 0, count: v.count)
            for j in 0..<v.count { for i in 0..<m.count { next[j] += m[i][j] * u[i] / nu } }
            var nv = 0.0
            for x in next { nv += x * x }
            nv = nv.squareRoot()
            v = next.map { $0 / nv }
            sigma = nv
        }
        return sigma
    }

    func testPowerIterationConvergesToTheLargestSingularValueForBothLayouts() throws {
        var rng = RandomGenerator(seed: 3)
        for transposed in [false, true] {
            let layer: Module = transposed
                ? ConvTranspose2d(3, 4, kernelSize: 2, spectralNorm: true, rng: &rng)
                : Conv2d(3, 4, kernelSize: 2, spectralNorm: true, rng: &rng)
            let (weight, sn) = transposed
                ? ((layer as! ConvTranspose2d).weight, (layer as! ConvTranspose2d).spectralNorm!)
                : ((layer as! Conv2d).weight, (layer as! Conv2d).spectralNorm!)
            // The matrix whose rows are the output channels.
            let w = weight.scalars.map(Double.init), s = weight.shape
            let matrix: [[Double]] = transposed
                ? (0..<s[1]).map { o in (0..<s[0]).flatMap { i in (0..<4).map { w[(i * s[1] + o) * 4 + $0] } } }
                : (0..<s[0]).map { o in Array(w[(o * 12)..<(o * 12 + 12)]) }
            for _ in 0..<200 { sn.powerIteration(weight) }
            let normalized = sn.normalized(weight, training: false)
            let sigma = Double(weight.scalars[0] / normalized.scalars[0])
            XCTAssertEqual(sigma, largestSingularValue(matrix), accuracy: 1e-4 * sigma, "transposed \(transposed)")
            XCTAssertEqual(sn.u.shape, [4])
            XCTAssertEqual(sn.v.shape, [12])
        }
    }

    func testSpectralNormGradientsMatchFiniteDifferencesToSecondOrder() {
        var rng = RandomGenerator(seed: 4)
        let conv = Conv2d(2, 3, kernelSize: 3, stride: 2, padding: 1, bias: false, spectralNorm: true, rng: &rng)
        conv.setTraining(false)  // u, v fixed while finite differences probe the weight
        let x = randomTensor([2, 2, 5, 5], seed: 5)
        checkFirstOrder("spectral norm", [x, conv.weight], eps: 1e-3) { xs in
            conv2d(xs[0], weight: conv.spectralNorm!.normalized(xs[1], training: false), stride: 2, padding: 1)
        }
        checkSecondOrder("spectral norm", [x, conv.weight], eps: 1e-3) { xs in
            square(conv2d(xs[0], weight: conv.spectralNorm!.normalized(xs[1], training: false), stride: 2, padding: 1))
        }
    }

    /// σ = Σ W ⊙ (u ⊗ v) keeps no weight-sized u ⊗ v on the tape (only the normalised weight is weight-sized), and
    /// its rule writes u ⊗ v again from the u and v of its own forward pass: a power iteration in between (the
    /// critic's next forward pass) leaves the gradient W/σ's definition gives with those.
    func testSpectralNormKeepsOnlyTheNormalisedWeightAndDifferentiatesWithItsOwnUAndV() {
        var rng = RandomGenerator(seed: 6)
        let conv = Conv2d(8, 16, kernelSize: 3, padding: 1, bias: false, spectralNorm: true, rng: &rng)
        let sn = conv.spectralNorm!, weight = conv.weight
        let before = BufferPool.shared.liveBytes
        let normalized = sn.normalized(weight, training: true)
        let held = BufferPool.shared.liveBytes - before - MemoryBudget.bytes(ofTensor: normalized.count)
        XCTAssertLessThan(held, MemoryBudget.bytes(ofTensor: weight.count) / 2, "only vectors and scalars beside W/σ")
        let (u, v) = (sn.u.scalars.map(Double.init), sn.v.scalars.map(Double.init))
        _ = sn.normalized(weight, training: true)  // another power iteration: u and v change
        XCTAssertNotEqual(sn.u.scalars.map(Double.init), u)
        let seed = randomTensor(weight.shape, seed: 7)
        let grad = gradients(of: (normalized * seed).sum(), wrt: [weight])[0].scalars
        // d/dW Σ seed ⊙ W/σ = seed/σ − (Σ seed ⊙ W)/σ² · u ⊗ v, rows of W the output channels
        let w = weight.scalars.map(Double.init), g = seed.scalars.map(Double.init), columns = v.count
        let sigma = (0..<w.count).reduce(0.0) { $0 + w[$1] * u[$1 / columns] * v[$1 % columns] }
        let dot = zip(w, g).reduce(0.0) { $0 + $1.0 * $1.1 }
        let expected = (0..<w.count).map { g[$0] / sigma - dot / (sigma * sigma) * u[$0 / columns] * v[$0 % columns] }
        assertClose(grad, expected.map(Float.init), rtol: 1e-4, atol: 1e-6, "the gradient with the forward pass's u and v")
    }

    func testSpectralNormStateFollowsPyTorchNames() throws {
        var options = DCGANOptions()
        options.spectralNormD = true
        options.upsampleConv = true
        options.spectralNormG = true
        var rng = RandomGenerator(seed: 1)
        let d = try DCGANDiscriminator(imageSize: 32, channels: 1, width: 4, options: options, rng: &rng)
        XCTAssertEqual(d.namedState.prefix(3).map { $0.0 }, ["main.0.weight_orig", "main.0.weight_u", "main.0.weight_v"])
        XCTAssertFalse(d.namedState.contains { $0.0.contains("running") })  // no batch norm under spectral norm
        let g = try DCGANGenerator(imageSize: 32, channels: 1, zDim: 8, width: 4, options: options, rng: &rng)
        XCTAssertEqual(g.namedState.map { $0.0 }.filter { $0.hasPrefix("main.3.") },
                       ["main.3.bias", "main.3.weight_orig", "main.3.weight_u", "main.3.weight_v"])
        XCTAssertTrue(g.main.layers[2] is Upsample2x)
    }
}
