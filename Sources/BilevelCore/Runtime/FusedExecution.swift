import BilevelKernelsAVX512
import Foundation

/// One resolved step operand for a block: a stride-1 run of values, or one
/// value for the whole block (scalars, immediates, a row's column entry).
enum BlockOperand {
  case run(UnsafePointer<Double>)
  case value(Double)
}

extension Plan {
  /// Runs a fused elementwise kernel block by block: each step is one tight
  /// loop over at most `FusedKernel.block` entries that stay in L1.
  @inline(__always)
  func runFused(_ k: Int, into out: UnsafeMutablePointer<Double>) {
    let kernel = kernelBuffer[k]
    let scratch = scratchBase
    if kernel.rows * kernel.columns == 1 { return runScalar(kernel, into: out, scratch: scratch) }
    if kernel.rowsPerBlock > 0 { return runRowBlocks(kernel, into: out, scratch: scratch) }
    let block = FusedKernel.block
    let columns = kernel.columns
    let reduces = kernel.reduction != nil
    var total = 0.0
    for i in 0..<kernel.rows {
      var j0 = 0
      while j0 < columns {
        let length = min(block, columns - j0)
        runFusedBlock(
          kernel, row: i, column: j0, length: length, into: out, scratch: scratch, reduces: reduces)
        if reduces {
          let last = scratch + (kernel.count - 1) * block
          var blockSum = 0.0
          for t in 0..<length { blockSum += last[t] }
          total += blockSum
        }
        j0 += length
      }
    }
    if reduces { out[0] = kernel.reduction == .sum ? total : total / Double(kernel.rows * columns) }
  }

  /// Entries `lo..<hi` of a one-row kernel without a reduction (a
  /// row-block product's weights), its registers at `scratch`.
  @inline(__always)
  func runFusedEntries(
    _ k: Int, into out: UnsafeMutablePointer<Double>, _ lo: Int, _ hi: Int,
    scratch: UnsafeMutablePointer<Double>
  ) {
    let kernel = kernelBuffer[k]
    var j0 = lo
    while j0 < hi {
      let length = min(FusedKernel.block, hi - j0)
      runFusedBlock(
        kernel, row: 0, column: j0, length: length, into: out, scratch: scratch, reduces: false)
      j0 += length
    }
  }

  /// Every step of a kernel over one block: entries `j0..<j0 + length` of row `i`.
  @inline(__always)
  func runFusedBlock(
    _ kernel: FusedKernel.Header, row i: Int, column j0: Int, length: Int,
    into out: UnsafeMutablePointer<Double>, scratch: UnsafeMutablePointer<Double>, reduces: Bool
  ) {
    let block = FusedKernel.block
    let columns = kernel.columns
    for s in 0..<kernel.count {
      let step = stepBuffer[kernel.first + s]
      // The last step writes straight into the output, unless it is summed.
      let destination =
        s == kernel.count - 1 && !reduces ? out + i * columns + j0 : scratch + s * block
      let x = resolve(step.a, row: i, column: j0, columns: columns, scratch: scratch)
      switch step.function {
      case .unary(let f): FusedLoops.unary(f, x, destination, length)
      case .binary(let f):
        FusedLoops.binary(
          f, x, resolve(step.b, row: i, column: j0, columns: columns, scratch: scratch),
          destination, length)
      case .identity: FusedLoops.unary(.negate, x, destination, length, identity: true)
      }
    }
  }

  /// What a row-block product's parts need to compute their weights.
  struct RowWeightsContext {
    unowned(unsafe) let plan: Plan
    let firstKernel: Int
    let kernelCount: Int
    /// Each kernel's result (raw offsets).
    let results: UnsafePointer<Int>
    /// Part p's registers start at `registers + p * stride`.
    let registers: UnsafeMutablePointer<Double>
    let stride: Int
  }

  /// out = aᵀ w, w computed by the fusion's kernels from uᵢ = a vᵢ (RowBlockProduct).
  @inline(__always)
  func rowBlockProduct(
    _ index: Int, _ a: UnsafePointer<Double>, _ w: UnsafeMutablePointer<Double>,
    into out: UnsafeMutablePointer<Double>, rows m: Int, columns k: Int
  ) {
    let f = rowBlockBuffer[index]
    let list = listBuffer.baseAddress! + listStarts[f.list]
    let workspace = arena + f.workspace
    var widest = 0
    for j in 0..<f.kernelCount { widest = max(widest, kernelBuffer[f.firstKernel + j].count) }
    var context = RowWeightsContext(
      plan: self, firstKernel: f.firstKernel, kernelCount: f.kernelCount,
      results: UnsafePointer(list),
      registers: workspace + RowBlockProduct.workspaceSize(rows: m, columns: k),
      stride: widest * FusedKernel.block)
    let count = f.rowValueCount
    withUnsafeTemporaryAllocation(of: UnsafeMutablePointer<Double>.self, capacity: 2 * count) {
      vectors in
      for r in 0..<count {
        vectors[r] = rawAddress(list[f.kernelCount + count + r])
        vectors[count + r] = rawAddress(list[f.kernelCount + r])
      }
      let base = UnsafePointer(vectors.baseAddress!)
      withUnsafePointer(to: &context) { c in
        RowBlockProduct.multiply(
          rows: m, columns: k, a: a, x: base, u: base + count, count: count, w: w, y: out,
          workspace: workspace,
          weights: { raw, lo, hi, part in
            let c = raw.assumingMemoryBound(to: Plan.RowWeightsContext.self).pointee
            for j in 0..<c.kernelCount {
              c.plan.runFusedEntries(
                c.firstKernel + j, into: c.plan.rawAddress(c.results[j]), lo, hi,
                scratch: c.registers + part * c.stride)
            }
          }, context: UnsafeRawPointer(c))
      }
    }
  }

  /// One step on one entry: operands are single values (no registers).
  @inline(__always)
  func scalarStep(_ step: FusedKernel.Step) -> Double {
    @inline(__always) func value(_ s: FusedKernel.Source) -> Double {
      switch s {
      case .immediate(let v): return v
      case .operand(let offset, _): return rawAddress(offset)[0]
      case .register: preconditionFailure("a one-step kernel has no registers")
      }
    }
    switch step.function {
    case .unary(let f): return f.apply(value(step.a))
    case .binary(let f): return f.apply(value(step.a), value(step.b))
    case .identity: return value(step.a)
    }
  }

  /// One-entry kernels (scalar bookkeeping: step sizes, loss terms) skip
  /// the block machinery: one scalar per register.
  @inline(__always)
  func runScalar(
    _ kernel: FusedKernel.Header,
    into out: UnsafeMutablePointer<Double>, scratch: UnsafeMutablePointer<Double>
  ) {
    @inline(__always) func value(_ s: FusedKernel.Source) -> Double {
      switch s {
      case .register(let r): return scratch[r]
      case .immediate(let v): return v
      case .operand(let offset, _): return rawAddress(offset)[0]
      }
    }
    for s in 0..<kernel.count {
      let step = stepBuffer[kernel.first + s]
      switch step.function {
      case .unary(let f): scratch[s] = f.apply(value(step.a))
      case .binary(let f): scratch[s] = f.apply(value(step.a), value(step.b))
      case .identity: scratch[s] = value(step.a)
      }
    }
    // The sum or mean of one entry is the entry.
    out[0] = scratch[kernel.count - 1]
  }

  @inline(__always)
  func resolve(
    _ source: FusedKernel.Source, row i: Int, column j0: Int, columns: Int,
    scratch: UnsafeMutablePointer<Double>
  ) -> BlockOperand {
    switch source {
    case .register(let r): return .run(UnsafePointer(scratch + r * FusedKernel.block))
    case .immediate(let v): return .value(v)
    case .operand(let offset, let role):
      let p = rawAddress(offset)
      switch role {
      case .same: return .run(UnsafePointer(p + i * columns + j0))
      case .row: return .run(UnsafePointer(p + j0))
      case .column: return .value(p[i])
      case .scalar: return .value(p[0])
      }
    }
  }
}

/// The loops of fused kernels, one per function so each compiles to a
/// straight (vectorisable where the function allows) loop.
enum FusedLoops {
  @inline(__always)
  static func map(
    _ x: BlockOperand, _ d: UnsafeMutablePointer<Double>, _ n: Int, _ f: (Double) -> Double
  ) {
    switch x {
    case .run(let a): for t in 0..<n { d[t] = f(a[t]) }
    case .value(let v):
      let y = f(v)
      for t in 0..<n { d[t] = y }
    }
  }

  static func unary(
    _ f: UnaryFunction, _ x: BlockOperand, _ d: UnsafeMutablePointer<Double>, _ n: Int,
    identity: Bool = false
  ) {
    if !identity, let g = f.transcendental, case .run(let a) = x {
      return TranscendentalLoops.map(g, a, d, n)
    }
    if wideKernels, let g: Elementwise512.Unary = identity ? .copy : Elementwise512.Unary(f) {
      return Elementwise512.unary(g, x.wide, d, n)
    }
    if identity { return map(x, d, n) { $0 } }
    switch f {
    case .negate: map(x, d, n) { -$0 }
    case .sqrt: map(x, d, n) { $0.squareRoot() }
    case .abs: map(x, d, n) { Swift.abs($0) }
    case .sin: map(x, d, n) { Foundation.sin($0) }
    case .cos: map(x, d, n) { Foundation.cos($0) }
    case .relu: map(x, d, n) { $0 > 0 ? $0 : 0 }
    case .exp, .log, .tanh, .sigmoid, .softplus, .sign, .step: map(x, d, n) { f.apply($0) }
    }
  }

  @inline(__always)
  static func zip(
    _ x: BlockOperand, _ y: BlockOperand, _ d: UnsafeMutablePointer<Double>, _ n: Int,
    _ f: (Double, Double) -> Double
  ) {
    switch (x, y) {
    case (.run(let a), .run(let b)): for t in 0..<n { d[t] = f(a[t], b[t]) }
    case (.run(let a), .value(let v)): for t in 0..<n { d[t] = f(a[t], v) }
    case (.value(let u), .run(let b)): for t in 0..<n { d[t] = f(u, b[t]) }
    case (.value(let u), .value(let v)):
      let z = f(u, v)
      for t in 0..<n { d[t] = z }
    }
  }

  static func binary(
    _ f: BinaryFunction, _ x: BlockOperand, _ y: BlockOperand, _ d: UnsafeMutablePointer<Double>,
    _ n: Int
  ) {
    if wideKernels, let g = Elementwise512.Binary(f, exponent: y) {
      return Elementwise512.binary(g, x.wide, y.wide, d, n)
    }
    switch f {
    case .add: zip(x, y, d, n) { $0 + $1 }
    case .subtract: zip(x, y, d, n) { $0 - $1 }
    case .multiply: zip(x, y, d, n) { $0 * $1 }
    case .divide: zip(x, y, d, n) { $0 / $1 }
    case .power:
      // Common constant exponents as products: pow's cost dominates a
      // chain, and x·x is the correctly rounded square pow approximates.
      switch y {
      case .value(2): zip(x, y, d, n) { a, _ in a * a }
      case .value(3): zip(x, y, d, n) { a, _ in a * a * a }
      case .value(1): zip(x, y, d, n) { a, _ in a }
      default: zip(x, y, d, n) { Foundation.pow($0, $1) }
      }
    case .maximum, .minimum: zip(x, y, d, n) { f.apply($0, $1) }
    }
  }
}

extension BlockOperand {
  /// The same operand for the AVX-512 loops.
  @inline(__always)
  var wide: Elementwise512.Operand {
    switch self {
    case .run(let p): return .run(p)
    case .value(let v): return .value(v)
    }
  }
}

extension Elementwise512.Unary {
  /// The AVX-512 loop for `f`, if it has one (transcendentals do not).
  @inline(__always)
  init?(_ f: UnaryFunction) {
    switch f {
    case .negate: self = .negate
    case .sqrt: self = .sqrt
    case .abs: self = .abs
    case .relu: self = .relu
    default: return nil
    }
  }
}

extension Elementwise512.Binary {
  /// The AVX-512 loop for `f` with second operand `y`; `power` only for
  /// the exponents the shared loop turns into products.
  @inline(__always)
  init?(_ f: BinaryFunction, exponent y: BlockOperand) {
    switch f {
    case .add: self = .add
    case .subtract: self = .subtract
    case .multiply: self = .multiply
    case .divide: self = .divide
    case .power:
      switch y {
      case .value(2): self = .square
      case .value(3): self = .cube
      default: return nil
      }
    case .maximum, .minimum: return nil
    }
  }
}
