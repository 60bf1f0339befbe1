import BilevelCPUFeatures
import Foundation

/// Whether kernels route to BilevelKernelsAVX512 (`KernelISA.active == .avx512`).
let wideKernels = KernelISA.active == .avx512

/// Which instruction set the kernels run on, chosen once per process.
///
/// `avx2` is the kernels in this module, built for x86-64-v3 on x86-64;
/// `avx512` routes GEMM, GEMV and the fused arithmetic loops to
/// BilevelKernelsAVX512 (built for x86-64-v4), which only runs after CPUID
/// says the CPU and the OS support it; `portable` is this module's kernels
/// built without target flags (any other architecture). Every path gives
/// the same bits: the AVX-512 kernels keep each sum's order.
public enum KernelISA: String, Sendable, CaseIterable {
  case portable, avx2, avx512

  /// The environment variable that forces a path (`avx2`, `avx512`), read
  /// here only, once; a path the machine cannot run falls back to the best
  /// one it can, with a warning on standard error.
  public static let environmentVariable = "BILEVELC_ISA"

  /// The path every kernel call takes in this process.
  public static let active: KernelISA = {
    let best = detected
    guard let forced = ProcessInfo.processInfo.environment[environmentVariable], !forced.isEmpty
    else { return best }
    guard let wanted = KernelISA(rawValue: forced.lowercased()) else {
      warn(
        "\(environmentVariable)=\(forced) is not one of \(supported.map(\.rawValue).joined(separator: ", ")); using \(best.rawValue)"
      )
      return best
    }
    guard supported.contains(wanted) else {
      warn("\(environmentVariable)=\(forced) cannot run on this machine; using \(best.rawValue)")
      return best
    }
    return wanted
  }()

  /// The fastest path this machine supports.
  public static var detected: KernelISA { supported.last ?? .portable }

  /// The paths this build can run on this machine, slowest first. On
  /// x86-64 this module's kernels are compiled for AVX2, so the portable
  /// path is not available there.
  public static let supported: [KernelISA] = {
    #if arch(x86_64)
      return bilevel_cpu_supports_x86_64_v4() != 0 ? [.avx2, .avx512] : [.avx2]
    #else
      return [.portable]
    #endif
  }()

  /// For `--version` and the benchmark: "avx512 (AVX-512 F/CD/BW/DQ/VL, x86-64-v4)".
  public var summary: String {
    switch self {
    case .portable: return "portable (no target ISA)"
    case .avx2: return "avx2 (AVX2 + FMA, x86-64-v3)"
    case .avx512: return "avx512 (AVX-512 F/CD/BW/DQ/VL, x86-64-v4)"
    }
  }

  /// The code-generation targets this build was compiled for (Package.swift).
  public static var buildTargets: String {
    #if arch(x86_64)
      return
        "x86-64-v3 (-march=x86-64-v3: AVX2, FMA) for the kernels; x86-64-v4 (-march=x86-64-v4) for BilevelKernelsAVX512"
    #else
      return "no target ISA flags (portable)"
    #endif
  }

  private static func warn(_ message: String) {
    // write(2), not FileHandle: a closed or full standard error must not trap.
    let bytes = Array("bilevelc: warning: \(message)\n".utf8)
    _ = bytes.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
  }
}
