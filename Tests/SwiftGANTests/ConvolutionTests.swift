import XCTest
@testable import SwiftGAN
@testable import SwiftGANLosses
@testable import SwiftGANNN
@testable import SwiftGANAutodiff
@testable import SwiftGANOptimizers
@testable import SwiftGANTensor

final class ConvolutionTests: XCTestCase {
    /// A direct 7-loop cross-correlation to compare the oneDNN and GEMM paths with.
    func naiveConv2d(_ x: Tensor, _ w: Tensor, stride s: Int, padding p: Int) -> [Float] {
        let (n, c, h, wd) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let (o, kh, kw) = (w.shape[0], w.shape[2], w.shape[3])
        let oh = (h + 2 * p - kh) / s + 1, ow = (wd + 2 * p - kw) / s + 1
        var out = [Float](repeating: 0, count: n * o * oh * ow)
        for b in 0..<n { for oc in 0..<o { for y in 0..<oh { for xx in 0..<ow {
            var acc: Float = 0
            for ic in 0..<c { for i in 0..<kh { for j in 0..<kw {
                let iy = y * s + i - p, ix = xx * s + j - p
                if iy >= 0 && iy < h && ix >= 0 && ix < wd {
                    acc += x.pointer[((b * c + ic) * h + iy) * wd + ix] * w.pointer[((oc * c + ic) * kh + i) * kw + j]
                }
            } } }
            out[((b * o + oc) * oh + y) * ow + xx] = acc
        } } } }
        return out
    }

    func testConv2dForwardMatchesDirectLoops() {
        // Odd sizes whose last window stops short of the edge (8 with k 3, s 2: the right padding is −1),
        // the plain layout beside 3-channel images and the blocked layout with 16 and 32 channels.
        for (inC, outC) in [(3, 4), (16, 32)] {
            for (h, w) in [(9, 7), (8, 8)] {
                for (s, p, k) in [(1, 0, 3), (2, 1, 4), (1, 1, 3), (2, 0, 3), (3, 2, 5)] {
                    let x = randomTensor([2, inC, h, w], seed: 1), wt = randomTensor([outC, inC, k, k], seed: 2)
                    let y = conv2d(x, weight: wt, stride: s, padding: p)
                    let expected = naiveConv2d(x, wt, stride: s, padding: p)
                    XCTAssertEqual(y.count, expected.count)
                    let scale = expected.map(Swift.abs).max()!
                    for (a, e) in zip(y.scalars, expected) {
                        XCTAssertEqual(a, e, accuracy: 1e-5 * scale, "\(inC)→\(outC) \(h)×\(w) stride \(s) pad \(p) k \(k)")
                    }
                }
            }
        }
    }

    func testConvolutionPassesAreAdjointOnBothLayouts() {
        // ⟨conv(x, w), y⟩ = ⟨convᵀ(y, w), x⟩ = ⟨∂_w, w⟩ for the blocked (many channels) and plain layouts.
        // The last case is dense (one window over the whole image: a matrix product).
        for (inC, outC, h, s, p) in [(16, 32, 9, 2, 1), (3, 16, 8, 2, 1), (32, 1, 6, 2, 1), (32, 5, 4, 1, 0)] {
            let x = randomTensor([3, inC, h, h], seed: 20), w = randomTensor([outC, inC, 4, 4], seed: 21)
            let g = ConvGeometry(batch: 3, channels: inC, height: h, width: h, kernelHeight: 4, kernelWidth: 4,
                                 stride: s, padding: p)
            XCTAssertEqual(g.isDense, h == 4)
            let y = randomTensor([3, outC, g.outputHeight, g.outputWidth], seed: 22)
            let forward = (conv2d(x, weight: w, stride: s, padding: p) * y).sum().scalar
            let direct = zip(naiveConv2d(x, w, stride: s, padding: p), y.scalars).map { $0 * $1 }.reduce(0, +)
            XCTAssertEqual(forward, direct, accuracy: 1e-4 * Swift.abs(direct) + 1e-3, "\(inC)→\(outC)")
            let adjoint = (convolutionInputAdjoint(y, w, g) * x).sum().scalar
            let weightGradient = (convolutionWeightGradient(y, x, g) * w).sum().scalar
            XCTAssertEqual(adjoint, forward, accuracy: 1e-4 * Swift.abs(forward) + 1e-3, "\(inC)→\(outC)")
            XCTAssertEqual(weightGradient, forward, accuracy: 1e-4 * Swift.abs(forward) + 1e-3, "\(inC)→\(outC)")
        }
    }

    func testConvTranspose2dIsTheAdjointOfConv2d() {
        // ⟨conv(x, w), y⟩ = ⟨convᵀ(y, w), x⟩ with the PyTorch weight layout [in, out, k, k] for convᵀ.
        let x = randomTensor([2, 3, 8, 8], seed: 3), w = randomTensor([5, 3, 4, 4], seed: 4)
        let y = randomTensor([2, 5, 4, 4], seed: 5)
        let lhs = (conv2d(x, weight: w, stride: 2, padding: 1) * y).sum().scalar
        let rhs = (convTranspose2d(y, weight: w, stride: 2, padding: 1) * x).sum().scalar
        XCTAssertEqual(lhs, rhs, accuracy: 1e-3 * Swift.abs(lhs) + 1e-4)
        XCTAssertEqual(convTranspose2d(y, weight: w, stride: 2, padding: 1).shape, [2, 3, 8, 8])
        XCTAssertEqual(convTranspose2d(randomTensor([3, 6, 1, 1], seed: 6), weight: randomTensor([6, 2, 4, 4], seed: 7)).shape, [3, 2, 4, 4])
    }

    func testConv2dGradientsMatchFiniteDifferencesToSecondOrder() {
        for (s, p, h) in [(2, 1, 6), (1, 0, 6), (1, 0, 4)] {  // the last is dense
            let x = randomTensor([2, 2, h, h], seed: 8), w = randomTensor([3, 2, 4, 4], seed: 9)
            checkFirstOrder("conv2d s\(s)p\(p)", [x, w]) { conv2d($0[0], weight: $0[1], stride: s, padding: p) }
            checkSecondOrder("conv2d s\(s)p\(p)", [x, w]) { square(conv2d($0[0], weight: $0[1], stride: s, padding: p)) }
        }
    }

    func testConvTranspose2dGradientsMatchFiniteDifferencesToSecondOrder() {
        let x = randomTensor([2, 3, 3, 3], seed: 10), w = randomTensor([3, 2, 4, 4], seed: 11)
        checkFirstOrder("convTranspose2d", [x, w]) { convTranspose2d($0[0], weight: $0[1], stride: 2, padding: 1) }
        checkSecondOrder("convTranspose2d", [x, w]) { square(convTranspose2d($0[0], weight: $0[1], stride: 2, padding: 1)) }
    }

    func testWeightGradientOpIsDifferentiable() {
        // The gradient of a conv's weight gradient (what a gradient penalty differentiates).
        let x = randomTensor([2, 2, 5, 5], seed: 12), w = randomTensor([2, 2, 3, 3], seed: 13)
        checkSecondOrder("conv2d weight path", [x, w]) { xs in
            leakyRelu(conv2d(xs[0], weight: xs[1], stride: 2, padding: 1), slope: 0.2) * conv2d(xs[0], weight: xs[1], stride: 2, padding: 1)
        }
    }
}
