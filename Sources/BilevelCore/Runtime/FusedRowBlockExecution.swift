extension Plan {
  /// Runs a narrow fused kernel over blocks of whole rows (FusedRowBlocks):
  /// its broadcasts written out over the block, then each step one loop
  /// over the block's entries, as `runFused` runs a row.
  @inline(__always)
  func runRowBlocks(
    _ kernel: FusedKernel.Header, into out: UnsafeMutablePointer<Double>,
    scratch: UnsafeMutablePointer<Double>
  ) {
    let block = FusedKernel.block
    let columns = kernel.columns
    let reduces = kernel.reduction != nil
    let broadcasts = UnsafeBufferPointer(
      rebasing: broadcastBuffer[
        kernel.broadcastFirst..<(kernel.broadcastFirst + kernel.broadcastCount)])
    // A row broadcast is the same in every block: written out once.
    for b in broadcasts where b.role == .row {
      let source = rawAddress(b.offset)
      for r in 0..<kernel.rowsPerBlock {
        (scratch + b.slot * block + r * columns).update(from: source, count: columns)
      }
    }
    var total = 0.0
    var i0 = 0
    while i0 < kernel.rows {
      let rows = min(kernel.rowsPerBlock, kernel.rows - i0)
      let length = rows * columns
      for b in broadcasts where b.role == .column {
        let source = rawAddress(b.offset) + i0
        let slot = scratch + b.slot * block
        for r in 0..<rows { (slot + r * columns).update(repeating: source[r], count: columns) }
      }
      for s in 0..<kernel.count {
        let step = stepBuffer[kernel.blockFirst + s]
        let destination =
          s == kernel.count - 1 && !reduces ? out + i0 * columns : scratch + s * block
        let x = resolve(step.a, row: i0, column: 0, columns: columns, scratch: scratch)
        switch step.function {
        case .unary(let f): FusedLoops.unary(f, x, destination, length)
        case .binary(let f):
          FusedLoops.binary(
            f, x, resolve(step.b, row: i0, column: 0, columns: columns, scratch: scratch),
            destination, length)
        case .identity: FusedLoops.unary(.negate, x, destination, length, identity: true)
        }
      }
      if reduces {
        // Row by row, as the row loop sums: each row's sum, then the rows in order.
        let last = scratch + (kernel.count - 1) * block
        for r in 0..<rows {
          var rowSum = 0.0
          for t in 0..<columns { rowSum += last[r * columns + t] }
          total += rowSum
        }
      }
      i0 += rows
    }
    if reduces {
      out[0] = kernel.reduction == .sum ? total : total / Double(kernel.rows * columns)
    }
  }
}
