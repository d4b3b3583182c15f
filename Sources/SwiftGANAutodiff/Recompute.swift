// MARK: - Intermediates recomputed in the backward pass

/// `layer(y)` for an intermediate `y = pre(x)` whose values are not kept for the backward pass.
///
/// A batch norm and activation in front of a convolution would keep two activation-sized tensors per
/// layer: the norm's input x and its output y, the convolution's input. This op keeps x and frees y once
/// `layer` has run; the backward pass writes y again with `refill` (the same arithmetic as `pre`, so the
/// same values bit for bit, at the cost of one element-wise pass) for the layer's rule, and frees it before
/// running pre's rule, which must not read y (batch norm's and the activations' rules read x).
///
/// The op's node takes the inner graph's frontier as inputs (x and the leaves that `pre` and `layer` use,
/// such as γ, β and the weight), and its rule walks the inner graph (`pre`'s and `layer`'s own nodes) back to
/// them, so it is exact to any order. When a recorded backward pass (double backprop) takes the layer's
/// weight gradient, y keeps its values once recomputed, since that gradient's graph reads them; a penalty's
/// gradient in the critic's input alone never recomputes y.
///
/// With `recomputeInput`, x itself is freed too and computed again from before it when this op's rule runs
/// (for x the output of a layer that is cheap to run again for the memory it holds, such as a first
/// convolution on the image's few channels): only this op reads x, the layer that made it reads its own
/// input. With `recomputeInputSamples` as well (given when `pre` acts on each sample alone: no batch norm), a
/// rule that wants x's gradient and not the layer's (a generator step, which differentiates the critic in its
/// input only) computes x again a slice of the batch at a time (`activationSliceFloats`), each slice's gradient
/// written over y's: x is never whole beside y's gradient (at DCGAN-64×3, batch 64, the critic's first
/// activation, 16.8 MB, becomes a 4 MiB slice). The same per-element arithmetic on the same values, so the same
/// bits.
///
/// - Parameters:
///   - x: the input.
///   - recomputeInput: x's values again (off the tape, bit for bit), or nil to keep x.
///   - recomputeInputSamples: x's values for a range of samples (off the tape, bit for bit), when `pre` acts on
///     each sample alone; nil otherwise.
///   - pre: a recorded op on x returning y and the closure that fills a buffer with y's values again (run again on
///     slices of x with `recomputeInputSamples`).
///   - layer: the differentiable layer applied to y, affine in y (a convolution): its gradient in y must
///     not read y.
package func recomputingIntermediate(_ x: Tensor, recomputeInput: (() -> Tensor)? = nil,
                                     recomputeInputSamples: ((Range<Int>) -> Tensor)? = nil,
                             pre: @escaping (Tensor) -> (output: Tensor, refill: (UnsafeMutablePointer<Float>) -> Void),
                             layer: (Tensor) -> Tensor) -> Tensor {
    let (y, refill) = pre(x)
    let recording = GradMode.isEnabled && y.gradFn != nil
    if recording, recomputeInput != nil { x.dropValues() }  // before the layer runs: its working copies come next
    let z = layer(y)
    guard GradMode.isEnabled, z.gradFn != nil else { return z }  // recording implies both
    let preFrontier = graphFrontier(of: y, stoppingAt: x)
    let layerFrontier = graphFrontier(of: z, stoppingAt: y).filter { $0 !== y }
    let frontier = preFrontier + layerFrontier
    y.dropValues()
    if recomputeInput != nil { x.dropValues() }
    var keepValues = false, keepInput = false
    /// x's values, computed again if they were freed.
    func restoreInput() {
        if let recomputeInput, !x.hasValues { x.restoreValues(from: recomputeInput()) }
    }
    // The rule walks z's graph but never reads z's values: they stay with the output alone, kept only if the op
    // after this one keeps it (a batch norm does, an addition or a pooling does not).
    let output = z.detached()
    z.dropValues()
    return record(output, frontier) { gz, needed in
        let createGraph = GradMode.isEnabled
        var grads: [ObjectIdentifier: Tensor] = [:]
        func collect(_ tensors: [Tensor], _ values: [Tensor]) {
            for (t, g) in zip(tensors, values) { grads[ObjectIdentifier(t)] = grads[ObjectIdentifier(t)].map { $0 + g } ?? g }
        }
        let wanted = Set(zip(frontier, needed).filter { $0.1 }.map { ObjectIdentifier($0.0) })
        let preWanted = preFrontier.filter { wanted.contains(ObjectIdentifier($0)) }
        let layerWanted = layerFrontier.filter { wanted.contains(ObjectIdentifier($0)) }
        // The layer's own leaves first: only their gradients read y. Then y is freed again before the gradient
        // in y (the layer is affine in y, so that does not read it) and pre's rule (which reads x, not y);
        // unless the leaves' gradients were recorded (double backprop), as their graph reads y.
        if !layerWanted.isEmpty {
            restoreInput()
            if !y.hasValues { y.restoreValues(refill) }
            collect(layerWanted, gradients(of: z, wrt: layerWanted, seed: gz, createGraph: createGraph, retainGraph: true,
                                           partial: true, cut: [y]))
            if createGraph { keepValues = true }
            if !keepValues { y.dropValues() }
        }
        if !preWanted.isEmpty {
            let gy = gradients(of: z, wrt: [y], seed: gz, createGraph: createGraph, retainGraph: true, partial: true)[0]
            // Read by pre's rule alone, which, unrecorded, writes its gradient over it (one activation fewer).
            gy.isScratch = !createGraph && gy.hasUniqueStorage()
            if let recomputeInputSamples, !createGraph, !x.hasValues, layerWanted.isEmpty, preWanted.count == 1,
               preWanted[0] === x, gy.isScratch {
                collect([x], [inputGradientBySlices(gy, xShape: x.shape, recomputeInputSamples, pre)])
            } else {
                restoreInput()
                collect(preWanted, gradients(of: y, wrt: preWanted, seed: gy, createGraph: createGraph, retainGraph: true,
                                             partial: true))
            }
        }
        if createGraph { keepInput = true }  // the recorded rules of pre read x
        if recomputeInput != nil, !keepInput { x.dropValues() }
        return zip(frontier, needed).map { $0.1 ? grads[ObjectIdentifier($0.0)] : nil }
    }
}

/// The gradient in x (of shape `xShape`) of `pre(x)` against `gy`, a slice of the batch at a time: each slice's x
/// computed again (`inputSamples`), `pre` run on it and differentiated, its output freed at once and its gradient
/// written over a copy of gy's slice, so that a slice holds at most `activationSliceFloats` floats. Written over gy
/// when pre keeps the shape (an activation). For a `pre` that acts on each sample alone (element-wise, an
/// upsampling), whose rule then does the same arithmetic on each slice as on the whole batch.
private func inputGradientBySlices(_ gy: Tensor, xShape: [Int], _ inputSamples: (Range<Int>) -> Tensor,
                                   _ pre: (Tensor) -> (output: Tensor, refill: (UnsafeMutablePointer<Float>) -> Void)) -> Tensor {
    let n = xShape[0], xPerSample = xShape.dropFirst().reduce(1, *), yPerSample = gy.count / max(n, 1)
    let gx = xShape == gy.shape ? gy : Tensor(uninitialized: xShape)
    let step = max(1, activationSliceFloats / (xPerSample + yPerSample))
    for start in stride(from: 0, to: n, by: step) {
        let range = start..<min(n, start + step)
        let xs = inputSamples(range)
        xs.requiresGrad = true
        let ys = GradMode.with(enabled: true) { pre(xs).output }
        ys.dropValues()  // pre's rule reads x, never y (the contract of `recomputingIntermediate`)
        let seed = gy.samples(range)
        seed.isScratch = true  // the rule writes the slice's gradient over it
        let g = gradients(of: ys, wrt: [xs], seed: seed, createGraph: false, retainGraph: false)[0]
        (gx.pointer + range.lowerBound * xPerSample).update(from: g.pointer, count: g.count)
    }
    return gx
}

/// `meanPool2x2(layer(x))` for a convolution `layer` (with its bias), as one op whose recorded backward pass keeps
/// the pooled gradient rather than its upsampling.
///
/// A 2×2 mean pool's gradient in its input is the output's gradient quartered and upsampled: 4 times its size.
/// When the backward pass is recorded (double backprop: a gradient penalty), the convolution's gradient in its input,
/// the transposed convolution of that upsampled gradient, keeps it for its own gradient in the weight: in the
/// 64×64 ResNet critic's first block, 33.5 MB on each of its two paths at a batch of 16. Here the transposed
/// convolution reads the upsampling through `recomputingIntermediate`, which keeps the quartered gradient, a fourth
/// of that, and writes the upsampling again when its own rule runs. The values are those of the two layers, bit for
/// bit: the same ops on the same operands in both passes. Unrecorded, the backward pass is the pool's rules and then
/// the layer's, as the two layers' own.
///
/// - Parameters:
///   - x: the layer's input.
///   - layer: a differentiable op affine in x whose rule does not read its output (a convolution, its bias added).
package func meanPooledConvolution(_ x: Tensor, layer: (Tensor) -> Tensor) -> Tensor {
    let y = layer(x)
    guard GradMode.isEnabled, y.gradFn != nil else { return meanPool2x2(y) }
    let frontier = graphFrontier(of: y, stoppingAt: x)
    let z = withoutGradients { meanPool2x2(y) }
    y.dropValues()  // no rule reads the layer's output; its graph stays, for the rule below to walk
    return record(z, frontier) { gz, needed in
        let quartered = gz * 0.25  // the pool's rules, as `meanPool2x2` records them: quartered, then upsampled
        let wanted = zip(frontier, needed).filter { $0.1 }.map { $0.0 }
        guard GradMode.isEnabled else {
            var grads = gradients(of: y, wrt: wanted, seed: upsampleNearest2x(quartered), createGraph: false,
                                  retainGraph: true, partial: true, cut: [x]).makeIterator()
            return needed.map { $0 ? grads.next() : nil }
        }
        var grads: [ObjectIdentifier: Tensor] = [:]
        let others = wanted.filter { $0 !== x }
        if !others.isEmpty {  // the weight's and the bias's: their recorded rules read the upsampled gradient
            for (t, g) in zip(others, gradients(of: y, wrt: others, seed: upsampleNearest2x(quartered), createGraph: true,
                                                retainGraph: true, partial: true, cut: [x])) {
                grads[ObjectIdentifier(t)] = g
            }
        }
        if wanted.contains(where: { $0 === x }) {
            grads[ObjectIdentifier(x)] = recomputingIntermediate(quartered, pre: upsampleNearest2xRecomputable, layer: {
                gradients(of: y, wrt: [x], seed: $0, createGraph: true, retainGraph: true, partial: true)[0]
            })
        }
        return zip(frontier, needed).map { $0.1 ? grads[ObjectIdentifier($0.0)] : nil }
    }
}

/// The tensors `y`'s graph starts from: `stop` (if differentiable) and the leaves the walk reaches without
/// passing through `stop`, each once, in walk order.
private func graphFrontier(of y: Tensor, stoppingAt stop: Tensor) -> [Tensor] {
    var frontier: [Tensor] = stop.isDifferentiable ? [stop] : []
    var seen: Set<ObjectIdentifier> = [stop.gradientKey]
    var stack: [Node] = y.gradFn.map { [$0] } ?? []
    while let n = stack.popLast() {
        for edge in n.edges {
            guard let key = edge.key, seen.insert(key).inserted else { continue }
            switch edge {
            case .node(let m): stack.append(m)
            case .leaf(let t): frontier.append(t)
            case .constant: break
            }
        }
    }
    return frontier
}

/// The gradients of `body` at `inputs` against `seed`, for the inputs `needed`: `body` run again, recorded,
/// and its graph walked back to the inputs (held as independent). For the rule of a fused op when its
/// backward pass is itself recorded (higher orders), where a composite of differentiable ops is simplest.
func recomputedGradients(_ inputs: [Tensor], needed: [Bool], seed: Tensor, _ body: ([Tensor]) -> Tensor) -> [Tensor?] {
    let again = GradMode.with(enabled: true) { body(inputs) }
    let wanted = zip(inputs, needed).filter { $0.1 }.map { $0.0 }
    var grads = gradients(of: again, wrt: wanted, seed: seed, createGraph: GradMode.isEnabled, retainGraph: false,
                          partial: true).makeIterator()
    return needed.map { $0 ? grads.next() : nil }
}
