// swift-tools-version: 6.0
import PackageDescription

// Stages as targets so that "a stage never reaches back" is a build error:
// FrontEnd ← Core ← Solvers ← Driver ← executables.
let package = Package(
  name: "bilevelc",
  products: [
    .executable(name: "bilevelc", targets: ["bilevelc"])
  ],
  targets: [
    .target(name: "BilevelFrontEnd"),
    .target(name: "BilevelCore", dependencies: ["BilevelFrontEnd"]),
    .target(name: "BilevelSolvers", dependencies: ["BilevelFrontEnd", "BilevelCore"]),
    .target(
      name: "BilevelDriver", dependencies: ["BilevelFrontEnd", "BilevelCore", "BilevelSolvers"]),
    .executableTarget(name: "bilevelc", dependencies: ["BilevelDriver"]),
    .target(
      name: "TestSupport",
      dependencies: ["BilevelFrontEnd", "BilevelCore", "BilevelDriver"],
      path: "Tests/TestSupport"),
    .testTarget(name: "FrontEndTests", dependencies: ["BilevelFrontEnd", "BilevelCore", "TestSupport"]),
    .testTarget(name: "CoreTests", dependencies: ["BilevelFrontEnd", "BilevelCore", "TestSupport"]),
    .testTarget(
      name: "GoldenTests",
      dependencies: ["BilevelDriver", "TestSupport"]),
  ]
)
