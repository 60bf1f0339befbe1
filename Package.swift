// swift-tools-version: 6.0
import PackageDescription

// The numeric kernels (Sources/BilevelCore/Runtime/Kernels) need FMA and
// AVX2 code generation: without a target ISA, Swift lowers SIMD fused
// multiply-adds to libm calls (about 0.75 GFLOP/s instead of ~40). The
// manifest is compiled for the host, so on x86-64 hosts BilevelCore,
// BilevelSolvers and the benchmark are built for x86-64-v3 (Haswell / Zen and later; swiftc's
// -target-cpu does not know "x86-64-v3", but the Clang importer's -march,
// from which Swift takes its code-generation target, does). Other hosts
// get the portable build with no flags. Built this way the binaries need an
// x86-64-v3 CPU to run.
// BilevelKernelsAVX512 holds the AVX-512 kernels and is built for
// x86-64-v4; BilevelCore calls into it only after CPUID (BilevelCPUFeatures)
// reports AVX-512 (Sources/BilevelCore/Runtime/Kernels/KernelISA.swift),
// so the binaries still run on any x86-64-v3 CPU.
#if arch(x86_64)
  let targetSettings: [SwiftSetting] = [.unsafeFlags(["-Xcc", "-march=x86-64-v3"])]
  let avx512Settings: [SwiftSetting] = [.unsafeFlags(["-Xcc", "-march=x86-64-v4"])]
#else
  let targetSettings: [SwiftSetting] = []
  let avx512Settings: [SwiftSetting] = []
#endif
// The numeric stages are optimised in debug builds too: the solvers run
// thousands of plan evaluations per test, 20–60× slower unoptimised, and the
// tests exercise them. The front end and the driver stay debuggable.
let kernelSettings = targetSettings + [.unsafeFlags(["-O"], .when(configuration: .debug))]

// Stages as targets so that "a stage never reaches back" is a build error:
// FrontEnd ← Core ← Solvers ← Driver ← executables.
let package = Package(
  name: "bilevelc",
  products: [
    .executable(name: "bilevelc", targets: ["bilevelc"])
  ],
  targets: [
    .target(name: "BilevelFrontEnd"),
    .target(name: "BilevelCPUFeatures"),
    // Generic (@inlinable) transcendentals, specialised and compiled in
    // each kernel module for its own ISA.
    .target(name: "BilevelVectorMath"),
    .target(
      name: "BilevelKernelsAVX512", dependencies: ["BilevelVectorMath"],
      swiftSettings: avx512Settings + [.unsafeFlags(["-O"], .when(configuration: .debug))]),
    .target(
      name: "BilevelCore",
      dependencies: [
        "BilevelFrontEnd", "BilevelCPUFeatures", "BilevelVectorMath", "BilevelKernelsAVX512",
      ],
      swiftSettings: kernelSettings),
    .target(
      name: "BilevelSolvers", dependencies: ["BilevelFrontEnd", "BilevelCore"],
      swiftSettings: kernelSettings),
    .target(
      name: "BilevelDriver", dependencies: ["BilevelFrontEnd", "BilevelCore", "BilevelSolvers"]),
    .executableTarget(name: "bilevelc", dependencies: ["BilevelDriver"]),
    .executableTarget(
      name: "bilevelc-bench",
      dependencies: [
        "BilevelFrontEnd", "BilevelVectorMath", "BilevelCore", "BilevelSolvers", "BilevelDriver",
      ],
      swiftSettings: kernelSettings),
    .target(
      name: "TestSupport",
      dependencies: ["BilevelFrontEnd", "BilevelCore", "BilevelSolvers", "BilevelDriver"],
      path: "Tests/TestSupport"),
    .testTarget(
      name: "FrontEndTests", dependencies: ["BilevelFrontEnd", "BilevelCore", "TestSupport"]),
    .testTarget(
      name: "CoreTests",
      dependencies: [
        "BilevelFrontEnd", "BilevelVectorMath", "BilevelCore", "TestSupport",
      ]),
    .testTarget(
      name: "SolverTests",
      dependencies: ["BilevelFrontEnd", "BilevelCore", "BilevelSolvers", "TestSupport"]),
    .testTarget(
      name: "GoldenTests",
      dependencies: ["BilevelDriver", "BilevelSolvers", "TestSupport"]),
  ]
)
