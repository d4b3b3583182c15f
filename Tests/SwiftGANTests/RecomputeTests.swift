import XCTest
@testable import SwiftGAN
@testable import SwiftGANLosses
@testable import SwiftGANNN
@testable import SwiftGANAutodiff
@testable import SwiftGANOptimizers
@testable import SwiftGANTensor

/// The ops that keep less on the tape: an intermediate recomputed in the backward pass, batch norm's input
/// gradient as one op under double backprop, and a piecewise-linear gradient without a mask tensor.
final class RecomputeTests: XCTestCase {
    private func batchNormInputs(seed: UInt64) -> [Tensor] {
        [randomTensor([3, 3, 3, 3], seed: seed), randomTensor([3], seed: seed + 1, low: 0.5, high: 1.5),
         randomTensor([3], seed: seed + 2)]
    }

    /// The gradient-penalty shape: `h = ⟨∇ₓ f(x), v⟩` with the gradient taken in x alone (batch norm's fused
    /// input-gradient op), then ∇h in x, γ and β against finite differences, and against the composed graph.
    func testBatchNormInputGradientAloneIsExactToSecondOrder() {
        for slope: Float in [1, 0, 0.2] {
            let inputs = batchNormInputs(seed: 20)
            inputs.forEach { $0.requiresGrad = true }
            let weights = randomTensor([3, 3, 3, 3], seed: 23), direction = randomTensor([3, 3, 3, 3], seed: 24)
            func h(_ xs: [Tensor], fused: Bool) -> Tensor {
                let y = fused
                    ? batchNorm2dTraining(xs[0], gamma: xs[1], beta: xs[2], runningMean: .zeros([3]), runningVar: .ones([3]),
                                          slope: slope)
                    : {
                        let n = batchNorm2dTraining(xs[0], gamma: xs[1], beta: xs[2], runningMean: .zeros([3]),
                                                    runningVar: .ones([3]))
                        return slope == 1 ? n : slope == 0 ? relu(n) : leakyRelu(n, slope: slope)
                    }()
                let gx = gradients(of: (square(y) * weights).sum(), wrt: [xs[0]], createGraph: GradMode.isEnabled)[0]
                return (gx * direction).sum()
            }
            let analytic = gradients(of: h(inputs, fused: true), wrt: inputs)
            let composed = gradients(of: h(inputs, fused: false), wrt: inputs)
            let numeric = numericGradients({ h($0, fused: true) }, inputs, eps: 1e-3)
            for i in inputs.indices {
                assertClose(analytic[i].scalars, numeric[i], rtol: 5e-2, atol: 5e-3, "slope \(slope) ∂²/∂input\(i)")
                assertClose(analytic[i].scalars, composed[i].scalars, rtol: 1e-4, atol: 1e-5, "slope \(slope) against the composed ops")
            }
        }
    }

    /// A third order falls back to the composed graph: ∇ of a sum of second-order gradients still matches
    /// finite differences.
    func testBatchNormInputGradientDifferentiatesToThirdOrder() {
        let inputs = batchNormInputs(seed: 30)
        inputs.forEach { $0.requiresGrad = true }
        let weights = randomTensor([3, 3, 3, 3], seed: 33)
        func second(_ xs: [Tensor]) -> Tensor {
            let enabled = GradMode.isEnabled
            let y = batchNorm2dTraining(xs[0], gamma: xs[1], beta: xs[2], runningMean: .zeros([3]), runningVar: .ones([3]),
                                        slope: 0.2)
            let gx = GradMode.with(enabled: true) {
                gradients(of: (square(y) * weights).sum(), wrt: [xs[0]], createGraph: true)[0]
            }
            let gg = GradMode.with(enabled: true) {
                gradients(of: square(gx).sum(), wrt: [xs[1]], createGraph: enabled)[0]
            }
            return gg.sum()
        }
        let analytic = gradients(of: second(inputs), wrt: [inputs[1]])[0]
        let numeric = numericGradients(second, inputs, eps: 1e-3)[1]
        assertClose(analytic.scalars, numeric, rtol: 5e-2, atol: 5e-3, "∂³/∂γ")
    }

    /// `Sequential` runs [BatchNorm2d, LeakyReLU, Conv2d], [ReLU, ConvTranspose2d], [Conv2d on 3 channels,
    /// LeakyReLU or ELU, Conv2d] and [BatchNorm2d, ReLU | ELU | nothing, Upsample2x, Conv2d] with what the
    /// layers in front of the last convolution make (and after a first convolution, its output) recomputed
    /// in the backward pass: the same outputs, running statistics, and first- and second-order gradients as the
    /// layers applied one at a time, with the last convolution's input not held by the tape, nor its output once
    /// the op after it is done with it.
    func testRecomputedActivationsGiveTheLayerByLayerResults() {
        var rng = RandomGenerator(seed: 5)
        // the input's shape, the size of the last convolution's input, the layers
        let makeLayers: [([Int], Int, (inout RandomGenerator) -> [Module])] = [
            ([2, 4, 6, 6], 288, { [BatchNorm2d(4), LeakyReLU(0.2), Conv2d(4, 3, kernelSize: 3, stride: 2, padding: 1, rng: &$0)] }),
            ([2, 4, 6, 6], 288, { [ReLU(), ConvTranspose2d(4, 2, kernelSize: 4, stride: 2, padding: 1, bias: false, rng: &$0)] }),
            ([2, 3, 8, 8], 128, { [Conv2d(3, 4, kernelSize: 4, stride: 2, padding: 1, rng: &$0), LeakyReLU(0.2),
                                   Conv2d(4, 2, kernelSize: 3, padding: 1, bias: false, rng: &$0)] }),
            ([2, 3, 8, 8], 512, { [Conv2d(3, 4, kernelSize: 3, padding: 1, rng: &$0), ELU(0.5),
                                   Conv2d(4, 2, kernelSize: 3, padding: 1, rng: &$0)] }),
            // a residual up-block's main and shortcut, BEGAN's decoder: what the upsampling makes is recomputed too
            ([2, 4, 3, 3], 288, { [BatchNorm2d(4), ReLU(), Upsample2x(), Conv2d(4, 3, kernelSize: 3, padding: 1, rng: &$0)] }),
            ([2, 4, 3, 3], 288, { [Upsample2x(), Conv2d(4, 3, kernelSize: 1, rng: &$0)] }),
            ([2, 4, 3, 3], 288, { [ELU(), Upsample2x(), Conv2d(4, 3, kernelSize: 3, padding: 1, rng: &$0)] }),
        ]
        for (shape, lastInput, make) in makeLayers {
            var copy = rng
            let layers = make(&rng), twins = make(&copy)
            let sequential = Sequential(layers)
            let parameters = sequential.namedParameters.map { $0.1 }, twinParameters = Sequential(twins).namedParameters.map { $0.1 }
            let x = randomTensor(shape, seed: 40, margin: 0.05)
            x.requiresGrad = true
            // What a forward pass leaves on the tape: the layer-by-layer one also holds the last convolution's input.
            // The output goes on to an op that keeps nothing (· 2), so it is on the tape only if the layers keep it.
            func held(_ f: (Tensor) -> Tensor) -> Int {
                let before = BufferPool.shared.liveBytes
                let y = f(x) * 2
                return BufferPool.shared.liveBytes - before - MemoryBudget.bytes(ofTensor: y.count)
            }
            let kept = held(sequential.callAsFunction), keptTwin = held { x in twins.reduce(x) { $1($0) } }
            XCTAssertLessThanOrEqual(kept + MemoryBudget.bytes(ofTensor: lastInput), keptTwin, "\(layers.map { type(of: $0) })")
            var seed: Tensor!
            func run(_ f: (Tensor) -> Tensor, _ params: [Tensor]) -> (Tensor, [Tensor], [Tensor]) {
                let y = f(x)
                seed = seed ?? randomTensor(y.shape, seed: 41)
                let first = gradients(of: y, wrt: [x] + params, seed: seed)
                // A penalty's double backprop: the input gradient recorded, then differentiated in the parameters.
                let gx = gradients(of: (y * seed).sum(), wrt: [x], createGraph: true)[0]
                let second = gradients(of: square(gx).sum(), wrt: params)
                return (y, first, second)
            }
            let (y, first, second) = run(sequential.callAsFunction, parameters)
            let (yTwin, firstTwin, secondTwin) = run({ x in twins.reduce(x) { $1($0) } }, twinParameters)
            XCTAssertEqual(y.scalars, yTwin.scalars, "forward of \(layers.map { type(of: $0) })")
            for (a, b) in zip(first + second, firstTwin + secondTwin) {
                assertClose(a.scalars, b.scalars, rtol: 1e-4, atol: 1e-6, "gradients of \(layers.map { type(of: $0) })")
            }
            for (a, b) in zip(sequential.namedBuffers, Sequential(twins).namedBuffers) {
                XCTAssertEqual(a.1.scalars, b.1.scalars, "running statistics \(a.0) updated once per forward pass")
            }
        }
    }

    /// A gradient marked scratch (`Tensor.isScratch`, what `recomputingIntermediate` hands the batch norm or
    /// activation in front of a convolution) is overwritten by the rule it is handed to, with the values a fresh
    /// buffer gets; unmarked, it is left as it was; and a gradient sharing its storage is never marked.
    func testARuleWritesItsGradientOverAScratchGradientWithTheSameValues() {
        let x = randomTensor([2, 3, 4, 4], seed: 60, margin: 0.05)
        x.requiresGrad = true
        let gamma = randomTensor([3], seed: 61, low: 0.5, high: 1.5), beta = randomTensor([3], seed: 62)
        gamma.requiresGrad = true
        beta.requiresGrad = true
        let ops: [(String, () -> Tensor)] = [
            ("batch norm + leaky ReLU", { batchNorm2dTraining(x, gamma: gamma, beta: beta, runningMean: .zeros([3]),
                                                             runningVar: .ones([3]), slope: 0.2) }),
            ("batch norm", { batchNorm2dTraining(x, gamma: gamma, beta: beta, runningMean: .zeros([3]),
                                                runningVar: .ones([3])) }),
            ("leaky ReLU", { leakyRelu(x, slope: 0.2) }), ("ELU", { elu(x, alpha: 0.7) }), ("tanh", { tanh(x) }),
        ]
        for (name, op) in ops {
            let y = op(), rule = y.gradFn!.backward!, needed = y.gradFn!.edges.map { _ in true }
            let g = randomTensor(y.shape, seed: 63)
            let fresh = withoutGradients { rule(g, needed) }
            let before = g.scalars, scratch = g.copy()
            XCTAssertTrue(scratch.hasUniqueStorage())
            scratch.isScratch = true
            let over = withoutGradients { rule(scratch, needed) }
            XCTAssertEqual(g.scalars, before, "\(name): an unmarked gradient is left as it was")
            XCTAssertFalse(fresh[0]!.storage === g.storage, name)
            XCTAssertTrue(over[0]!.storage === scratch.storage, "\(name): the scratch gradient's buffer is reused")
            XCTAssertFalse(over[0]!.isScratch, "\(name): the result is not scratch itself")
            for (a, b) in zip(fresh, over) { XCTAssertEqual(a?.scalars, b?.scalars, "\(name): the same values") }
        }
        let g = randomTensor([4], seed: 64), alias = g.detached()
        XCTAssertFalse(g.hasUniqueStorage(), "a gradient sharing its storage (\(alias.shape)) cannot be scratch")
    }

    /// In the backward pass of a recomputed run, the batch norm's and activations' gradients are written over the
    /// convolution's input gradient: against the same layers applied one by one (the same convolution passes), the
    /// gradient in x takes one activation-sized buffer fewer per element-wise rule (two for batch norm + leaky ReLU,
    /// one for a lone ReLU), with the same values.
    func testARecomputedRunWritesItsElementwiseGradientsOverTheConvolutionsInputGradient() {
        var rng = RandomGenerator(seed: 11)
        let runs: [(Int, (inout RandomGenerator) -> [Module])] = [
            (2, { [BatchNorm2d(4), LeakyReLU(0.2), Conv2d(4, 3, kernelSize: 3, padding: 1, rng: &$0)] }),
            (1, { [ReLU(), Conv2d(4, 3, kernelSize: 3, padding: 1, rng: &$0)] }),
        ]
        for (fewer, make) in runs {
            var copy = rng
            let layers = make(&rng), twins = make(&copy)
            let x = randomTensor([2, 4, 6, 6], seed: 70, margin: 0.05)
            x.requiresGrad = true
            func backward(_ f: (Tensor) -> Tensor) -> (taken: Int, gradient: [Float]) {
                let y = f(x), seed = randomTensor(y.shape, seed: 71)
                let before = BufferPool.shared.takenBytes
                let g = gradients(of: y, wrt: [x], seed: seed, retainGraph: false)[0]
                return (BufferPool.shared.takenBytes - before, g.scalars)
            }
            let recomputed = backward(Sequential(layers).callAsFunction)
            let oneByOne = backward { x in twins.reduce(x) { $1($0) } }
            let name = "\(layers.map { type(of: $0) })"
            XCTAssertEqual(oneByOne.taken - recomputed.taken, fewer * MemoryBudget.bytes(ofTensor: x.count), name)
            assertClose(recomputed.gradient, oneByOne.gradient, rtol: 1e-5, atol: 1e-6, name)
        }
    }

    /// ELU's and SELU's rules read their output, the tensor a convolution after them keeps: [ELU, Conv2d] keeps
    /// that one activation, where a rule reading the input keeps the input too, and its gradients
    /// to the third order are those of the rule read from the input (α·eˣ against y + α: a few roundings apart).
    func testELUsRuleReadsItsOutputSoThatAConvolutionAfterItKeepsTheOnlyTensor() {
        var rng = RandomGenerator(seed: 9)
        let conv = Conv2d(4, 3, kernelSize: 3, padding: 1, rng: &rng)
        let x = randomTensor([2, 4, 6, 6], seed: 42, margin: 0.05)  // the margin keeps x off ELU's kink at 0
        x.requiresGrad = true
        let seed = randomTensor([2, 3, 6, 6], seed: 43)
        let activations: [(String, (Tensor) -> Tensor, (Tensor) -> Tensor)] = [
            ("elu", { elu($0, alpha: 0.7) }, { unary($0, .elu(alpha: 0.7, scale: 1)) }),
            ("selu", selu, { unary($0, .selu) }),
        ]
        for (name, fromOutput, fromInput) in activations {
            // What the tape holds after the forward pass; the activation's input is made by an op that keeps
            // nothing (x · 2), so it stays only if the activation's rule keeps it.
            func held(_ activation: (Tensor) -> Tensor) -> Int {
                let before = BufferPool.shared.liveBytes
                let y = conv(activation(x * 2))
                return BufferPool.shared.liveBytes - before - MemoryBudget.bytes(ofTensor: y.count)
            }
            let activation = MemoryBudget.bytes(ofTensor: x.count)
            XCTAssertEqual(held(fromOutput), activation, "\(name): the activation's output, the convolution's input, alone")
            XCTAssertEqual(held(fromInput), 2 * activation, "\(name): a rule reading the input keeps it too")
            // First order in x and the weights, then the input gradient differentiated twice more (each recorded
            // rule records its output again with the same rule).
            func run(_ activation: (Tensor) -> Tensor) -> [Tensor] {
                let y = conv(activation(x * 2))
                let first = gradients(of: y, wrt: [x, conv.weight], seed: seed)
                let gx = gradients(of: (y * seed).sum(), wrt: [x], createGraph: true)[0]
                let gxx = gradients(of: square(gx).sum(), wrt: [x, conv.weight], createGraph: true)
                let third = gradients(of: square(gxx[0]).sum(), wrt: [x, conv.weight])
                return first + gxx + third
            }
            for (a, b) in zip(run(fromOutput), run(fromInput)) {
                assertClose(a.scalars, b.scalars, rtol: 1e-5, atol: 1e-6, "\(name): gradients read from the output")
            }
        }
    }

    /// The recomputed intermediate's values are freed after the forward pass and again after a first-order
    /// backward pass; a recorded backward pass that takes the weight gradient keeps them (its graph reads
    /// them), one in the input alone (a penalty's) never recomputes them.
    /// A convolution then a 2×2 mean pool (a residual down-block's two paths, after an activation or alone) runs as
    /// one op (`meanPooledConvolution`): the forward pass, the gradients and a penalty's double backprop are the
    /// two layers' bit for bit, and the recorded input gradient keeps the pooled gradient, not its 4× upsampling.
    func testAPooledConvolutionIsTheTwoLayersAndItsRecordedGradientKeepsAFourthOfTheUpsampling() {
        var rng = RandomGenerator(seed: 7)
        let makeLayers: [(inout RandomGenerator) -> [Module]] = [
            { [Conv2d(3, 4, kernelSize: 1, rng: &$0), MeanPool2x2()] },
            { [ReLU(), Conv2d(3, 4, kernelSize: 3, padding: 1, rng: &$0), MeanPool2x2()] },
            { [Conv2d(3, 3, kernelSize: 3, padding: 1, rng: &$0), ReLU(), Conv2d(3, 4, kernelSize: 3, padding: 1, rng: &$0),
               MeanPool2x2()] },
            // a layer norm after it (the ResNet critic's next block) reads the pooled output in its rule, so the
            // recorded gradient, the pooled one with it, depends on the convolution's weight too: the weight's
            // gradient through the transposed convolution must stop at the upsampling (measured before that
            // stop: the weight's second-order gradient 72.8 off)
            { [Conv2d(3, 4, kernelSize: 3, padding: 1, rng: &$0), MeanPool2x2(), LayerNorm2d(4)] },
        ]
        for make in makeLayers {
            var copy = rng
            let layers = make(&rng), twins = make(&copy)
            let name = "\(layers.map { type(of: $0) })"
            let sequential = Sequential(layers)
            let parameters = sequential.namedParameters.map { $0.1 }, twinParameters = Sequential(twins).namedParameters.map { $0.1 }
            let x = randomTensor([2, 3, 8, 8], seed: 70, margin: 0.05)
            x.requiresGrad = true
            let seed = randomTensor([2, 4, 4, 4], seed: 71)
            func run(_ f: (Tensor) -> Tensor, _ params: [Tensor]) -> (y: Tensor, first: [Tensor], held: Int, second: [Tensor]) {
                let y = f(x)
                let first = gradients(of: y, wrt: [x] + params, seed: seed)
                // a penalty's double backprop: what the recorded input gradient holds beyond its own value, then its
                // gradient in the parameters
                let before = BufferPool.shared.liveBytes
                let gx = gradients(of: (f(x) * seed).sum(), wrt: [x], createGraph: true)[0]
                let held = BufferPool.shared.liveBytes - before - MemoryBudget.bytes(ofTensor: gx.count)
                let second = gradients(of: square(gx).sum(), wrt: params)
                return (y, first, held, second)
            }
            let fused = run(sequential.callAsFunction, parameters)
            let twin = run({ x in twins.reduce(x) { $1($0) } }, twinParameters)
            XCTAssertEqual(fused.y.scalars, twin.y.scalars, "forward of \(name)")
            for (a, b) in zip(fused.first + fused.second, twin.first + twin.second) {
                XCTAssertEqual(a.scalars, b.scalars, "gradients of \(name)")
            }
            // the upsampled gradient [2, 4, 8, 8] is kept as its quarter [2, 4, 4, 4]
            XCTAssertLessThanOrEqual(fused.held + MemoryBudget.bytes(ofTensor: 2 * 4 * 8 * 8 - 2 * 4 * 4 * 4), twin.held, name)
        }
    }

    /// A convolution's bias is added over its output (read by nothing else): the pass takes no buffer beyond the
    /// convolution's own, and the values are the convolution's plus the bias.
    func testABiasIsAddedOverTheConvolutionsOutput() {
        var rng = RandomGenerator(seed: 8)
        let conv = Conv2d(16, 32, kernelSize: 3, padding: 1, rng: &rng)
        let x = randomTensor([2, 16, 32, 32], seed: 80)
        x.requiresGrad = true
        let bias = conv.bias!.reshaped([1, -1, 1, 1])
        func taken(_ f: () -> Tensor) -> (Tensor, Int) {
            let before = BufferPool.shared.takenBytes
            let y = f()
            return (y, BufferPool.shared.takenBytes - before)
        }
        let (y, withBias) = taken { conv(x) }
        let (plain, without) = taken { conv2d(x, weight: conv.weight, padding: 1) }
        XCTAssertEqual(withBias, without)
        let values = plain.scalars
        XCTAssertEqual(y.scalars, (plain + bias).scalars)
        XCTAssertEqual(plain.scalars, values, "a sum over a tensor its caller holds writes a new one")
    }

    /// `binary` writes over a scratch first operand (`Tensor.isScratch`) only where that changes no result: when
    /// the operand has the output's shape (not when it is broadcast), and, for a product or a quotient, only off the
    /// tape (their recorded rules read it). The values are a fresh buffer's in every combination, and so are the
    /// recorded gradients.
    func testABinaryOpWritesOverAScratchFirstOperandOnlyWhereNothingReadsItAgain() {
        let shapes: [([Int], [Int])] = [([2, 3, 4, 4], [2, 3, 4, 4]), ([2, 3, 4, 4], [1, 3, 1, 1]), ([1, 3, 1, 1], [2, 3, 4, 4])]
        let ops: [(String, BinaryOp)] = [("add", .add), ("subtract", .subtract), ("multiply", .multiply), ("divide", .divide)]
        for (aShape, bShape) in shapes {
            for (name, op) in ops {
                for recorded in [false, true] {
                    let context = "\(name) \(aShape) by \(bShape), recorded \(recorded)"
                    let b = randomTensor(bShape, seed: 91, low: 0.5, high: 1.5)
                    b.requiresGrad = recorded
                    let fresh = randomTensor(aShape, seed: 90)
                    let scratch = randomTensor(aShape, seed: 90)
                    scratch.isScratch = true
                    let values = scratch.scalars
                    let (expected, out) = GradMode.with(enabled: recorded) { (binary(fresh, b, op), binary(scratch, b, op)) }
                    XCTAssertEqual(out.scalars, expected.scalars, context)
                    XCTAssertFalse(out.isScratch, "\(context): the result is not scratch itself")
                    let overwrites = aShape == out.shape && !(recorded && (name == "multiply" || name == "divide"))
                    XCTAssertEqual(out.pointer == scratch.pointer, overwrites, "\(context): written over the operand")
                    if !overwrites { XCTAssertEqual(scratch.scalars, values, "\(context): the operand is untouched") }
                    if recorded {
                        let seed = randomTensor(out.shape, seed: 92)
                        XCTAssertEqual(gradients(of: out, wrt: [b], seed: seed)[0].scalars,
                                       gradients(of: expected, wrt: [b], seed: seed)[0].scalars, "\(context): b's gradient")
                    }
                }
            }
        }
    }

    /// A critic's first convolution on the image, then a leaky ReLU: when only the input's gradient is wanted (a
    /// generator step), the convolution's output is computed again a slice of the batch at a time
    /// (`recomputeInputSamples`), so the backward pass never holds it whole beside its gradient; the gradients are
    /// the layer-by-layer ones bit for bit, with the weights' gradients too (which take the whole-batch path).
    func testAFirstConvolutionsOutputIsRecomputedASliceAtATimeForTheInputGradientAlone() {
        var rng = RandomGenerator(seed: 12)
        var copy = rng
        func make(_ rng: inout RandomGenerator) -> [Module] {
            [Conv2d(3, 64, kernelSize: 4, stride: 2, padding: 1, rng: &rng), LeakyReLU(0.2),
             Conv2d(64, 2, kernelSize: 3, padding: 1, bias: false, rng: &rng)]
        }
        let layers = make(&rng), twins = make(&copy)
        let sequential = Sequential(layers)
        // 640 samples: the first convolution's output, 4096 floats a sample, is 2.6 M floats, slices of 128 samples.
        let n = 640, perSample = 64 * 8 * 8
        let x = randomTensor([n, 3, 16, 16], seed: 60)
        x.requiresGrad = true
        let seed = randomTensor([n, 2, 8, 8], seed: 61)
        let y = sequential(x)
        XCTAssertGreaterThan(n * perSample, 2 * activationSliceFloats, "more than one slice")
        let live = BufferPool.shared.liveBytes
        _ = BufferPool.shared.resetPeak()
        let gx = gradients(of: y, wrt: [x], seed: seed)[0]
        let peak = BufferPool.shared.peakLiveBytes - live
        // Holding the convolution's output whole beside its gradient and the seed's would take this much.
        let whole = MemoryBudget.bytes(ofTensor: 2 * n * perSample + seed.count)
        XCTAssertLessThan(peak, whole, "peak \(peak) bytes above the forward pass's")
        let yTwin = twins.reduce(x) { $1($0) }
        XCTAssertEqual(y.scalars, yTwin.scalars, "forward")
        XCTAssertEqual(gx.scalars, gradients(of: yTwin, wrt: [x], seed: seed)[0].scalars, "input gradient, bit for bit")
        let parameters = sequential.namedParameters.map { $0.1 }, twinParameters = Sequential(twins).namedParameters.map { $0.1 }
        let all = gradients(of: sequential(x), wrt: [x] + parameters, seed: seed)
        let allTwin = gradients(of: twins.reduce(x) { $1($0) }, wrt: [x] + twinParameters, seed: seed)
        for (a, b) in zip(all, allTwin) { XCTAssertEqual(a.scalars, b.scalars, "with the weights' gradients") }
    }

    func testTheRecomputedIntermediateHoldsValuesOnlyWhileNeeded() {
        var rng = RandomGenerator(seed: 6)
        let conv = Conv2d(3, 2, kernelSize: 3, padding: 1, rng: &rng)
        let x = randomTensor([2, 3, 4, 4], seed: 50)
        x.requiresGrad = true
        for (createGraph, wrt, kept) in [(false, [x, conv.weight], false), (true, [x], false), (true, [x, conv.weight], true)] {
            var intermediate: Tensor?
            let y = recomputingIntermediate(x, pre: { x in
                let r = unaryRecomputable(x, .leakyRelu(slope: 0.2))
                intermediate = r.output
                return r
            }, layer: conv.callAsFunction)
            XCTAssertEqual(intermediate?.hasValues, false, "freed after the forward pass")
            let grads = gradients(of: square(y).sum(), wrt: wrt, createGraph: createGraph)
            XCTAssertEqual(intermediate?.hasValues, kept, "createGraph \(createGraph), \(wrt.count) targets")
            if createGraph {  // the recorded gradients differentiate again, reading y where they need it
                let again = gradients(of: grads.map { square($0).sum() }.reduce(Tensor(scalar: 0), +), wrt: [conv.weight])[0]
                XCTAssertTrue(again.scalars.allSatisfy { $0.isFinite } && again.scalars.contains { $0 != 0 })
            }
        }
    }
}

final class InferenceInPlaceTests: XCTestCase {
    /// Off the tape, an evaluation batch norm after a convolution writes over the convolution's output: the
    /// result is the layer-by-layer one, and the input is untouched.
    func testEvaluationBatchNormAfterAConvolutionWritesOverItsOutputOnly() {
        var rng = RandomGenerator(seed: 8)
        let conv = ConvTranspose2d(3, 4, kernelSize: 4, stride: 2, padding: 1, bias: false, rng: &rng)
        let bn = BatchNorm2d(4)
        for i in 0..<4 {
            bn.runningMean.pointer[i] = Float(i) * 0.1
            bn.runningVar.pointer[i] = 1 + Float(i) * 0.2
            bn.weight.pointer[i] = 0.5 + Float(i) * 0.3
            bn.bias.pointer[i] = Float(i) * -0.1
        }
        let model = Sequential([conv, bn, LeakyReLU(0.2)])
        model.setTraining(false)
        let x = randomTensor([2, 3, 5, 5], seed: 60), before = x.scalars
        let fused = withoutGradients { model(x) }
        let layered = leakyRelu(bn(conv(x)), slope: 0.2)
        for (a, b) in zip(fused.scalars, layered.scalars) { XCTAssertEqual(a, b, accuracy: 1e-6) }
        XCTAssertEqual(x.scalars, before, "the input is not written")
    }
}

final class BufferPoolTests: XCTestCase {
    /// Small buffers keep their size; from 64 KiB up capacities are whole pages.
    func testLargeBuffersAreWholePages() {
        let page = BufferPool.pageElements
        XCTAssertEqual([1, 1000, 16383, 16384, 16385, 786_432, 819_201].map(BufferPool.capacity(for:)),
                       [1, 1000, 16383, 16384, (16385 + page - 1) / page * page, 786_432, (819_201 + page - 1) / page * page])
    }

    /// One region serves every split of it, and a block given back merges with its free neighbours, so that the
    /// pool holds the most handed out at once (here 8 Mi floats), not the sum of the sizes (8 + 3 + 5 + 4 · 2).
    func testBlocksAreCutFromOneRegionAndMergeBackWhole() {
        let pool = BufferPool(arenaBytes: 1 << 30)
        defer { pool.releaseCache() }
        let m = 1 << 20
        let whole = pool.take(8 * m)
        let fresh = pool.freshBytes
        XCTAssertEqual(fresh, 32 * m)
        pool.give(whole, 8 * m)
        for round in 0..<3 {
            let (a, b) = (pool.take(3 * m), pool.take(5 * m))
            XCTAssertEqual([a, b], [whole, whole + 3 * m], "round \(round): cut from the free block, in order")
            pool.give(a, 3 * m)  // merges with nothing (b is handed out) ...
            pool.give(b, 5 * m)  // ... then b merges with a and the rest
            let quarters = (0..<4).map { _ in pool.take(2 * m) }
            XCTAssertEqual(quarters, (0..<4).map { whole + 2 * m * $0 }, "round \(round)")
            for q in [quarters[1], quarters[3], quarters[0], quarters[2]] { pool.give(q, 2 * m) }
            XCTAssertEqual(pool.take(8 * m), whole, "round \(round): the pieces merged back into one block")
            pool.give(whole, 8 * m)
        }
        XCTAssertEqual(pool.freshBytes, fresh, "no new memory after the first take")
        XCTAssertEqual(pool.cachedBytes, 32 * m)
        pool.releaseCache()
        XCTAssertEqual(pool.cachedBytes, 0)
    }

    /// When no free block holds a request, the arena grows at its top: the free block there grows by what it lacks.
    /// `releaseCache` gives the free blocks' pages back (the top one's address space too); a block cut from one
    /// whose pages went back is new memory again, and usable.
    func testARequestLargerThanEveryFreeBlockGrowsTheTopBlockAndReleasedPagesComeBackUsable() {
        let pool = BufferPool(arenaBytes: 1 << 30)
        let m = 1 << 20
        let small = pool.take(m)
        pool.give(small, m)
        var fresh = pool.freshBytes
        let large = pool.take(3 * m)
        XCTAssertEqual(large, small, "the free top block grew")
        XCTAssertEqual(pool.freshBytes - fresh, 8 * m, "by the 2 Mi floats it lacked")
        let above = pool.take(m)
        XCTAssertEqual(above, small + 3 * m)
        for i in stride(from: 0, to: 3 * m, by: 1024) { large[i] = 1 }
        pool.give(large, 3 * m)
        XCTAssertEqual(pool.cachedBytes, 12 * m)
        pool.releaseCache()
        XCTAssertEqual(pool.cachedBytes, 0, "the free block's pages went back")
        fresh = pool.freshBytes
        let again = pool.take(2 * m)
        XCTAssertEqual(again, small, "its address space is still the pool's")
        XCTAssertEqual(pool.freshBytes - fresh, 8 * m, "its pages are new again")
        XCTAssertEqual(again[0], 0, "a page given back comes back cleared")
        again[2 * m - 1] = 2
        pool.give(again, 2 * m)
        pool.give(above, m)
        XCTAssertEqual(pool.cachedBytes, 0, "a free block merged with one whose pages went back gives its pages back too")
        pool.releaseCache()
        XCTAssertEqual(pool.reservedBytes, 1 << 30, "the top block's address space went back to the reservation")
        XCTAssertEqual(pool.liveBytes, 0)
    }

    /// Without an arena (the system refused the reservation), large buffers are regions of their own, reused
    /// and split as the arena's blocks are, and unmapped by `releaseCache`.
    func testWithoutAnArenaLargeBuffersAreRegionsOfTheirOwn() {
        let pool = BufferPool(arenaBytes: 0)
        XCTAssertEqual(pool.reservedBytes, 0)
        let m = 1 << 20
        let a = pool.take(2 * m)
        pool.give(a, 2 * m)
        let fresh = pool.freshBytes
        let (b, c) = (pool.take(m), pool.take(m))
        XCTAssertEqual([b, c], [a, a + m])
        XCTAssertEqual(pool.freshBytes, fresh)
        b[0] = 1
        c[m - 1] = 1
        pool.give(c, m)
        pool.give(b, m)
        XCTAssertEqual(pool.cachedBytes, 8 * m)
        pool.releaseCache()
        XCTAssertEqual(pool.cachedBytes, 0)

        // A piece of a region unmapped while its neighbour is handed out: the neighbour, given back, stands alone,
        // and a request it cannot hold is a new region (not the two merged over the unmapped pages).
        let d = pool.take(2 * m)
        pool.give(d, 2 * m)
        let e = pool.take(m)
        XCTAssertEqual(e, d, "cut from the free region")
        pool.releaseCache()  // unmaps the free rest, d + m
        pool.give(e, m)
        XCTAssertEqual(pool.cachedBytes, 4 * m, "e alone is cached")
        let f = pool.take(2 * m)
        XCTAssertNotEqual(f, e, "a new region, not e merged with the unmapped rest")
        f[2 * m - 1] = 1
        pool.give(f, 2 * m)
    }
}
