import XCTest
@testable import SwiftGAN
@testable import SwiftGANLosses
@testable import SwiftGANNN
@testable import SwiftGANAutodiff
@testable import SwiftGANOptimizers
@testable import SwiftGANTensor

/// Every convolution path (oneDNN's blocked kernels, the plain layout beside a 1- to 3-channel image, the
/// gemm-based backward-data pass oneDNN picks there, and the dense `sgemm` layers) against float64, element
/// by element, with a bound that no summation order can exceed: `|computed − exact| ≤ γ_n · Σ|terms|`, where
/// n is the number of products summed and `γ_n = n·u/(1 − n·u)`, u = 2⁻²⁴ (Higham, Accuracy and Stability of
/// Numerical Algorithms, §3.1). The bound holds for any blocking, any FMA use and any thread split, so the
/// verdict does not depend on the kernels the processor gets (run under `.ci/isa-matrix`); a wrong kernel (a
/// dropped term, a misplaced window) misses it by orders of magnitude.
final class ConvolutionAccuracyTests: XCTestCase {
    /// The exact result (float64) of one pass and, per output element, the sum of its terms' magnitudes and count.
    struct Exact { var value: [Double]; var magnitude: [Double]; var terms: [Int] }

    func exact(_ pass: ConvolutionPass, _ a: Tensor, _ b: Tensor, outChannels o: Int, _ g: ConvGeometry) -> Exact {
        let count: Int
        switch pass {
        case .forward: count = g.batch * o * g.outputHeight * g.outputWidth
        case .backwardData: count = g.batch * g.channels * g.height * g.width
        case .backwardWeights: count = o * g.channels * g.kernelHeight * g.kernelWidth
        }
        var e = Exact(value: .init(repeating: 0, count: count), magnitude: .init(repeating: 0, count: count),
                      terms: .init(repeating: 0, count: count))
        let (c, h, w, kh, kw) = (g.channels, g.height, g.width, g.kernelHeight, g.kernelWidth)
        let (oh, ow) = (g.outputHeight, g.outputWidth)
        for n in 0..<g.batch { for oc in 0..<o { for y in 0..<oh { for x in 0..<ow { for ic in 0..<c {
            for i in 0..<kh { for j in 0..<kw {
                let iy = y * g.stride + i - g.padding, ix = x * g.stride + j - g.padding
                guard iy >= 0, iy < h, ix >= 0, ix < w else { continue }
                let image = ((n * c + ic) * h + iy) * w + ix, out = ((n * o + oc) * oh + y) * ow + x
                let weight = ((oc * c + ic) * kh + i) * kw + j
                let (target, product): (Int, Double)
                switch pass {
                case .forward: (target, product) = (out, Double(a.pointer[image]) * Double(b.pointer[weight]))
                case .backwardData: (target, product) = (image, Double(a.pointer[out]) * Double(b.pointer[weight]))
                case .backwardWeights: (target, product) = (weight, Double(a.pointer[out]) * Double(b.pointer[image]))
                }
                e.value[target] += product
                e.magnitude[target] += Swift.abs(product)
                e.terms[target] += 1
            } }
        } } } } }
        return e
    }

    /// Runs one pass through the core's dispatch (`conv2dForward`, `conv2dBackwardInput`, `conv2dBackwardWeight`)
    /// and checks every element against the float64 result.
    func checkPass(_ pass: ConvolutionPass, outChannels o: Int, _ g: ConvGeometry, seed: UInt64,
                   file: StaticString = #filePath, line: UInt = #line) {
        let image = randomTensor([g.batch, g.channels, g.height, g.width], seed: seed)
        let weight = randomTensor([o, g.channels, g.kernelHeight, g.kernelWidth], seed: seed + 1)
        let gradient = randomTensor([g.batch, o, g.outputHeight, g.outputWidth], seed: seed + 2)
        let (a, b): (Tensor, Tensor)
        let out: Tensor
        switch pass {
        case .forward:
            (a, b) = (image, weight)
            out = Tensor(uninitialized: gradient.shape)
            conv2dForward(out.pointer, a.pointer, b.pointer, outChannels: o, g)
        case .backwardData:
            (a, b) = (gradient, weight)
            out = Tensor(uninitialized: image.shape)
            conv2dBackwardInput(out.pointer, a.pointer, b.pointer, outChannels: o, g)
        case .backwardWeights:
            (a, b) = (gradient, image)
            out = Tensor(uninitialized: weight.shape)
            conv2dBackwardWeight(out.pointer, a.pointer, b.pointer, outChannels: o, g)
        }
        let e = exact(pass, a, b, outChannels: o, g)
        let u = 0x1p-24
        var worst = 0.0, worstAt = 0
        for i in 0..<out.count {
            let n = Double(e.terms[i]), gamma = n * u / (1 - n * u)
            let ratio = Swift.abs(Double(out.pointer[i]) - e.value[i]) / Swift.max(gamma * e.magnitude[i], .leastNormalMagnitude)
            if ratio > worst { (worst, worstAt) = (ratio, i) }
        }
        XCTAssertLessThanOrEqual(worst, 1, "\(pass) N\(g.batch) C\(g.channels) \(g.height)×\(g.width) → O\(o) "
                                 + "k\(g.kernelHeight) s\(g.stride) p\(g.padding): element \(worstAt) off by \(worst)× "
                                 + "the rounding bound (\(out.pointer[worstAt]) against \(e.value[worstAt]))", file: file, line: line)
    }

    func testImageSideConvolutionsMatchFloat64AtEveryBatchChannelCountAndSize() {
        // A DCGAN critic's first layer and a generator's last (its forward pass is this backward-data pass):
        // 1-3 channels, 32-128 px, small and odd batches, 4×4 stride 2; 32 filters take oneDNN's gemm-based
        // backward-data kernel on AVX-512 machines, 8 its direct kernels.
        var seed: UInt64 = 100
        for size in [32, 64, 128] {
            for channels in 1...3 {
                for (batch, filters) in [(1, 8), (3, 8), (8, 32)] where !(size == 128 && filters == 32 && channels > 1) {
                    let g = ConvGeometry(batch: batch, channels: channels, height: size, width: size, kernelHeight: 4,
                                         kernelWidth: 4, stride: 2, padding: 1)
                    for pass in [ConvolutionPass.forward, .backwardData, .backwardWeights] {
                        checkPass(pass, outChannels: filters, g, seed: seed)
                        seed += 3
                    }
                }
            }
        }
    }

    func testBlockedAndDenseConvolutionsMatchFloat64() {
        // A middle layer in oneDNN's blocked layout (16 → 32 channels), the critic's dense last layer (a 4×4
        // window over a 4×4 map: sgemm, in double precision past 512 terms) and the generator's dense first one.
        var seed: UInt64 = 500
        for batch in [1, 5, 8] {
            let cases = [(ConvGeometry(batch: batch, channels: 16, height: 16, width: 16, kernelHeight: 4, kernelWidth: 4,
                                       stride: 2, padding: 1), 32),
                         (ConvGeometry(batch: batch, channels: 64, height: 4, width: 4, kernelHeight: 4, kernelWidth: 4,
                                       stride: 1, padding: 0), 1),
                         (ConvGeometry(batch: batch, channels: 24, height: 4, width: 4, kernelHeight: 4, kernelWidth: 4,
                                       stride: 1, padding: 0), 100)]
            for (g, filters) in cases {
                for pass in [ConvolutionPass.forward, .backwardData, .backwardWeights] {
                    checkPass(pass, outChannels: filters, g, seed: seed)
                    seed += 3
                }
            }
        }
    }
}
