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

    /// With `rounded`, each operand is first rounded to bfloat16: the exact result of precision bf16's products.
    func exact(_ pass: ConvolutionPass, _ a: Tensor, _ b: Tensor, outChannels o: Int, _ g: ConvGeometry,
               rounded: Bool = false) -> Exact {
        let a = rounded ? Tensor((0..<a.count).map { roundedToBFloat16(a.pointer[$0]) }, shape: a.shape) : a
        let b = rounded ? Tensor((0..<b.count).map { roundedToBFloat16(b.pointer[$0]) }, shape: b.shape) : b
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
    /// (or, with `sliceFloats`, oneDNN's pass over slices of the batch of that budget) and checks every element
    /// against the float64 result.
    /// In `precision` bf16 the float64 result is that of the operands rounded to bfloat16, under the same float32
    /// bound (a product of two bfloat16 values is exact in float32, so only the sums round); and the result must
    /// miss the float64 result of the unrounded operands by more than that bound, or the rounding did not happen.
    @discardableResult
    func checkPass(_ pass: ConvolutionPass, outChannels o: Int, _ g: ConvGeometry, seed: UInt64,
                   precision: Precision = .fp32, sliceFloats: Int? = nil,
                   file: StaticString = #filePath, line: UInt = #line) -> Double {
        let image = randomTensor([g.batch, g.channels, g.height, g.width], seed: seed)
        let weight = randomTensor([o, g.channels, g.kernelHeight, g.kernelWidth], seed: seed + 1)
        let gradient = randomTensor([g.batch, o, g.outputHeight, g.outputWidth], seed: seed + 2)
        let (a, b): (Tensor, Tensor)
        let out: Tensor
        switch pass {
        case .forward:
            (a, b) = (image, weight)
            out = Tensor(uninitialized: gradient.shape)
            Precision.using(precision) {
                if let sliceFloats {
                    dnnlConvolution(.forward, out.pointer, a.pointer, b.pointer, outChannels: o, g, sliceFloats: sliceFloats)
                } else {
                    conv2dForward(out.pointer, a.pointer, b.pointer, outChannels: o, g)
                }
            }
        case .backwardData:
            (a, b) = (gradient, weight)
            out = Tensor(uninitialized: image.shape)
            Precision.using(precision) {
                if let sliceFloats {
                    dnnlConvolution(.backwardData, out.pointer, a.pointer, b.pointer, outChannels: o, g, sliceFloats: sliceFloats)
                } else {
                    conv2dBackwardInput(out.pointer, a.pointer, b.pointer, outChannels: o, g)
                }
            }
        case .backwardWeights:
            (a, b) = (gradient, image)
            out = Tensor(uninitialized: weight.shape)
            Precision.using(precision) { conv2dBackwardWeight(out.pointer, a.pointer, b.pointer, outChannels: o, g) }
        }
        func worstRatio(_ e: Exact) -> (Double, Int) {
            let u = 0x1p-24
            var worst = 0.0, worstAt = 0
            for i in 0..<out.count {
                let n = Double(e.terms[i]), gamma = n * u / (1 - n * u)
                let ratio = Swift.abs(Double(out.pointer[i]) - e.value[i]) / Swift.max(gamma * e.magnitude[i], .leastNormalMagnitude)
                if ratio > worst { (worst, worstAt) = (ratio, i) }
            }
            return (worst, worstAt)
        }
        let e = exact(pass, a, b, outChannels: o, g, rounded: precision == .bf16)
        let (worst, worstAt) = worstRatio(e)
        let what = "\(precision) \(pass) N\(g.batch) C\(g.channels) \(g.height)×\(g.width) → O\(o) k\(g.kernelHeight) "
            + "s\(g.stride) p\(g.padding)"
        XCTAssertLessThanOrEqual(worst, 1, "\(what): element \(worstAt) off by \(worst)× the rounding bound "
                                 + "(\(out.pointer[worstAt]) against \(e.value[worstAt]))", file: file, line: line)
        if precision == .bf16 {
            // Rounding the operands moves the result by about 2⁻⁹ of its terms, float32 sums by about 2⁻²⁴: the
            // result must sit far nearer the rounded operands' result than the unrounded one is.
            let unrounded = exact(pass, a, b, outChannels: o, g).value
            var offRounded = 0.0, roundingMoved = 0.0
            for i in 0..<out.count {
                offRounded += (Double(out.pointer[i]) - e.value[i]) * (Double(out.pointer[i]) - e.value[i])
                roundingMoved += (e.value[i] - unrounded[i]) * (e.value[i] - unrounded[i])
            }
            XCTAssertLessThan(offRounded.squareRoot(), 1e-2 * roundingMoved.squareRoot(),
                              "\(what): as near the unrounded operands' result as the rounded ones': were the operands "
                                  + "rounded to bfloat16?", file: file, line: line)
        }
        return worst
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

    func testImageAsDestinationConvolutionsMatchFloat64() {
        // A generator's last 3×3 convolution onto a 1- or 3-channel image (the spectral-normalisation CNN, BEGAN's
        // and EBGAN's decoders) and a strided one: every pass in oneDNN's blocked layout with the image's channels
        // padded to a block, or over plain layouts where this processor has no blocked kernel for the pass.
        var cases: [(ConvGeometry, Int)] = []
        for (batch, channels, image) in [(1, 64, 3), (5, 16, 1), (4, 64, 3)] {
            cases.append((ConvGeometry(batch: batch, channels: channels, height: 16, width: 16, kernelHeight: 3,
                                       kernelWidth: 3, stride: 1, padding: 1), image))
        }
        cases.append((ConvGeometry(batch: 3, channels: 32, height: 16, width: 16, kernelHeight: 4, kernelWidth: 4,
                                   stride: 2, padding: 1), 3))
        checkEveryPass(of: cases, seed: 700)
    }

    func testBlockedAndDenseConvolutionsMatchFloat64() {
        // A middle layer in oneDNN's blocked layout (16 → 32 channels), the critic's dense last layer (a 4×4
        // window over a 4×4 map: sgemm, in double precision past 512 terms) and the generator's dense first one.
        checkEveryPass(of: [1, 5, 8].flatMap(middleAndDenseLayers), seed: 500)
    }

    /// A pass whose blocked copies exceed the slice budget runs on slices of the batch (uneven ones here: 3, 2, 2)
    /// with the weights in the layout the slices share: every element within the rounding bound, in the middle
    /// layer's blocked layout and beside an image (source and destination), and the working memory a slice's, not
    /// the batch's.
    func testPassesOverSlicesOfTheBatchMatchFloat64AndWorkOnASlicesMemory() {
        let middle = ConvGeometry(batch: 7, channels: 16, height: 16, width: 16, kernelHeight: 4, kernelWidth: 4,
                                  stride: 2, padding: 1)
        let critic = ConvGeometry(batch: 7, channels: 3, height: 16, width: 16, kernelHeight: 4, kernelWidth: 4,
                                  stride: 2, padding: 1)
        let generator = ConvGeometry(batch: 7, channels: 16, height: 16, width: 16, kernelHeight: 3, kernelWidth: 3,
                                     stride: 1, padding: 1)
        var seed: UInt64 = 900
        for (g, o) in [(middle, 32), (critic, 16), (generator, 3)] {
            let perSample = g.channels * g.height * g.width + o * g.outputHeight * g.outputWidth
            for pass in [ConvolutionPass.forward, .backwardData] {
                checkPass(pass, outChannels: o, g, seed: seed, sliceFloats: 3 * perSample)  // 3 slices
                seed += 3
            }
        }
        // The blocked layer's forward pass: what it takes beside its operands, whole and over 7 slices of one sample.
        let (o, g) = (32, middle)
        let x = randomTensor([g.batch, g.channels, g.height, g.width], seed: 1)
        let w = randomTensor([o, g.channels, g.kernelHeight, g.kernelWidth], seed: 2)
        let y = Tensor(uninitialized: [g.batch, o, g.outputHeight, g.outputWidth])
        func working(sliceFloats: Int) -> Int {
            let base = BufferPool.shared.resetPeak()
            dnnlConvolution(.forward, y.pointer, x.pointer, w.pointer, outChannels: o, g, sliceFloats: sliceFloats)
            return BufferPool.shared.peakLiveBytes - base
        }
        let perSample = g.channels * g.height * g.width + o * g.outputHeight * g.outputWidth
        let whole = working(sliceFloats: Int.max), sliced = working(sliceFloats: perSample)
        // (A processor whose kernels take plain layouts makes no copies, and the pass is not sliced.)
        guard whole >= MemoryBudget.bytes(ofTensor: x.count) + MemoryBudget.bytes(ofTensor: y.count) else { return }
        XCTAssertLessThan(2 * sliced, whole, "over slices of one sample the pass holds one sample's copies and the "
                          + "weights', not the batch's (\(sliced) bytes against \(whole) whole)")
    }

    /// A middle layer in the blocked layout, the critic's dense last layer and the generator's dense first one.
    func middleAndDenseLayers(batch: Int) -> [(ConvGeometry, Int)] {
        [(ConvGeometry(batch: batch, channels: 16, height: 16, width: 16, kernelHeight: 4, kernelWidth: 4, stride: 2,
                       padding: 1), 32),
         (ConvGeometry(batch: batch, channels: 64, height: 4, width: 4, kernelHeight: 4, kernelWidth: 4, stride: 1,
                       padding: 0), 1),
         (ConvGeometry(batch: batch, channels: 24, height: 4, width: 4, kernelHeight: 4, kernelWidth: 4, stride: 1,
                       padding: 0), 100)]
    }

    /// `checkPass` of the three passes of every (geometry, filters), each on its own seeds.
    func checkEveryPass(of cases: [(ConvGeometry, Int)], seed: UInt64, precision: Precision = .fp32) {
        var seed = seed
        for (g, filters) in cases {
            for pass in [ConvolutionPass.forward, .backwardData, .backwardWeights] {
                checkPass(pass, outChannels: filters, g, seed: seed, precision: precision)
                seed += 3
            }
        }
    }

    /// bf16 on this processor, or a skip that says why not.
    func requireBFloat16() throws {
        if let reason = Precision.unsupportedReason(.bf16) { throw XCTSkip(reason) }
    }

    func testBFloat16ConvolutionsAreExactProductsOfRoundedOperandsSummedInFloat32() throws {
        // Every path again in precision bf16: oneDNN's bfloat16 kernels (blocked, and beside a 1- to 3-channel
        // image) and the dense layers (operands rounded, then sgemm or its double-precision form).
        try requireBFloat16()
        var cases: [(ConvGeometry, Int)] = []
        for channels in [1, 3] {
            cases.append((ConvGeometry(batch: 3, channels: channels, height: 32, width: 32, kernelHeight: 4,
                                       kernelWidth: 4, stride: 2, padding: 1), 16))
        }
        for batch in [1, 5] {
            cases += middleAndDenseLayers(batch: batch)
            cases.append((ConvGeometry(batch: batch, channels: 32, height: 8, width: 8, kernelHeight: 3, kernelWidth: 3,
                                       stride: 1, padding: 1), 16))
        }
        checkEveryPass(of: cases, seed: 900, precision: .bf16)
    }

    func testBFloat16BackwardPassesOnRoundedFloat32KernelsAreExactProductsOfRoundedOperandsSummedInFloat32() {
        // The path precision bf16's backward passes take where oneDNN would give them AMX kernels (on float32
        // kernels, the operands rounded in their float32 copies: `PrimitiveCache`), forced here so that it is
        // checked on every processor, bfloat16 instructions or not: blocked layers, beside a 1- or 3-channel
        // image (plain operands, copied to round them), and backward data over 3 slices of the batch (the weights
        // rounded once for all slices).
        BFloat16Convolutions.backwardOnFloat32 = true
        defer { BFloat16Convolutions.backwardOnFloat32 = false }
        var cases: [(ConvGeometry, Int)] = []
        for channels in [1, 3] {
            cases.append((ConvGeometry(batch: 3, channels: channels, height: 32, width: 32, kernelHeight: 4,
                                       kernelWidth: 4, stride: 2, padding: 1), 16))
        }
        cases += middleAndDenseLayers(batch: 5)
        cases.append((ConvGeometry(batch: 5, channels: 32, height: 8, width: 8, kernelHeight: 3, kernelWidth: 3,
                                   stride: 1, padding: 1), 3))
        var seed: UInt64 = 1300
        for (g, o) in cases {
            for pass in [ConvolutionPass.backwardData, .backwardWeights] {
                checkPass(pass, outChannels: o, g, seed: seed, precision: .bf16)
                seed += 3
            }
            let perSample = g.channels * g.height * g.width + o * g.outputHeight * g.outputWidth
            checkPass(.backwardData, outChannels: o, g, seed: seed, precision: .bf16, sliceFloats: 2 * perSample)
            seed += 3
        }
    }

    /// A critic's step in float64, its products' operands rounded to bfloat16 where precision bf16 rounds them
    /// (`rounded`) or not: conv 3→8 (4×4, stride 2) → leaky ReLU → conv 8→16 → linear 256→1 → softplus(−d),
    /// the mean over the batch; then the three weight gradients. The rounded operands are float32 values rounded
    /// once more, as the core rounds its float32 activations and gradients.
    func referenceCriticStep(_ x: Tensor, _ w1: Tensor, _ w2: Tensor, _ wl: Tensor, rounded: Bool)
        -> (d: [Double], h1: [Double], gradients: [[Double]]) {
        func tensor(_ v: [Double], _ shape: [Int]) -> Tensor { Tensor(v.map { Float($0) }, shape: shape) }
        func r(_ v: Double) -> Double { rounded ? Double(roundedToBFloat16(Float(v))) : v }
        let n = x.shape[0]
        let g1 = ConvGeometry(batch: n, channels: 3, height: 16, width: 16, kernelHeight: 4, kernelWidth: 4, stride: 2,
                              padding: 1)
        let g2 = ConvGeometry(batch: n, channels: 8, height: 8, width: 8, kernelHeight: 4, kernelWidth: 4, stride: 2,
                              padding: 1)
        let h1 = exact(.forward, x, w1, outChannels: 8, g1, rounded: rounded).value
        let a1 = h1.map { $0 > 0 ? $0 : 0.2 * $0 }
        let h2 = exact(.forward, tensor(a1, [n, 8, 8, 8]), w2, outChannels: 16, g2, rounded: rounded).value
        let features = h2.count / n
        let d = (0..<n).map { i in (0..<features).reduce(0.0) { $0 + r(h2[i * features + $1]) * r(Double(wl.pointer[$1])) } }
        let gd = d.map { -1 / (1 + Foundation.exp($0)) / Double(n) }  // ∂ mean softplus(−d) / ∂d = −σ(−d) / n
        let gh2 = (0..<n * features).map { r(gd[$0 / features]) * r(Double(wl.pointer[$0 % features])) }
        let gwl = (0..<features).map { j in (0..<n).reduce(0.0) { $0 + r(gd[$1]) * r(h2[$1 * features + j]) } }
        let gh2t = tensor(gh2, [n, 16, 4, 4])
        let gw2 = exact(.backwardWeights, gh2t, tensor(a1, [n, 8, 8, 8]), outChannels: 16, g2, rounded: rounded).value
        let ga1 = exact(.backwardData, gh2t, w2, outChannels: 16, g2, rounded: rounded).value
        let gh1 = (0..<ga1.count).map { h1[$0] > 0 ? ga1[$0] : 0.2 * ga1[$0] }
        let gw1 = exact(.backwardWeights, tensor(gh1, [n, 8, 8, 8]), x, outChannels: 8, g1, rounded: rounded).value
        return (d, h1, [gw1, gw2, gwl])
    }

    func testABFloat16StepMatchesFloat64OfTheSameRoundedOperands() throws {
        // A whole step in precision bf16 (forward, backward through two convolutions and a linear layer, SGD)
        // against float64 of the same rounded operands. Rounding an operand moves it by up to 2⁻⁹ of itself;
        // float32 sums move a result by about 2⁻²⁴·√n of its terms. So the step must sit within a tenth of the
        // distance that rounding moves the float64 result (‖ref_rounded − ref_unrounded‖), a margin of 10⁴ over
        // float32's summation error that a rare operand rounded the other way (a float32 value within 2⁻²⁴ of a
        // bfloat16 midpoint: one ulp of bfloat16 on one term) stays far inside, while a step that skips the
        // rounding anywhere on the path lands far outside (the linear layer's alone: 0.27 to 0.84 of it, measured).
        try requireBFloat16()
        let n = 4
        let x = randomTensor([n, 3, 16, 16], seed: 31), w1 = randomTensor([8, 3, 4, 4], seed: 32)
        let w2 = randomTensor([16, 8, 4, 4], seed: 33) * 0.2, wl = randomTensor([1, 256], seed: 34) * 0.05
        let before = [w1, w2, wl].map(\.scalars)
        let lr: Float = 0.5
        let d: Tensor = Precision.using(.bf16) {
            [w1, w2, wl].forEach { $0.requiresGrad = true }
            let h1 = conv2d(x, weight: w1, stride: 2, padding: 1)
            let h2 = conv2d(leakyRelu(h1, slope: 0.2), weight: w2, stride: 2, padding: 1)
            let d = linear(h2.reshaped([n, 256]), weight: wl, bias: nil)
            let grads = gradients(of: softplus(-d).mean(), wrt: [w1, w2, wl])
            SGD(learningRate: lr).step([w1, w2, wl], grads, learningRateFactor: 1)
            return d.detached()
        }
        let rounded = referenceCriticStep(x, Tensor(before[0], shape: w1.shape), Tensor(before[1], shape: w2.shape),
                                          Tensor(before[2], shape: wl.shape), rounded: true)
        let unrounded = referenceCriticStep(x, Tensor(before[0], shape: w1.shape), Tensor(before[1], shape: w2.shape),
                                            Tensor(before[2], shape: wl.shape), rounded: false)
        // The leaky ReLU's kink: no pre-activation so near 0 that float32 sums could put it on the other side.
        let scale = rounded.h1.map { Swift.abs($0) }.max()!
        XCTAssertGreaterThan(rounded.h1.map { Swift.abs($0) }.min()!, 1e-5 * scale, "the test's data sits on the kink")
        func distance(_ a: [Double], _ b: [Double]) -> Double {
            zip(a, b).reduce(0.0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) }.squareRoot()
        }
        var ratios: [String: Double] = ["d": distance(d.scalars.map(Double.init), rounded.d)
                                            / distance(rounded.d, unrounded.d)]
        for (k, name) in ["conv1", "conv2", "linear"].enumerated() {
            let step = [w1, w2, wl][k].scalars.indices.map {
                Double(before[k][$0] - [w1, w2, wl][k].scalars[$0]) / Double(lr)
            }
            // The SGD update of float32 weights near 1 holds the gradient to 2⁻²⁴ of the weight: far inside.
            ratios[name] = distance(step, rounded.gradients[k]) / distance(rounded.gradients[k], unrounded.gradients[k])
        }
        for (name, ratio) in ratios {
            XCTAssertLessThan(ratio, 0.1, "\(name): \(ratio) of the way from float64 of the rounded operands to "
                              + "float64 of the unrounded ones")
        }
        print("bf16 step against float64 of its rounded operands, off by this share of rounding's effect:", ratios)
    }

    func testPenaltiesGradientNormsAreFloat32InABFloat16StepAndBackwardsKeepTheirForwardsPrecision() throws {
        try requireBFloat16()
        let w1 = randomTensor([8, 3, 4, 4], seed: 41), w2 = randomTensor([1, 8, 8, 8], seed: 42) * 0.1
        [w1, w2].forEach { $0.requiresGrad = true }
        let critic: (Tensor) -> Tensor = { x in
            conv2d(leakyRelu(conv2d(x, weight: w1, stride: 2, padding: 1), slope: 0.2), weight: w2)
        }
        let point = randomTensor([3, 3, 16, 16], seed: 43)
        func penaltyGradients() -> [[UInt32]] {
            let norms = criticGradientNorms(critic: critic, at: point)
            return gradients(of: square(norms - 1).mean(), wrt: [w1, w2]).map { $0.scalars.map(\.bitPattern) }
        }
        // The norms, and their gradients by double backprop, are float32 in a bf16 step: the same bits.
        XCTAssertEqual(Precision.using(.bf16) { penaltyGradients() }, penaltyGradients())
        // A backward started outside a bf16 scope runs in bf16 when its forward did; and bf16 is not float32.
        let x = randomTensor([3, 3, 16, 16], seed: 44)
        func inputGradient(recordedIn p: Precision, startedIn q: Precision) -> [UInt32] {
            let x = x.detached()
            x.requiresGrad = true
            let y = Precision.using(p) { critic(x).sum() }
            return Precision.using(q) { gradients(of: y, wrt: [x])[0].scalars.map(\.bitPattern) }
        }
        XCTAssertEqual(inputGradient(recordedIn: .bf16, startedIn: .fp32), inputGradient(recordedIn: .bf16, startedIn: .bf16))
        XCTAssertEqual(inputGradient(recordedIn: .fp32, startedIn: .bf16), inputGradient(recordedIn: .fp32, startedIn: .fp32))
        XCTAssertNotEqual(inputGradient(recordedIn: .bf16, startedIn: .bf16), inputGradient(recordedIn: .fp32, startedIn: .fp32))
    }

    func testFloat32ResultsAreTheSameBitForBitInsideAndOutsideAPrecisionScope() {
        // The default and an explicit fp32 scope take the same primitives: the same bits.
        let g = ConvGeometry(batch: 4, channels: 16, height: 16, width: 16, kernelHeight: 4, kernelWidth: 4, stride: 2,
                             padding: 1)
        let x = randomTensor([4, 16, 16, 16], seed: 77), w = randomTensor([32, 16, 4, 4], seed: 78)
        let outside = Tensor(uninitialized: [4, 32, 8, 8]), inside = Tensor(uninitialized: [4, 32, 8, 8])
        conv2dForward(outside.pointer, x.pointer, w.pointer, outChannels: 32, g)
        Precision.using(.fp32) { conv2dForward(inside.pointer, x.pointer, w.pointer, outChannels: 32, g) }
        XCTAssertEqual((0..<outside.count).map { outside.pointer[$0].bitPattern },
                       (0..<inside.count).map { inside.pointer[$0].bitPattern })
        XCTAssertEqual(Precision.current, .fp32)
        Precision.using(.bf16) { XCTAssertEqual(Precision.current, .bf16) }
        XCTAssertEqual(Precision.current, .fp32, "the scope restores the precision before it")
    }

    func testRoundingToBFloat16IsToNearestEven() {
        // 1 + 2⁻⁸ lies halfway between 1 and 1 + 2⁻⁷ (bfloat16's spacing at 1): even is 1. 1 + 3·2⁻⁸ is halfway
        // between 1 + 2⁻⁷ and 1 + 2⁻⁶: even is 1 + 2⁻⁶. Just above a half rounds up, just below down.
        XCTAssertEqual(roundedToBFloat16(1 + 0x1p-8), 1)
        XCTAssertEqual(roundedToBFloat16(1 + 3 * 0x1p-8), 1 + 0x1p-6)
        XCTAssertEqual(roundedToBFloat16(1 + 0x1p-8 + 0x1p-20), 1 + 0x1p-7)
        XCTAssertEqual(roundedToBFloat16(1 + 0x1p-8 - 0x1p-20), 1)
        XCTAssertEqual(roundedToBFloat16(-3.0), -3.0)
        XCTAssertEqual(roundedToBFloat16(.infinity), .infinity)
        XCTAssertEqual(roundedToBFloat16(Float.greatestFiniteMagnitude), .infinity, "beyond bfloat16's largest: ∞")
        XCTAssertTrue(roundedToBFloat16(.nan).isNaN)
        XCTAssertTrue(roundedToBFloat16(Float(bitPattern: 0x7F80_0001)).isNaN, "a NaN whose payload is in the low bits")
    }
}
