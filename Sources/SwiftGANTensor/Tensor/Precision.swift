import CDNNL
import Glibc

// MARK: - Arithmetic precision of the products

/// The precision of the core's products: convolutions (all three passes) and matrix products.
///
/// - `fp32`: float32 throughout (the default; results are those of every earlier version, bit for bit).
/// - `bf16`: the products' operands are rounded to bfloat16 (8-bit mantissa, round to nearest even) and
///   multiplied with float32 accumulation, as `torch.autocast("cpu", dtype=torch.bfloat16)` runs convolutions
///   and matrix products. Everything else stays float32: weights (the master copy), optimizer state,
///   batch-norm statistics, activations between layers, losses and penalties, so a product's output is
///   float32 and only its inputs are rounded. On oneDNN's bfloat16 kernels (AVX512-BF16 or AMX); a dense
///   convolution or linear layer rounds its operands and runs the float32 product, which is the same
///   arithmetic up to the order of the float32 sums.
public enum Precision: String, CaseIterable, Sendable {
    case fp32, bf16

    /// The precision of products started from the calling thread: `fp32` unless inside `using`.
    public static var current: Precision {
        pthread_getspecific(key) == nil ? .fp32 : .bf16
    }

    /// Runs `body` with products started from the calling thread in `precision`; the earlier one is restored after.
    public static func using<R, E: Error>(_ precision: Precision, _ body: () throws(E) -> R) throws(E) -> R {
        let saved = pthread_getspecific(key)
        pthread_setspecific(key, precision == .bf16 ? bf16Marker : nil)
        defer { pthread_setspecific(key, saved) }
        return try body()
    }

    private static let key: pthread_key_t = {
        var key = pthread_key_t()
        pthread_key_create(&key, nil)
        return key
    }()
    /// Any non-nil pointer: the thread-specific value only says "bf16".
    nonisolated(unsafe) private static let bf16Marker = UnsafeMutableRawPointer(bitPattern: 1)

    /// Why this processor cannot run `precision`, or nil when it can. bfloat16 needs the AVX512-BF16
    /// instructions (AMD Zen 4 and later, Intel Cooper Lake) or AMX (Intel Sapphire Rapids and later), as
    /// oneDNN sees them (`ONEDNN_MAX_CPU_ISA` lowers what it may use). Without them oneDNN would compute
    /// bfloat16 convolutions by emulation or its reference kernels, slower than float32, so the mode is
    /// refused rather than emulated.
    public static func unsupportedReason(_ precision: Precision) -> String? {
        guard precision == .bf16 else { return nil }
        let isa = dnnl_get_effective_cpu_isa()
        if isa.rawValue & dnnl_cpu_isa_avx512_core_bf16.rawValue == dnnl_cpu_isa_avx512_core_bf16.rawValue {
            return nil
        }
        return "precision bf16 needs the AVX512-BF16 instructions (AMD Zen 4 or later, Intel Cooper Lake) or AMX "
            + "(Intel Sapphire Rapids or later); oneDNN finds at most \(isaName(isa)) on this processor"
            + (getenv("ONEDNN_MAX_CPU_ISA").map { " (ONEDNN_MAX_CPU_ISA=\(String(cString: $0)))" } ?? "")
            + ": use precision fp32"
    }

    /// oneDNN's name of an instruction set.
    private static func isaName(_ isa: dnnl_cpu_isa_t) -> String {
        switch isa {
        case dnnl_cpu_isa_sse41: return "SSE4.1"
        case dnnl_cpu_isa_avx: return "AVX"
        case dnnl_cpu_isa_avx2: return "AVX2"
        case dnnl_cpu_isa_avx2_vnni: return "AVX2 with VNNI"
        case dnnl_cpu_isa_avx512_core: return "AVX-512"
        case dnnl_cpu_isa_avx512_core_vnni: return "AVX-512 with VNNI"
        case dnnl_cpu_isa_avx512_core_bf16: return "AVX-512 with BF16"
        case dnnl_cpu_isa_avx512_core_amx: return "AVX-512 with AMX"
        default: return "instruction set \(isa.rawValue)"
        }
    }

    /// The instruction set oneDNN's kernels use on this processor (after `ONEDNN_MAX_CPU_ISA`).
    package static var oneDNNInstructionSet: String { isaName(dnnl_get_effective_cpu_isa()) }
}

// MARK: - Rounding to bfloat16

/// `x` rounded to the nearest bfloat16 (ties to even), as a float: the upper 16 bits of its pattern kept.
/// NaN stays NaN; infinities and values beyond bfloat16's largest finite value round as IEEE says (to ±∞).
@inline(__always)
public func roundedToBFloat16(_ x: Float) -> Float {
    let bits = x.bitPattern
    if x.isNaN { return Float(bitPattern: bits | 0x0040_0000) }  // quiet, and kept NaN by the truncation
    let rounded = bits &+ 0x7FFF &+ ((bits >> 16) & 1)
    return Float(bitPattern: rounded & 0xFFFF_0000)
}

/// `out[i]` = `x[i]` rounded to bfloat16 for `i` < `count` (`out` may be `x`).
package func roundToBFloat16(_ out: UnsafeMutablePointer<Float>, from x: UnsafePointer<Float>, _ count: Int) {
    parallelChunks(count) { range in for i in range { out[i] = roundedToBFloat16(x[i]) } }
}
