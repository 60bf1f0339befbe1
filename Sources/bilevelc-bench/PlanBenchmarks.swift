import BilevelCore
import BilevelFrontEnd
import BilevelSolvers
import Foundation

// The plan and the interpreter: overhead per instruction, fused
// elementwise throughput against a hand-written loop, derivative-to-function
// time ratios and the memory plan on the sample losses, and allocations per
// evaluation.

/// A program of `variables` inner variables over `graph`, for benchmarks
/// that build graphs directly.
func benchProgram(_ graph: Graph, variables: [Shape]) -> Program {
  var p = Program(file: SourceFile(path: "<bench>", text: ""))
  p.graph = graph
  let range = SourceRange(file: p.file, start: 0, end: 0)
  p.variables = variables.enumerated().map { k, s in
    Variable(
      name: "v\(k)", level: .inner, shape: s, perTask: false,
      initial: p.graph.constant(0, shape: s), bounds: nil, range: range)
  }
  return p
}

func interpreterSection() -> Section {
  var s = Section(
    "interpreter: overhead per instruction on 1-element values (target ≤ 10 ns)",
    header: ["instructions", "ns per instruction"])
  // A chain no fusion can merge: each scalar sum ends a fused kernel.
  var g = Graph()
  var y = g.make(.variable(0), shape: .scalar)
  for k in 0..<500 {
    y = g.make(.binary(.add), [y, g.constant(Double(k % 7) * 1e-3)])
    y = g.make(.reduce(.sum, .all), [y])
  }
  let plan = PlanBuilder.build(
    benchProgram(g, variables: [.scalar]), roots: [y], reassociate: false)
  plan.write(.variable(0), [1])
  let t = medianTime { plan.run() }
  s.add(["\(plan.instructions.count)", format(t * 1e9 / Double(plan.instructions.count), 2)])
  return s
}

func fusedSection() -> Section {
  var s = Section(
    "fused elementwise on \(KernelISA.active.rawValue): f(x)*y + x/(1 + y^2), plan vs hand-written loop (target ≤ 1.5×)",
    header: ["f", "n", "plan ns/entry", "loop ns/entry", "plan / loop"])
  for transcendental in [true, false] {
    for n in [256, 4096, 65536] {
      var g = Graph()
      let x = g.make(.variable(0), shape: .vector(n))
      let y = g.make(.variable(1), shape: .vector(n))
      let product = g.make(.binary(.multiply), [transcendental ? g.make(.unary(.exp), [x]) : x, y])
      let denominator = g.make(
        .binary(.add), [g.constant(1), g.make(.binary(.power), [y, g.constant(2)])])
      let root = g.make(.binary(.add), [product, g.make(.binary(.divide), [x, denominator])])
      let plan = PlanBuilder.build(
        benchProgram(g, variables: [.vector(n), .vector(n)]), roots: [root], reassociate: false)
      let xs = RandomStream.normal(shape: .vector(n), seed: 1).scalars
      let ys = RandomStream.normal(shape: .vector(n), seed: 2).scalars
      plan.write(.variable(0), xs)
      plan.write(.variable(1), ys)
      let planTime = medianTime { plan.run() }
      let px = UnsafeMutablePointer<Double>.allocate(capacity: n)
      let py = UnsafeMutablePointer<Double>.allocate(capacity: n)
      let po = UnsafeMutablePointer<Double>.allocate(capacity: n)
      px.initialize(from: xs, count: n)
      py.initialize(from: ys, count: n)
      let loopTime = medianTime {
        if transcendental {
          for i in 0..<n {
            po[i] = Foundation.exp(px[i]) * py[i] + px[i] / (1 + Foundation.pow(py[i], 2))
          }
        } else {
          for i in 0..<n { po[i] = px[i] * py[i] + px[i] / (1 + py[i] * py[i]) }
        }
      }
      px.deallocate(); py.deallocate(); po.deallocate()
      s.add([
        transcendental ? "exp" : "x", "\(n)", format(planTime * 1e9 / Double(n), 2),
        format(loopTime * 1e9 / Double(n), 2),
        format(planTime / loopTime, 2) + "×",
      ])
    }
  }
  s.note(
    "the loop is built for x86-64-v3 whatever the path; exp is libm's scalar exp on every path")
  return s
}

/// A sample compiled, differentiated, at its initial point.
struct CompiledSample {
  let name: String
  let derivatives: SolverProducts
  let leaves: LeafValues
  var program: Program { derivatives.program }

  init?(_ path: String) {
    guard let bytes = FileManager.default.contents(atPath: path) else { return nil }
    let (source, syntax) = Parser.parse(SourceFile(path: path, bytes: [UInt8](bytes)))
    guard syntax.isEmpty else { return nil }
    // Data paths arrive resolved against the program's folder; the default reader takes them as they are.
    guard let program = MethodDiagnostics.elaborate(source, options: CompileOptions()).program
    else { return nil }
    name = (path as NSString).lastPathComponent
    derivatives = SolverProducts(program.simplified().program)
    leaves = derivatives.leavesAtInitialPoint(seed: 7)
  }

  func plan(_ roots: [NodeID]) -> Plan {
    let plan = PlanBuilder.build(program, roots: roots, task: program.tasks == nil ? nil : 0)
    _ = plan.evaluate(leaves)
    return plan
  }

  func product(_ prefix: String) -> [NodeID]? {
    derivatives.products.first { $0.name.hasPrefix(prefix) }?.roots
  }
}

func sampleFiles() -> [String] {
  let directory = "samples"
  let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
  return names.filter { $0.hasSuffix(".blv") }.sorted().map { directory + "/" + $0 }
}

func derivativeCostSection() -> Section {
  var s = Section(
    "derivative cost on the sample inner losses (targets: ∇θf ≤ 3× f; Hv ≤ 2.5× ∇θf; mixed ≤ 2.5× ∇φf)",
    header: ["sample", "f µs", "∇θf / f", "Hv / ∇θf", "∇φf µs", "mixed / ∇φf"])
  for path in sampleFiles() {
    guard let sample = CompiledSample(path), let loss = sample.program.innerLoss,
      sample.derivatives.products.count >= 4
    else { continue }
    // SolverProducts lists ∇θ, ∇φ, Hv and the mixed product first, in that order.
    let products = sample.derivatives.products
    let plans = [
      [loss], products[0].roots, products[1].roots, products[2].roots, products[3].roots,
    ].map(sample.plan)
    let t = plans.map { p in medianTime(samples: 5) { p.run() } }
    s.add([
      sample.name, format(t[0] * 1e6, 2), format(t[1] / t[0], 2), format(t[3] / t[1], 2),
      format(t[2] * 1e6, 2),
      format(t[4] / t[2], 2),
    ])
  }
  s.note(
    "each a plan of its own; the mixed product (∂²f/∂φ∂θ)·v is the derivative of ∇φf along v, so it is set against ∇φf"
  )
  s.note("per-task programs (tasks t in 1..M) time one task's products, as the solvers run them")
  return s
}

func memorySection() -> Section {
  var s = Section(
    "memory plan: losses and all derivative products in one plan (target arena ≤ 1.10× the live-set bound)",
    header: ["sample", "arena doubles", "largest live set", "arena / live", "arena / no reuse"])
  for path in sampleFiles() {
    guard let sample = CompiledSample(path) else { continue }
    let p = sample.program
    let roots =
      [p.innerLoss, p.innerFixpoint?.map, p.outerLoss].compactMap { $0 }
      + sample.derivatives.products.flatMap(\.roots)
    let st = sample.plan(roots).statistics
    s.add([
      sample.name, "\(st.work)", "\(st.maximumLive)",
      format(Double(st.work) / Double(max(1, st.maximumLive)), 2),
      format(Double(st.work) / Double(max(1, st.withoutReuse)), 2),
    ])
  }
  return s
}

/// The child mode `--evaluate-quickstart N`: builds the quickstart's plan,
/// evaluates it once, then N more times. Run under valgrind by `allocationSection`.
func evaluateQuickstart(_ n: Int) {
  guard let sample = CompiledSample("samples/quickstart.blv") else { return }
  let p = sample.program
  let plan = sample.plan(
    [p.innerLoss!, p.outerLoss!] + sample.derivatives.products.flatMap(\.roots))
  for _ in 0..<n { plan.run() }
  // The kernel pool's idle worker parks after a while, which allocates once
  // in that thread; wait for it so both counts include it.
  Thread.sleep(forTimeInterval: 3)
}

func allocationSection() -> Section {
  var s = Section(
    "allocations per evaluation once warm (valgrind memcheck; target 0)",
    header: ["runs", "heap allocations", "per extra run"])
  let valgrind = ["/usr/bin/valgrind", "/usr/local/bin/valgrind"].first {
    FileManager.default.isExecutableFile(atPath: $0)
  }
  guard let valgrind else {
    s.note("valgrind is not installed: skipped")
    return s
  }
  func allocations(_ runs: Int) -> Int? {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: valgrind)
    process.arguments = [
      "--tool=memcheck", "--leak-check=no", CommandLine.arguments[0], "--evaluate-quickstart",
      "\(runs)",
    ]
    let pipe = Pipe()
    process.standardError = pipe
    process.standardOutput = FileHandle.nullDevice
    guard (try? process.run()) != nil else { return nil }
    let text = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    guard let line = text.split(separator: "\n").first(where: { $0.contains("total heap usage") }),
      let count = line.split(separator: ":").last?.split(separator: " ").first
    else { return nil }
    return Int(count.replacingOccurrences(of: ",", with: ""))
  }
  // Both counts include compiling and a warm-up long enough for the
  // runtime's one-time lazy work; the difference is what runs allocate.
  guard let warm = allocations(1001), let many = allocations(9001) else {
    s.note("valgrind did not report heap usage: skipped")
    return s
  }
  s.add(["1001", "\(warm)", ""])
  s.add(["9001", "\(many)", format(Double(many - warm) / 8000, 3)])
  s.note("the quickstart plan (losses, gradients, Hessian-vector, mixed and step products)")
  return s
}

/// Disassembles this binary and counts, in the interpreter loop and every
/// kernel it calls, calls that would mean ARC, exclusivity checks or heap
/// traffic. objdump comes with binutils; without it the section says so.
func hotLoopCallsSection() -> Section {
  var s = Section(
    "hot loop: runtime calls in the interpreter and its kernels (target 0)",
    header: ["functions scanned", "retain/release", "exclusivity checks", "malloc/free"])
  let objdump = ["/usr/bin/objdump", "/usr/local/bin/objdump"].first {
    FileManager.default.isExecutableFile(atPath: $0)
  }
  guard let objdump else {
    s.note("objdump is not installed: skipped")
    return s
  }
  let process = Process()
  process.executableURL = URL(fileURLWithPath: objdump)
  process.arguments = ["-d", "--no-show-raw-insn", CommandLine.arguments[0]]
  let pipe = Pipe()
  process.standardOutput = pipe
  process.standardError = FileHandle.nullDevice
  guard (try? process.run()) != nil else {
    s.note("objdump failed to start: skipped")
    return s
  }
  let text = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
  process.waitUntilExit()
  // Mangled-name pieces of the loop and the kernels it dispatches to.
  let hot = [
    "PlanC15runInstructions", "PlanC6matmul", "PlanC5solve", "PlanC8runFused", "PlanC9runScalar",
    "PlanC6concat",
    "BasicKernelsO6reduce", "BasicKernelsO7softmax", "FusedLoopsO", "4GEMMO", "4GEMVO",
    "13VectorKernelsO", "2LUO",
    "15TriangularSolveO",
  ]
  var functions = 0
  var counts = (retain: 0, access: 0, heap: 0)
  var inHot = false
  for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
    if line.hasSuffix(">:") {
      // Type metadata accessors (mangled names ending in `Ma`) run once per type, not per call.
      inHot = hot.contains { line.contains($0) } && !line.hasSuffix("Ma>:")
      if inHot { functions += 1 }
      continue
    }
    guard inHot, line.contains("call") else { continue }
    if line.contains("swift_retain") || line.contains("swift_release")
      || line.contains("swift_bridgeObjectRe")
    {
      counts.retain += 1
    }
    if line.contains("swift_beginAccess") || line.contains("swift_endAccess") { counts.access += 1 }
    if line.contains("<malloc") || line.contains("<free") || line.contains("swift_allocObject")
      || line.contains("swift_slowAlloc")
    {
      counts.heap += 1
    }
  }
  s.add(["\(functions)", "\(counts.retain)", "\(counts.access)", "\(counts.heap)"])
  s.note(
    "scans Plan.run's loop, fused-kernel execution, reductions, softmax, GEMM, GEMV, LU and the triangular solves in this binary"
  )
  return s
}

/// A program whose inner loss ends a chain of `lets` tanh lets: the long
/// programs of issue 11, compiled as `--emit plan` compiles them.
func chainProgramText(lets: Int) -> String {
  var lines = [
    "dim d = 8", "data X = randn(16, d, seed: 1)", "outer a: scalar = 0",
    "inner w: vector[d] = 0", "let z0 = tanh(w + a)",
  ]
  for k in 1..<lets { lines.append("let z\(k) = tanh(0.5 * z\(k - 1) + a * w)") }
  lines += [
    "inner loss = sum(z\(lets - 1)^2) + sum(w^2)", "outer loss = sum((X @ w)^2) + a^2",
    "solve inner with gd(lr: 0.1, steps: 10)", "hypergradient with implicit(cg, iters: 5)",
    "solve outer with gd(lr: 0.1, steps: 2)",
  ]
  return lines.joined(separator: "\n") + "\n"
}

func planScalingSection() -> Section {
  var s = Section(
    "compile stages on a chain of tanh lets, seconds (target: each doubling ≤ 2.3× the time)",
    header: ["lets", "parse", "elaborate", "simplify", "derive", "plan", "plan ×", "total ×"])
  var previous: (plan: Double, total: Double)? = nil
  for lets in [2000, 4000, 8000, 16000] {
    var t: [Double] = []
    func timed<T>(_ body: () -> T) -> T {
      let start = seconds()
      let result = body()
      t.append(seconds() - start)
      return result
    }
    let file = SourceFile(path: "<chain>", text: chainProgramText(lets: lets))
    let (source, _) = timed { Parser.parse(file) }
    guard let elaborated = timed({ MethodDiagnostics.elaborate(source).program }) else { break }
    let program = timed { elaborated.simplified().program }
    let products = timed { SolverProducts(program) }
    let p = products.program
    let roots = [p.innerLoss, p.outerLoss].compactMap { $0 } + products.products.flatMap(\.roots)
    _ = timed { PlanBuilder.build(p, roots: roots) }
    let total = t.reduce(0, +)
    s.add(
      ["\(lets)"] + t.map { format($0, 3) } + [
        previous.map { format(t[4] / $0.plan, 2) + "×" } ?? "",
        previous.map { format(total / $0.total, 2) + "×" } ?? "",
      ])
    previous = (t[4], total)
  }
  s.note(
    "one run each, as `bilevelc --emit plan` compiles: every derivative product and the losses in one plan"
  )
  return s
}
