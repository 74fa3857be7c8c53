#!/usr/bin/env node
/** The `pipe` entry point: subcommands, and the mapping of every outcome to an exit code. */
import { Command, ValidationError } from "@effect/cli"
import type { Usage } from "@effect/cli/Usage"
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { Cause, Effect, Either, Exit, HashSet, Option } from "effect"
import { UsageError } from "../pipelines/errors.js"
import { localExecutor } from "../pipelines/localExecutor.js"
import { dagCommand } from "./dag.js"
import { getCommand } from "./get.js"
import { execNodeCommand } from "./execNode.js"
import { expsCommand, tagCommand } from "./exps.js"
import { diffCommand } from "./diff.js"
import { runsCommand } from "./runs.js"
import { showCommand } from "./show.js"
import { lineageCommand } from "./lineage.js"
import { reportCommand } from "./report.js"
import { pullCommand, pushCommand } from "./transfer.js"
import { gcCommand, verifyCommand } from "./upkeep.js"
import { ExitCode, exitCode, setExitCode } from "./exitCodes.js"
import { renderError } from "./render.js"
import { runCommand } from "./run.js"
import { schemaCommand } from "./schema.js"
import { statusCommand } from "./status.js"
import { sweepCommand } from "./sweep.js"
import { sweepsCommand } from "./sweeps.js"
import { pinCommand, unpinCommand } from "./pin.js"
import { uiCommand } from "./ui.js"

declare const PIPE_VERSION: string

// `pipe run --json | head` closes stdout early: stop quietly, as Unix tools do. What a dead process leaves
// (a 'running' record, a temp directory) is tidied by the next pipe.
for (const stream of [process.stdout, process.stderr]) {
  stream.on("error", (e: NodeJS.ErrnoException) => {
    if (e.code !== "EPIPE") throw e
    process.exit(exitCode())
  })
}

const commands = [
  runCommand,
  sweepCommand,
  statusCommand,
  dagCommand,
  schemaCommand,
  runsCommand,
  expsCommand,
  tagCommand,
  showCommand,
  diffCommand,
  lineageCommand,
  gcCommand,
  verifyCommand,
  pushCommand,
  pullCommand,
  getCommand,
  reportCommand,
  sweepsCommand,
  pinCommand,
  uiCommand,
  unpinCommand,
  execNodeCommand
] as const

const pipe = Command.make("pipe").pipe(
  Command.withDescription(
    "Declarative, cached experiment pipelines: stages in pipeline.yaml become a DAG of content-hashed steps; " +
      "`pipe run` executes only what changed and says why."
  ),
  Command.withSubcommands(commands)
)

const cli = Command.run(pipe, { name: "pipe", version: typeof PIPE_VERSION === "string" ? PIPE_VERSION : "dev" })

// ---------------------------------------------------------------------------------------------------------
// The command line before @effect/cli reads it. @effect/cli 0.77 drops a value-taking option left without its
// value (`pipe run --set` runs the whole pipeline), takes the next option as the value (`--set --json`), and
// wants every option after the subcommand (`pipe -f my.yaml status` is an "invalid subcommand"). So: options
// given before the subcommand move after it, `--opt=value` becomes `--opt value`, and an option missing its
// value is a usage error. Which options take a value is read from the commands themselves.

interface OptionInfo {
  /** ["-f", "--file"] */
  readonly names: ReadonlyArray<string>
  /** The value's placeholder ("text", "integer", "a | b"), or undefined for a flag. */
  readonly value: string | undefined
}

const optionsIn = (u: Usage): Array<OptionInfo> => {
  switch (u._tag) {
    case "Named":
      return u.names.some((n) => n.startsWith("-")) ? [{ names: u.names, value: Option.getOrUndefined(u.acceptedValues) }] : []
    case "Optional":
    case "Repeated":
      return optionsIn(u.usage)
    case "Concat":
    case "Alternation":
      return [...optionsIn(u.left), ...optionsIn(u.right)]
    default:
      return []
  }
}

/** Each subcommand's options, by every name they answer to. */
const optionsOf: ReadonlyMap<string, ReadonlyMap<string, OptionInfo>> = new Map(
  commands.map((c: Command.Command<any, any, never, any>) => [
    [...HashSet.values(Command.getNames(c))][0]!,
    new Map(optionsIn(Command.getUsage(c)).flatMap((o) => o.names.map((n) => [n, o] as const)))
  ])
)
/** @effect/cli's own options (help, version, completions...): they stay where they are. */
const BUILT_IN = new Set(["-h", "--help", "--version", "--wizard", "--completions", "--log-level"])

/** An example value per option, for the message when one is missing (by the placeholder otherwise). */
const EXAMPLES: Record<string, string> = {
  "--set": "train.lr=0.001",
  "--file": "pipeline.yaml",
  "--store": ".pipe",
  "--metric": "evaluate-mlp.test_accuracy",
  "--jobs": "2",
  "--max-points": "5000",
  "--limit": "20",
  "--keep-last": "3",
  "--sweep": "1",
  "--depth": "2",
  "--stage": "train",
  "--where": "metrics.test_accuracy>=0.9",
  "--sort": "-metrics.test_accuracy",
  "--pipeline": "demo",
  "--output": "report",
  "--columns": "train-mlp.lr,evaluate-mlp.test_accuracy",
  "--name": "baseline",
  "--tag": "paper",
  "--older-than": "30d",
  "--remote": "s3://bucket/pipe",
  "--executor": "slurm",
  "--partition": "gpu",
  "--scratch": "/tmp"
}

const example = (given: string, o: OptionInfo): string => {
  const long = o.names.find((n) => n.startsWith("--")) ?? o.names[0]!
  const choice = o.value?.includes(" | ") ? o.value.split(" | ")[0] : undefined
  return `${given} ${EXAMPLES[long] ?? choice ?? "VALUE"}`
}

const missingValue = (command: string, given: string, o: OptionInfo) =>
  new UsageError({ message: `${given} needs a value, e.g. pipe ${command} ${example(given, o)}; see pipe ${command} --help` })

/** The command line as @effect/cli should see it, or why it is refused. */
const normalizeArgs = (args: ReadonlyArray<string>): Either.Either<Array<string>, UsageError> => {
  const anyOption = (name: string): OptionInfo | undefined => {
    for (const m of optionsOf.values()) if (m.has(name)) return m.get(name)
    return undefined
  }
  // --opt=value -> --opt value, for the options that take a value
  const argv = args.flatMap((a) => {
    const eq = a.indexOf("=")
    return a.startsWith("--") && eq > 2 && anyOption(a.slice(0, eq))?.value !== undefined ? [a.slice(0, eq), a.slice(eq + 1)] : [a]
  })
  // Options before the subcommand.
  let i = 0
  const leading: Array<string> = []
  const leadingNames: Array<string> = []
  while (i < argv.length && argv[i]!.startsWith("-") && !BUILT_IN.has(argv[i]!)) {
    const o = anyOption(argv[i]!)
    if (!o) break
    leading.push(argv[i]!)
    leadingNames.push(argv[i]!)
    if (o.value !== undefined) {
      const v = argv[i + 1]
      // `pipe -f status`: the command is not the value
      const later = argv.slice(i + 2).find((x) => optionsOf.has(x))
      if (v === undefined || v.startsWith("--") || anyOption(v) || (optionsOf.has(v) && !later)) {
        return Either.left(missingValue(later ?? (v !== undefined && optionsOf.has(v) ? v : "status"), argv[i]!, o))
      }
      leading.push(v)
      i += 2
    } else i++
  }
  const command = argv[i]
  const own = command === undefined ? undefined : optionsOf.get(command)
  if (leading.length > 0) {
    if (!own) {
      return Either.left(
        new UsageError({ message: `give a command after ${leading.join(" ")}, e.g. pipe status ${leading.join(" ")}; commands: ${[...optionsOf.keys()].join(", ")}` })
      )
    }
    const foreign = leadingNames.find((a) => !own.has(a))
    if (foreign) return Either.left(new UsageError({ message: `${foreign} is not an option of pipe ${command}; see pipe ${command} --help` }))
  }
  if (command === undefined || !own) return Either.right(argv)
  // After the subcommand: every value-taking option has its value.
  const rest = [...leading, ...argv.slice(i + 1)]
  for (let j = 0; j < rest.length; j++) {
    const o = own.get(rest[j]!)
    if (o?.value === undefined) continue
    const v = rest[j + 1]
    if (v === undefined || v.startsWith("--") || own.has(v) || BUILT_IN.has(v)) return Either.left(missingValue(command, rest[j]!, o))
    j++
  }
  return Either.right([command, ...rest])
}

const main = Effect.suspend(() => {
  const args = process.argv.slice(2)
  return Either.match(normalizeArgs(args), {
    onLeft: renderError(args.includes("--json")),
    // The executor stages run on: here, this process (pipelines/localExecutor.ts).
    onRight: (argv) => cli([...process.argv.slice(0, 2), ...argv]).pipe(Effect.provide(localExecutor))
  })
}).pipe(
  // @effect/cli has already printed usage errors; they only set the exit code.
  Effect.catchIf(ValidationError.isValidationError, () => Effect.sync(() => setExitCode(ExitCode.invalid))),
  Effect.provide(NodeContext.layer)
)

NodeRuntime.runMain(main, {
  disableErrorReporting: true,
  teardown: (exit, onExit) => {
    if (Exit.isFailure(exit)) {
      if (Cause.isInterruptedOnly(exit.cause)) {
        process.stderr.write("pipe: interrupted; finished stages are kept, the rest will run next time\n")
        return onExit(ExitCode.interrupted)
      }
      const e = Cause.squash(exit.cause) as { name?: string; message?: string }
      if (e?.name === "SqliteError") {
        // The store went bad under us (locked for too long, disk full, damaged): not a bug in pipe.
        process.stderr.write(`pipe: the store's database failed: ${e.message}\n`)
        setExitCode(ExitCode.store)
      } else {
        process.stderr.write(`pipe: internal error (please report it):\n${Cause.pretty(exit.cause)}\n`)
        setExitCode(ExitCode.internal)
      }
    }
    process.exitCode = exitCode()
    onExit(0)
  }
})
