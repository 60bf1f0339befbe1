import BilevelCore
import BilevelFrontEnd
import Foundation

/// Where the driver reads and writes. Tests pass their own, so golden
/// transcripts run in-process and capture both streams in order.
public struct Environment: Sendable {
  /// Directory that relative paths are resolved against.
  public var currentDirectory: String
  public var readLine: @Sendable () -> String?
  public var standardOutput: @Sendable (String) -> Void
  public var standardError: @Sendable (String) -> Void
  /// Prompts only on an interactive terminal.
  public var isTerminal: Bool
  /// SIGINT and SIGTERM stop a run at its next outer step (the process
  /// only; tests running in-process keep the default).
  public var handlesSignals = false

  public init(
    currentDirectory: String, readLine: @escaping @Sendable () -> String?,
    standardOutput: @escaping @Sendable (String) -> Void,
    standardError: @escaping @Sendable (String) -> Void,
    isTerminal: Bool
  ) {
    self.currentDirectory = currentDirectory
    self.readLine = readLine
    self.standardOutput = standardOutput
    self.standardError = standardError
    self.isTerminal = isTerminal
  }

  /// The process's own streams.
  public static var process: Environment {
    var e = Environment(
      currentDirectory: FileManager.default.currentDirectoryPath,
      readLine: { Swift.readLine(strippingNewline: true) },
      standardOutput: { s in ProcessStreams.write(1, s) },
      standardError: { s in ProcessStreams.write(2, s) },
      isTerminal: isatty(0) == 1)
    e.handlesSignals = true
    return e
  }

  /// A path made absolute (against the process's folder when the environment's is relative).
  static func absolute(_ path: String) -> String {
    path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
  }

  func absolute(_ path: String) -> String { Environment.absolute(resolve(path)) }

  func resolve(_ path: String) -> String {
    path.hasPrefix("/") || currentDirectory == "." ? path : currentDirectory + "/" + path
  }
}

public enum Driver {
  public static let version = "bilevelc 0.1.0"

  /// The executable's entry point: runs on a thread with a large stack (deep
  /// inputs are errors, never stack overflows) and exits with its status.
  public static func runAndExit(_ arguments: [String]) -> Never {
    ProcessStreams.prepare()
    let status = runOnLargeStack { run(Array(arguments.dropFirst()), environment: .process) }
    exit(ProcessStreams.finish(status))
  }

  /// Runs `body` on a thread with a 512 MB stack and waits for it.
  public static func runOnLargeStack(_ body: @escaping @Sendable () -> Int32) -> Int32 {
    LargeStack.run(body)
  }

  /// The simplified program `bilevelc ARGUMENTS` would solve, with its
  /// `--set`, `--method`, `--inner`, `--outer` and `--data-root` applied (for
  /// bilevelc-bench, which times what the command line runs); nil after the
  /// diagnostics went to standard error.
  public static func compile(_ arguments: [String], environment env: Environment) -> Program? {
    guard case .success(let options) = CommandLineOptions.parse(arguments), let path = options.file
    else {
      env.standardError("bilevelc: error: cannot compile from \(arguments)\n")
      return nil
    }
    let dataPaths = DataPaths(workingDirectory: env.currentDirectory, root: options.dataRoot)
    let c = Compilation.compile(
      path, environment: env, options: options.compileOptions(env, dataPaths: dataPaths),
      overrides: options.overrides)
    c.report(env)
    return c.failed ? nil : c.program
  }

  /// Runs one command line (without the program name); returns the exit status.
  public static func run(_ arguments: [String], environment env: Environment) -> Int32 {
    let command: CommandLineOptions
    switch CommandLineOptions.parse(arguments) {
    case .success(let c): command = c
    case .failure(let e):
      env.standardError(
        "bilevelc: error: \(DiagnosticRenderer.escapingControls(e.message))\n\(CommandLineOptions.usageLine)\n"
      )
      return 2
    }
    if let root = command.dataRoot,
      !OutputFiles.canonicalIsFolder(Environment.absolute(env.resolve(root)))
    {
      env.standardError(
        "bilevelc: error: --data-root '\(DiagnosticRenderer.escapingControls(root))' is not a folder\n"
      )
      return 2
    }
    switch command.action {
    case .help(let topic):
      env.standardOutput(topic.flatMap { HelpText.topics[$0]?() } ?? HelpText.text())
      return 0
    case .version:
      env.standardOutput(
        version + "\nkernels: \(KernelISA.active.summary)\nbuilt for: \(KernelISA.buildTargets)\n")
      return 0
    case .repl:
      var repl = REPL(environment: env, options: command.compileOptions(env))
      return repl.run()
    case .run, .grad, .check, .explain, .emit:
      return Commands(environment: env, options: command).execute()
    }
  }
}
