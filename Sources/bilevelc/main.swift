import BilevelDriver

Driver.runAndExit(CommandLine.arguments)
