import Foundation

/// Options flow down as a value; no stage reads the environment.
public struct CompileOptions: Sendable {
  /// The most entries one value may have; larger sizes are errors, not
  /// out-of-memory crashes.
  public var maximumTensorElements = 1 << 27
  /// Enables rewrite rules that change IEEE results (x/x → 1, log(exp x) → x, ...).
  public var unsafeMath = false
  /// The REPL lets a name be defined again; files do not.
  public var allowRedefinition = false
  /// Keeps, per data entry and task, the graph its value was computed from
  /// (`--emit jax` writes it out). Off, data are folded as they are built and
  /// only values are kept: per-task data then cost little time and memory.
  public var keepsDataRecipes = false
  /// Reads a data file by path; tests inject their own.
  public var readFile: @Sendable (String) -> [UInt8]? = { path in
    FileManager.default.contents(atPath: path).map { [UInt8]($0) }
  }

  /// Why a data path may not be read (nil: it may), given as written and
  /// the program's folder; checked before `readFile`. The driver confines
  /// data to the program's folder and `--data-root` (DataPaths).
  public var refuseDataPath: @Sendable (_ path: String, _ programDirectory: String) -> String? = {
    _, _ in nil
  }

  public init() {}
}
