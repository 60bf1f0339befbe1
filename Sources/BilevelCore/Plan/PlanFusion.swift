/// The plan-level fusions (beside the elementwise chains of
/// `PlanBuilder.isInlined`): instructions merged when lowering because
/// together they move fewer bytes, not rewrites of the graph.
public enum PlanFusion {
  /// Xᵀ w with w row-local in X v₁ … X vₖ (elementwise kernels over the
  /// rows: the sigmoid weights of a logistic Hessian-vector product, which
  /// need X θ and X v; σ(Xθ) − y of its gradient): one `rowBlockProduct`
  /// instruction reads X once, block of rows by block (RowBlockProduct),
  /// where the products stream it k + 1 times. The X vᵢ and the kernels'
  /// results are still written, for any other reader.
  public static let rowBlockProduct = "row-block-product"
}

extension PlanBuilder {
  /// One row-block product: the instances it computes in one instruction.
  struct RowBlockGroup {
    let product: Int
    let matrix: Int
    /// The products X vᵢ, in instance order.
    let rowValues: [Int]
    /// The elementwise kernels from the X vᵢ to the weights, each its
    /// members in topological order ending with its root; the weights last.
    let kernels: [[Int]]
    var weights: Int { kernels.last!.last! }
    /// Values it writes besides the product.
    var written: [Int] { rowValues + kernels.map { $0.last! } }
    var members: Set<Int> { Set(rowValues + kernels.flatMap { $0 } + [product]) }
    /// What it reads that something else computes.
    func externals(_ b: PlanBuilder) -> Set<Int> {
      let members = self.members
      let read =
        [matrix] + rowValues.map { b.inputs[$0][1] }
        + kernels.flatMap { $0 }.flatMap { b.inputs[$0] }
      return Set(read.filter { !members.contains($0) })
    }
  }

  /// A computed elementwise kernel root over `rows` entries (a vector).
  func isRowKernel(_ i: Int, rows: Int) -> Bool {
    dependsOnParameters[i] && !isInlined(i) && PlanBuilder.isElementwise(node(i).op)
      && !shape(i).isMatrix && shape(i).count == rows
  }

  /// `product` = matmul(Xᵀ, w) with w a row kernel whose row-local inputs
  /// (row kernels, recursively) reach at least one matmul(X, v) of the same X.
  /// Values `claimed` by another group are read, not recomputed.
  func rowBlockCandidate(_ product: Int, claimed: Set<Int>) -> RowBlockGroup? {
    guard dependsOnParameters[product], case .matmul(true, false) = node(product).op else {
      return nil
    }
    let (x, w) = (inputs[product][0], inputs[product][1])
    let s = shape(x)
    guard s.isMatrix, s.rows > 1, isRowKernel(w, rows: s.rows), !claimed.contains(w) else {
      return nil
    }
    var roots: Set<Int> = [w]
    var rowValues: Set<Int> = []
    var frontier = [w]
    while let r = frontier.popLast() {
      for m in fusedMembers(r) {
        for j in inputs[m]
        where !roots.contains(j) && !rowValues.contains(j) && !claimed.contains(j) {
          if case .matmul(false, false) = node(j).op, dependsOnParameters[j], inputs[j][0] == x,
            !shape(inputs[j][1]).isMatrix, shape(j) == shape(w)
          {
            rowValues.insert(j)
          } else if isRowKernel(j, rows: s.rows) {
            roots.insert(j)
            frontier.append(j)
          }
        }
      }
    }
    guard !rowValues.isEmpty else { return nil }
    return RowBlockGroup(
      product: product, matrix: x, rowValues: rowValues.sorted(),
      kernels: roots.sorted().map { fusedMembers($0) })
  }

  /// Where each group runs: right after the last value it reads (the
  /// instance index it follows). A candidate is kept only if everything
  /// it reads runs before it and everything else that reads what it
  /// writes runs after; dropping one moves work, so check again until none
  /// is dropped.
  func rowBlockGroups() -> [(after: Int, group: RowBlockGroup)] {
    guard fusesRowBlocks else { return [] }
    var groups: [Int: RowBlockGroup] = [:]
    var claimed: Set<Int> = []
    for i in instances.indices {
      guard let g = rowBlockCandidate(i, claimed: claimed) else { continue }
      groups[i] = g
      claimed.formUnion(g.written)
    }
    // An instruction's place in the run: (instance it follows, 0 for its
    // own, 1 + product for a group), compared lexicographically.
    typealias Place = (Int, Int)
    while true {
      var owner: [Int: Int] = [:]
      for g in groups.values { for m in g.members { owner[m] = g.product } }
      var after: [Int: Int] = [:]
      // A group follows its externals, which may be other groups' members.
      for _ in 0...groups.count {
        for g in groups.values {
          after[g.product] =
            g.externals(self).map { e in owner[e].map { after[$0] ?? e } ?? e }
            .max() ?? 0
        }
      }
      func place(_ i: Int) -> Place {
        var i = i
        // An inlined value runs with its chain's root.
        while owner[i] == nil && isInlined(i) { i = users[i][0] }
        if let p = owner[i] { return (after[p]!, 1 + p) }
        return (i, 0)
      }
      func before(_ a: Place, _ b: Place) -> Bool { a.0 < b.0 || (a.0 == b.0 && a.1 < b.1) }
      let late = groups.values.filter { g in
        let here = place(g.product)
        let members = g.members
        return g.externals(self).contains { !before(place($0), here) }
          || g.written.contains { m in
            users[m].contains { !members.contains($0) && !before(here, place($0)) }
          }
      }
      if late.isEmpty {
        return groups.values.map { (after: after[$0.product]!, group: $0) }
          .sorted { $0.group.product < $1.group.product }
      }
      for g in late { groups[g.product] = nil }
    }
  }
}
