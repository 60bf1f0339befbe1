/// The interpreter's tables for running a fused kernel over blocks of whole
/// rows rather than one row at a time.
///
/// Why: a kernel over a narrow matrix (80×4 embeddings, 10×40 MLP layers)
/// would otherwise run every step once per row on a handful of entries, and
/// the per-call cost swamps the arithmetic. A block of R rows is one
/// stride-1 run of R·columns entries; a row or column broadcast among the
/// operands is first written out over the block into a free register, so
/// each step stays one plain loop. Every entry is computed by the same
/// function of the same values, and a reduction still sums each row on its
/// own and adds the rows in order: the bits are those of the row loop.
extension FusedKernel {
  /// A broadcast operand written out over a row block into register `slot`.
  struct RowBlockBroadcast {
    /// Raw arena offset (as the interpreter's tables give them).
    let offset: Int
    /// `.row` (written once per run: every block repeats it alike) or `.column`.
    let role: BroadcastRole
    let slot: Int
  }

  /// The headers, the row-block step copies (appended after `steps` in the
  /// step table) and the broadcasts, for kernels whose raw steps are `steps`
  /// (all kernels' in order) when the scratch region holds `slots` registers.
  struct RowBlockTables {
    var headers: [Header] = []
    var steps: [Step] = []
    var broadcasts: [RowBlockBroadcast] = []

    init(_ kernels: [FusedKernel], rawSteps: [Step], slots: Int) {
      var first = 0
      for k in kernels {
        let own = Array(rawSteps[first..<(first + k.steps.count)])
        var header = Header(
          first: first, count: k.steps.count, rows: k.rows, columns: k.columns,
          reduction: k.reduction)
        if let rowBlock = planRowBlocks(k, own, slots: slots) {
          header.rowsPerBlock = FusedKernel.block / k.columns
          header.blockFirst = rawSteps.count + steps.count
          header.broadcastFirst = broadcasts.count
          header.broadcastCount = rowBlock.broadcasts.count
          steps += rowBlock.steps
          broadcasts += rowBlock.broadcasts
        }
        headers.append(header)
        first += k.steps.count
      }
    }

    /// The kernel's steps with every row or column broadcast read from a
    /// register of its own, or nil when row blocks would not pay (a wide or
    /// one-row kernel) or the free registers are too few.
    func planRowBlocks(
      _ k: FusedKernel, _ own: [Step], slots: Int
    ) -> (steps: [Step], broadcasts: [RowBlockBroadcast])? {
      guard k.rows >= 2, k.columns >= 1, k.columns <= FusedKernel.block / 2 else { return nil }
      // Registers the kernel leaves free: after its steps', and its last
      // step's own unless that one is summed (it writes the output).
      var next = k.reduction == nil ? k.steps.count - 1 : k.steps.count
      var found: [RowBlockBroadcast] = []
      func local(_ s: Source) -> Source? {
        guard case .operand(let offset, let role) = s, role == .row || role == .column else {
          return s
        }
        if let b = found.first(where: { $0.offset == offset && $0.role == role }) {
          return .register(b.slot)
        }
        guard next < slots else { return nil }
        found.append(RowBlockBroadcast(offset: offset, role: role, slot: next))
        next += 1
        return .register(found.last!.slot)
      }
      var steps: [Step] = []
      for step in own {
        guard let a = local(step.a), let b = local(step.b) else { return nil }
        steps.append(Step(function: step.function, a: a, b: b))
      }
      return (steps, found)
    }
  }
}
