/// Packing copies a block of op(A) or op(B) into the exact order the
/// micro-kernel reads it: contiguous slivers, k-major, zero-padded to the
/// tile size. The copy costs O(block) and is reused across a whole
/// dimension of tiles, and it turns strided or transposed operands into unit
/// stride streams, so all four transpose combinations run the same kernel.
enum GEMMPacking {
  /// Packs rows `0..<mb`, columns `0..<kb` of op(A) (already offset to the
  /// block's corner) into slivers of `mr` rows (the register tile's):
  /// `dst[s·mr·kb + p·mr + r] = op(A)[s·mr + r, p]`. Always inlined, so a
  /// constant `mr` unrolls the row loops.
  @inline(__always)
  static func packA(
    _ a: UnsafePointer<Double>, lda: Int, transposed: Bool,
    mb: Int, kb: Int, rows mr: Int, into dst: UnsafeMutablePointer<Double>
  ) {
    var out = dst
    var i = 0
    while i < mb {
      let rows = min(mr, mb - i)
      if transposed {
        // op(A)[i, p] = a[p·lda + i]: each k step is a contiguous run.
        var src = a + i
        if rows == mr {
          for _ in 0..<kb {
            for r in 0..<mr { out[r] = src[r] }
            src += lda
            out += mr
          }
        } else {
          for _ in 0..<kb {
            for r in 0..<mr { out[r] = r < rows ? src[r] : 0 }
            src += lda
            out += mr
          }
        }
      } else {
        // op(A)[i, p] = a[i·lda + p]: interleave `rows` row streams.
        let src = a + i * lda
        if rows == mr {
          // `mr` is a constant, so this unrolls into `mr` strided loads.
          for p in 0..<kb {
            for r in 0..<mr { out[r] = src[r * lda + p] }
            out += mr
          }
        } else {
          for p in 0..<kb {
            for r in 0..<mr { out[r] = r < rows ? src[r * lda + p] : 0 }
            out += mr
          }
        }
      }
      i += mr
    }
  }

  /// Packs rows `0..<kb`, columns `0..<nb` of op(B) into slivers of
  /// `MicroTile.columns` columns:
  /// `dst[s·nr·kb + p·nr + c] = op(B)[p, s·nr + c]`.
  static func packB(
    _ b: UnsafePointer<Double>, ldb: Int, transposed: Bool,
    kb: Int, nb: Int, into dst: UnsafeMutablePointer<Double>
  ) {
    let nr = MicroTile.columns
    var out = dst
    var j = 0
    while j < nb {
      let cols = min(nr, nb - j)
      if !transposed {
        // op(B)[p, j] = b[p·ldb + j]: rows of B are already contiguous.
        var src = b + j
        if cols == nr {
          for _ in 0..<kb {
            storeVector4(loadVector4(src), out)
            storeVector4(loadVector4(src + 4), out + 4)
            src += ldb
            out += nr
          }
        } else {
          for _ in 0..<kb {
            for c in 0..<nr { out[c] = c < cols ? src[c] : 0 }
            src += ldb
            out += nr
          }
        }
      } else {
        // op(B)[p, j] = b[j·ldb + p]: interleave `cols` row streams of B.
        let src = b + j * ldb
        if cols == nr {
          let s0 = src, s1 = src + ldb, s2 = src + 2 * ldb, s3 = src + 3 * ldb
          let s4 = src + 4 * ldb, s5 = src + 5 * ldb, s6 = src + 6 * ldb, s7 = src + 7 * ldb
          for p in 0..<kb {
            storeVector4(Vector4(s0[p], s1[p], s2[p], s3[p]), out)
            storeVector4(Vector4(s4[p], s5[p], s6[p], s7[p]), out + 4)
            out += nr
          }
        } else {
          for p in 0..<kb {
            for c in 0..<nr { out[c] = c < cols ? src[c * ldb + p] : 0 }
            out += nr
          }
        }
      }
      j += nr
    }
  }
}
