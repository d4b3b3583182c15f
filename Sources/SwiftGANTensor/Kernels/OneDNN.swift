import CDNNL
import Glibc

// The one place that calls oneDNN: convolution primitives (forward, backward-data,
// backward-weights), created once per shape and reused, run on the OpenMP team that
// `Threads` sets. Tensors stay NCHW; a primitive that prefers a blocked layout gets its
// operands reordered into pooled buffers around the call.

// MARK: - Engine

/// oneDNN's CPU engine, created on first use.
private let engine: dnnl_engine_t = {
    var engine: dnnl_engine_t?
    check(dnnl_engine_create(&engine, dnnl_cpu, 0), "engine")
    return engine!
}()

/// Stops on a oneDNN failure: every call here is made with shapes the core has already checked.
@inline(__always)
private func check(_ status: dnnl_status_t, _ what: @autoclosure () -> String) {
    precondition(status == dnnl_success, "oneDNN failed (status \(status.rawValue)) in \(what())")
}

// MARK: - Memory descriptors

/// A 4-D memory descriptor of `type` (f32 unless said) in `tag`'s layout (`dnnl_nchw`, `dnnl_oihw` or
/// `dnnl_format_tag_any`).
private func descriptor(_ dims: [Int], _ tag: dnnl_format_tag_t, _ type: dnnl_data_type_t = dnnl_f32) -> dnnl_memory_desc_t {
    var md = dnnl_memory_desc_t()
    var d = dims.map { dnnl_dim_t($0) }
    check(dnnl_memory_desc_init_by_tag(&md, 4, &d, type, tag), "memory descriptor \(dims)")
    return md
}

/// Floats needed to hold a memory descriptor's bytes.
private func floatCount(_ md: dnnl_memory_desc_t) -> Int {
    var md = md
    return (dnnl_memory_desc_get_size(&md) + 3) / 4
}

/// Whether oneDNN made a primitive descriptor of its reference implementation (plain loops, no vector code).
private func isReference(_ pd: dnnl_primitive_desc_t) -> Bool {
    var info: UnsafePointer<CChar>?
    check(dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &info), "implementation name")
    return String(cString: info!).hasPrefix("ref")
}

// MARK: - Operands

/// One tensor argument of a primitive: its NCHW descriptor, the layout the primitive chose, and the
/// reorder between the two when they differ.
private struct Operand {
    let argument: Int32
    var plain: dnnl_memory_desc_t
    var chosen: dnnl_memory_desc_t
    /// NCHW → chosen layout (inputs) or chosen → NCHW (the output); nil when the layouts agree.
    let reorder: dnnl_primitive_t?

    init(argument: Int32, plain: dnnl_memory_desc_t, chosenBy pd: dnnl_primitive_desc_t, query: dnnl_query_t,
         isOutput: Bool) {
        self.argument = argument
        self.plain = plain
        self.chosen = dnnl_primitive_desc_query_md(pd, query, 0)!.pointee
        var a = plain, b = chosen
        if dnnl_memory_desc_equal(&a, &b) != 0 {
            reorder = nil
        } else {
            var rpd: dnnl_primitive_desc_t?
            if isOutput {
                check(dnnl_reorder_primitive_desc_create(&rpd, &b, engine, &a, engine, nil), "reorder")
            } else {
                check(dnnl_reorder_primitive_desc_create(&rpd, &a, engine, &b, engine, nil), "reorder")
            }
            var r: dnnl_primitive_t?
            check(dnnl_primitive_create(&r, rpd), "reorder primitive")
            dnnl_primitive_desc_destroy(rpd)
            reorder = r
        }
    }
}

/// A memory object over `pointer` with descriptor `md`, destroyed by the caller.
private func memory(_ md: dnnl_memory_desc_t, _ pointer: UnsafeMutableRawPointer) -> dnnl_memory_t {
    var md = md
    var m: dnnl_memory_t?
    check(dnnl_memory_create(&m, &md, engine, pointer), "memory")
    return m!
}

private func execute(_ primitive: dnnl_primitive_t, _ stream: dnnl_stream_t, _ args: [(Int32, dnnl_memory_t)]) {
    var list = args.map { dnnl_exec_arg_t(arg: $0.0, memory: $0.1) }
    check(dnnl_primitive_execute(primitive, stream, Int32(list.count), &list), "execute")
}

// MARK: - Convolution primitives

/// Which pass of a convolution a primitive computes.
enum ConvolutionPass: Hashable {
    /// `y = conv(x, w)`: operands x (src), w (weights) → y (dst).
    case forward
    /// `x = convᵀ(y, w)`: operands y (diff_dst), w (weights) → x (diff_src).
    case backwardData
    /// `gw = ∂⟨gy, conv(x, w)⟩/∂w`: operands gy (diff_dst), x (src) → gw (diff_weights).
    case backwardWeights
}

/// A convolution primitive for one pass, shape and precision, with its operands' reorders. In bf16 the
/// pass's two inputs are reordered from float32 NCHW into bfloat16 (rounding to nearest even) in the layout
/// the primitive chose, and its output is float32 (the sums are float32 in oneDNN's bfloat16 kernels). A
/// float32 primitive that `roundsInputs` rounds its two inputs to bfloat16 in their float32 copies instead: the
/// same products (two bfloat16 values multiply exactly in float32), summed in float32 in another order.
private final class ConvolutionPrimitive {
    let primitive: dnnl_primitive_t
    let inputs: [Operand]  // in the order the pass takes them
    let output: Operand
    let scratchpad: dnnl_memory_desc_t
    /// oneDNN's name of the implementation it chose (`jit:avx512_core`, `brgconv:avx512_core_amx_bf16`, ...).
    let implementation: String
    let roundsInputs: Bool

    init(_ pass: ConvolutionPass, outChannels o: Int, _ g: ConvGeometry, precision: Precision,
         roundsInputs: Bool = false) {
        self.roundsInputs = roundsInputs
        let src = [g.batch, g.channels, g.height, g.width]
        let weights = [o, g.channels, g.kernelHeight, g.kernelWidth]
        let dst = [g.batch, o, g.outputHeight, g.outputWidth]
        // Layouts, measured on DCGAN-64 and the spectral-normalisation CNN at batch 64 (Zen 4): oneDNN's blocked
        // layout (its choice, "any") everywhere except beside a 1- to 4-channel image, where blocked kernels pad
        // the image's channels to a whole block. An image that is the convolution's source (the critic's first
        // layer) stays plain NCHW, with the other side blocked for the forward pass and the weight gradient (2× and
        // 4× faster than all plain) and everything plain for the backward-data pass (its fastest). An image that is
        // its destination (a generator's last 3×3 convolution) is blocked in every pass, the backward-data pass
        // taking the layouts the forward pass chose: oneDNN's block for this processor (16 channels with AVX-512,
        // 8 with AVX2), since a block it has no kernel for sends it to its reference loops (AVX2 with 16: 140×
        // slower). Blocked, each pass is 1.7-5× faster than gemm over plain layouts (b64 64→3 at 32×32, Zen 4).
        let imageSide = min(g.channels, o) <= 4
        let imageIsSource = imageSide && g.channels <= 4
        let allPlain = imageIsSource && pass == .backwardData
        var srcAny = descriptor(src, imageIsSource ? dnnl_nchw : dnnl_format_tag_any)
        var weightsAny = descriptor(weights, allPlain ? dnnl_oihw : dnnl_format_tag_any)
        var dstAny = descriptor(dst, allPlain ? dnnl_nchw : dnnl_format_tag_any)
        // bfloat16: oneDNN's choice of layout for every operand, bf16 inputs and float32 outputs. The forward
        // descriptor that hints the backward passes has all three in bf16.
        var hintDst = dstAny
        if precision == .bf16 {
            let any = dnnl_format_tag_any
            srcAny = descriptor(src, any, pass == .backwardData ? dnnl_f32 : dnnl_bf16)
            weightsAny = descriptor(weights, any, pass == .backwardWeights ? dnnl_f32 : dnnl_bf16)
            dstAny = descriptor(dst, any, pass == .forward ? dnnl_f32 : dnnl_bf16)
            hintDst = descriptor(dst, any, pass == .forward ? dnnl_f32 : dnnl_bf16)
        }
        var hintSrc = precision == .bf16 ? descriptor(src, dnnl_format_tag_any, dnnl_bf16) : srcAny
        var hintWeights = precision == .bf16 ? descriptor(weights, dnnl_format_tag_any, dnnl_bf16) : weightsAny
        var strides: [dnnl_dim_t] = [dnnl_dim_t(g.stride), dnnl_dim_t(g.stride)]
        var padLeft: [dnnl_dim_t] = [dnnl_dim_t(g.padding), dnnl_dim_t(g.padding)]
        // Rows and columns past the last window (or missing from it) on the bottom/right.
        var padRight: [dnnl_dim_t] = [
            dnnl_dim_t((g.outputHeight - 1) * g.stride + g.kernelHeight - g.height - g.padding),
            dnnl_dim_t((g.outputWidth - 1) * g.stride + g.kernelWidth - g.width - g.padding)]

        var attr: dnnl_primitive_attr_t?
        check(dnnl_primitive_attr_create(&attr), "attributes")
        defer { dnnl_primitive_attr_destroy(attr) }
        check(dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user), "scratchpad mode")

        var forwardDesc = dnnl_convolution_desc_t()
        check(dnnl_convolution_forward_desc_init(&forwardDesc, dnnl_forward_training, dnnl_convolution_direct,
                                                 &hintSrc, &hintWeights, nil, &hintDst, &strides, &padLeft, &padRight),
              "convolution forward \(g)")
        var forwardPD: dnnl_primitive_desc_t?
        check(dnnl_primitive_desc_create(&forwardPD, &forwardDesc, attr, engine, nil), "convolution forward \(g)")
        defer { dnnl_primitive_desc_destroy(forwardPD) }

        if pass == .backwardData && imageSide && !imageIsSource && precision == .fp32 {
            srcAny = dnnl_primitive_desc_query_md(forwardPD, dnnl_query_src_md, 0)!.pointee
            dstAny = dnnl_primitive_desc_query_md(forwardPD, dnnl_query_dst_md, 0)!.pointee
        }
        /// The pass's primitive descriptor over these operand layouts (the forward pass's clones the hint).
        func describe(_ src: dnnl_memory_desc_t, _ weights: dnnl_memory_desc_t, _ dst: dnnl_memory_desc_t,
                      cloningHint: Bool) -> dnnl_primitive_desc_t {
            var (src, weights, dst) = (src, weights, dst)
            var pd: dnnl_primitive_desc_t?
            switch pass {
            case .forward where cloningHint:
                check(dnnl_primitive_desc_clone(&pd, forwardPD), "clone")
            case .forward:
                var desc = dnnl_convolution_desc_t()
                check(dnnl_convolution_forward_desc_init(&desc, dnnl_forward_training, dnnl_convolution_direct, &src,
                                                         &weights, nil, &dst, &strides, &padLeft, &padRight),
                      "convolution forward \(g)")
                check(dnnl_primitive_desc_create(&pd, &desc, attr, engine, nil), "convolution forward \(g)")
            case .backwardData:
                var desc = dnnl_convolution_desc_t()
                check(dnnl_convolution_backward_data_desc_init(&desc, dnnl_convolution_direct, &src, &weights, &dst,
                                                               &strides, &padLeft, &padRight),
                      "convolution backward data \(g)")
                check(dnnl_primitive_desc_create(&pd, &desc, attr, engine, forwardPD), "convolution backward data \(g)")
            case .backwardWeights:
                var desc = dnnl_convolution_desc_t()
                check(dnnl_convolution_backward_weights_desc_init(&desc, dnnl_convolution_direct, &src, &weights, nil,
                                                                  &dst, &strides, &padLeft, &padRight),
                      "convolution backward weights \(g)")
                check(dnnl_primitive_desc_create(&pd, &desc, attr, engine, forwardPD), "convolution backward weights \(g)")
            }
            return pd!
        }
        // A processor whose instruction set has no kernel of this pass for the layouts asked (AVX without AVX2 has
        // no blocked backward-data kernel) would get oneDNN's reference loops, 100× slower than gemm over plain
        // layouts: then the pass is made over plain layouts, in the same data types.
        var pd: dnnl_primitive_desc_t? = describe(srcAny, weightsAny, dstAny, cloningHint: true)
        if isReference(pd!) {
            dnnl_primitive_desc_destroy(pd)
            pd = describe(descriptor(src, dnnl_nchw, srcAny.data_type), descriptor(weights, dnnl_oihw, weightsAny.data_type),
                          descriptor(dst, dnnl_nchw, dstAny.data_type), cloningHint: false)
        }
        defer { dnnl_primitive_desc_destroy(pd) }

        let plainSrc = descriptor(src, dnnl_nchw), plainWeights = descriptor(weights, dnnl_oihw)
        let plainDst = descriptor(dst, dnnl_nchw)
        switch pass {
        case .forward:
            inputs = [Operand(argument: DNNL_ARG_SRC, plain: plainSrc, chosenBy: pd!, query: dnnl_query_src_md, isOutput: false),
                      Operand(argument: DNNL_ARG_WEIGHTS, plain: plainWeights, chosenBy: pd!, query: dnnl_query_weights_md, isOutput: false)]
            output = Operand(argument: DNNL_ARG_DST, plain: plainDst, chosenBy: pd!, query: dnnl_query_dst_md, isOutput: true)
        case .backwardData:
            inputs = [Operand(argument: DNNL_ARG_DIFF_DST, plain: plainDst, chosenBy: pd!, query: dnnl_query_diff_dst_md, isOutput: false),
                      Operand(argument: DNNL_ARG_WEIGHTS, plain: plainWeights, chosenBy: pd!, query: dnnl_query_weights_md, isOutput: false)]
            output = Operand(argument: DNNL_ARG_DIFF_SRC, plain: plainSrc, chosenBy: pd!, query: dnnl_query_diff_src_md, isOutput: true)
        case .backwardWeights:
            inputs = [Operand(argument: DNNL_ARG_DIFF_DST, plain: plainDst, chosenBy: pd!, query: dnnl_query_diff_dst_md, isOutput: false),
                      Operand(argument: DNNL_ARG_SRC, plain: plainSrc, chosenBy: pd!, query: dnnl_query_src_md, isOutput: false)]
            output = Operand(argument: DNNL_ARG_DIFF_WEIGHTS, plain: plainWeights, chosenBy: pd!, query: dnnl_query_diff_weights_md, isOutput: true)
        }
        scratchpad = dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0)!.pointee
        var info: UnsafePointer<CChar>?
        check(dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &info), "implementation name")
        implementation = String(cString: info!)
        var p: dnnl_primitive_t?
        check(dnnl_primitive_create(&p, pd), "convolution primitive \(g)")
        primitive = p!
    }

    /// The floats the pass takes beside its operands while it runs: its first input's and its output's copies in
    /// another layout, and its scratchpad (im2col columns for a pass over plain layouts).
    var workingFloats: Int {
        [inputs[0], output].filter { $0.reorder != nil }.map { floatCount($0.chosen) }.reduce(0, +) + floatCount(scratchpad)
    }

    /// The second input (`ConvolutionPass`'s order: the weights of the forward and backward-data passes) in the
    /// layout this pass takes, for `run(_:_:_:secondInChosenLayout:)`; the storage holds its values.
    func secondInput(_ b: UnsafePointer<Float>) -> (values: UnsafeRawPointer, storage: Storage?) {
        guard let reorder = inputs[1].reorder else {
            guard roundsInputs else { return (UnsafeRawPointer(b), nil) }
            let s = Storage(count: max(floatCount(inputs[1].plain), 1))
            roundToBFloat16(s.pointer, from: b, floatCount(inputs[1].plain))
            return (UnsafeRawPointer(s.pointer), s)
        }
        var stream: dnnl_stream_t?
        check(dnnl_stream_create(&stream, engine, UInt32(dnnl_stream_default_flags.rawValue)), "stream")
        defer { dnnl_stream_destroy(stream) }
        let s = Storage(count: max(floatCount(inputs[1].chosen), 1))
        let from = memory(inputs[1].plain, UnsafeMutableRawPointer(mutating: b)), to = memory(inputs[1].chosen, s.pointer)
        defer { dnnl_memory_destroy(from); dnnl_memory_destroy(to) }
        execute(reorder, stream!, [(DNNL_ARG_FROM, from), (DNNL_ARG_TO, to)])
        check(dnnl_stream_wait(stream), "wait")
        if roundsInputs { roundToBFloat16(s.pointer, from: s.pointer, floatCount(inputs[1].chosen)) }
        return (UnsafeRawPointer(s.pointer), s)
    }

    /// Whether `other` takes its second input in the same layout as this pass (so one `secondInput` serves both).
    func takesSecondInputAs(_ other: ConvolutionPrimitive) -> Bool {
        var a = inputs[1].chosen, b = other.inputs[1].chosen
        return dnnl_memory_desc_equal(&a, &b) != 0
    }

    /// Runs the pass: `out` (NCHW/OIHW) from `a` and `b` (NCHW/OIHW), in the order of `ConvolutionPass`; or, with
    /// `secondInChosenLayout`, from b's values already in the layout the pass takes (`secondInput`).
    func run(_ out: UnsafeMutablePointer<Float>, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>,
             secondInChosenLayout: UnsafeRawPointer? = nil) {
        var stream: dnnl_stream_t?
        check(dnnl_stream_create(&stream, engine, UInt32(dnnl_stream_default_flags.rawValue)), "stream")
        defer { dnnl_stream_destroy(stream) }
        var held: [Storage] = []  // pooled buffers of blocked operands and the scratchpad, alive until the end
        var memories: [dnnl_memory_t] = []
        defer { for m in memories { dnnl_memory_destroy(m) } }
        func wrap(_ md: dnnl_memory_desc_t, _ pointer: UnsafeMutableRawPointer) -> dnnl_memory_t {
            let m = memory(md, pointer)
            memories.append(m)
            return m
        }
        func buffer(_ md: dnnl_memory_desc_t) -> UnsafeMutableRawPointer {
            let s = Storage(count: max(floatCount(md), 1))
            held.append(s)
            return UnsafeMutableRawPointer(s.pointer)
        }

        var args: [(Int32, dnnl_memory_t)] = []
        for (i, (operand, pointer)) in zip(inputs, [a, b]).enumerated() {
            if i == 1, let secondInChosenLayout {
                args.append((operand.argument, wrap(operand.chosen, UnsafeMutableRawPointer(mutating: secondInChosenLayout))))
                continue
            }
            let user = wrap(operand.plain, UnsafeMutableRawPointer(mutating: pointer))
            if let reorder = operand.reorder {
                let copy = buffer(operand.chosen), blocked = wrap(operand.chosen, copy)
                execute(reorder, stream!, [(DNNL_ARG_FROM, user), (DNNL_ARG_TO, blocked)])
                if roundsInputs {
                    check(dnnl_stream_wait(stream), "wait")
                    let floats = copy.assumingMemoryBound(to: Float.self)
                    roundToBFloat16(floats, from: floats, floatCount(operand.chosen))
                }
                args.append((operand.argument, blocked))
            } else if roundsInputs {
                let copy = buffer(operand.plain)
                roundToBFloat16(copy.assumingMemoryBound(to: Float.self), from: pointer, floatCount(operand.plain))
                args.append((operand.argument, wrap(operand.plain, copy)))
            } else {
                args.append((operand.argument, user))
            }
        }
        let user = wrap(output.plain, UnsafeMutableRawPointer(out))
        let result = output.reorder == nil ? user : wrap(output.chosen, buffer(output.chosen))
        args.append((output.argument, result))
        if floatCount(scratchpad) > 0 { args.append((DNNL_ARG_SCRATCHPAD, wrap(scratchpad, buffer(scratchpad)))) }
        execute(primitive, stream!, args)
        if let reorder = output.reorder { execute(reorder, stream!, [(DNNL_ARG_FROM, result), (DNNL_ARG_TO, user)]) }
        check(dnnl_stream_wait(stream), "wait")
    }
}

// MARK: - The primitive cache

/// The primitives made so far, by pass, output channels, geometry, thread count (a primitive divides its work
/// among the threads there were when it was made) and precision; a training step reuses them.
///
/// In bf16, a backward pass for which oneDNN 2.6 offers its AMX kernels runs instead on its float32 kernels, its
/// operands rounded to bfloat16 (`ConvolutionPrimitive.roundsInputs`: the same products, summed in float32 in
/// another order). Measured on an Intel Xeon with AMX (family 6 model 207, 2 cores, 2026-12-06; DCGAN-32x1
/// RaSGAN b64, ms per call under `ONEDNN_VERBOSE`), AMX's backward passes are slower than float32's, its forward
/// passes 2.6-3× faster: backward weights 13.6 and 7.5 ms against float32's 5.4 and 5.4 (256 and 128 output
/// channels), backward data 7.7 against 5.6 (128 ← 256 channels) and 2.1 against 2.2 (64 ← 128); forward 2.0
/// and 0.9 against 6.0 and 2.4. With the backward passes on float32 kernels that step's convolutions and reorders
/// took 138-187 ms against 229-236 (two runs each); whole steps, paired (the two builds alternating step by step in
/// two processes), took 0.87× the time at DCGAN-64x3 b64, 0.91× at b16, 0.96× at DCGAN-32x1, 0.98× with the GP.
/// The price: the backward passes' blocked copies are float32, not bfloat16: peak RSS +7 to +10 MB on those rows
/// (DCGAN-64x3 b64 261 → 268 MB). Processors without AMX (AVX512-BF16 alone: AMD Zen 4) keep oneDNN's bfloat16
/// kernels in every pass.
private final class PrimitiveCache: @unchecked Sendable {
    static let shared = PrimitiveCache()
    private struct Key: Hashable {
        let pass: ConvolutionPass, outChannels: Int, geometry: ConvGeometry, threads: Int, precision: Precision
        let backwardOnFloat32: Bool
    }
    private var primitives: [Key: ConvolutionPrimitive] = [:]
    private var mutex = pthread_mutex_t()
    private init() { pthread_mutex_init(&mutex, nil) }

    func primitive(_ pass: ConvolutionPass, outChannels: Int, _ g: ConvGeometry) -> ConvolutionPrimitive {
        let precision = Precision.current
        let forced = BFloat16Convolutions.backwardOnFloat32
        let key = Key(pass: pass, outChannels: outChannels, geometry: g, threads: Threads.count, precision: precision,
                      backwardOnFloat32: forced)
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        if let p = primitives[key] { return p }
        let rounded = { ConvolutionPrimitive(pass, outChannels: outChannels, g, precision: .fp32, roundsInputs: true) }
        var p: ConvolutionPrimitive
        if precision == .bf16 && pass != .forward && forced {
            p = rounded()
        } else {
            p = ConvolutionPrimitive(pass, outChannels: outChannels, g, precision: precision)
            if precision == .bf16 && pass != .forward && p.implementation.contains("amx") { p = rounded() }
        }
        primitives[key] = p
        return p
    }
}

/// How precision bf16's backward convolutions run (`PrimitiveCache`).
package enum BFloat16Convolutions {
    /// On float32 kernels with operands rounded to bfloat16 on every processor, not only where oneDNN would take
    /// AMX kernels: for tests, which check that path on processors without AMX. Set only between steps.
    nonisolated(unsafe) package static var backwardOnFloat32 = false
}

/// Runs one pass of the convolution of geometry `g` with `outChannels` output channels on oneDNN.
/// Operands as `ConvolutionPass` lists them, all NCHW (weights `[O, C, KH, KW]`).
///
/// A forward or backward-data pass that works on more than `sliceFloats` floats beside its operands
/// (their copies in oneDNN's blocked layout, its scratchpad) runs on slices of the batch of at most that many
/// floats of input and output together, so that its working buffers are one slice's, not the whole batch's. Each
/// sample's output is a function of that sample alone, so slicing changes no arithmetic (on Zen 3 every benchmark
/// configuration trains to the same bits); the weights are reordered once for all slices. The weight gradient,
/// a sum over the batch, runs whole. Measured peak RSS over 3 steps (Zen 3; with the batch norm's and the
/// activations' gradients written over the recomputed ones, `Tensor.isScratch`): DCGAN-64×3 RaSGAN b64 309 → 282
/// MB, RaSGAN-GP 307 → 290 MB, BEGAN-64×3 b16 460 → 435 MB, ResNet-64×3 WGAN-GP b16 772 → 721 MB; step times
/// unchanged (0.98-0.99× on ResNet-64 and DCGAN-64, 4 alternating rounds).
func dnnlConvolution(_ pass: ConvolutionPass, _ out: UnsafeMutablePointer<Float>, _ a: UnsafePointer<Float>,
                     _ b: UnsafePointer<Float>, outChannels: Int, _ g: ConvGeometry,
                     sliceFloats: Int = activationSliceFloats) {
    let whole = PrimitiveCache.shared.primitive(pass, outChannels: outChannels, g)
    let image = g.channels * g.height * g.width, map = outChannels * g.outputHeight * g.outputWidth
    let slices = pass == .backwardWeights || whole.workingFloats <= sliceFloats
        ? 1 : min(g.batch, (g.batch * (image + map) + sliceFloats - 1) / sliceFloats)
    guard slices > 1 else { return whole.run(out, a, b) }
    let (inStride, outStride) = pass == .forward ? (image, map) : (map, image)
    // Batches of ⌈N/k⌉ and ⌊N/k⌋ samples: at most two primitives.
    let sizes = (0..<slices).map { g.batch / slices + ($0 < g.batch % slices ? 1 : 0) }
    let primitives = sizes.map { n in
        PrimitiveCache.shared.primitive(pass, outChannels: outChannels, ConvGeometry(
            batch: n, channels: g.channels, height: g.height, width: g.width, kernelHeight: g.kernelHeight,
            kernelWidth: g.kernelWidth, stride: g.stride, padding: g.padding, outputHeight: g.outputHeight,
            outputWidth: g.outputWidth))
    }
    let shared = primitives.allSatisfy { $0.takesSecondInputAs(primitives[0]) }
    let weights = shared ? primitives[0].secondInput(b) : nil
    withExtendedLifetime(weights?.storage) {
        var start = 0
        for (n, primitive) in zip(sizes, primitives) {
            primitive.run(out + start * outStride, a + start * inStride, b, secondInChosenLayout: weights?.values)
            start += n
        }
    }
}

/// The most floats of input and output together that a forward or backward-data slice of the batch takes
/// (`dnnlConvolution`): 4 MiB. With 8 MiB, DCGAN-64×3 RaSGAN b64 peaks at 285 MB; with 16 MiB, at 309 MB.
package let activationSliceFloats = 1 << 20
