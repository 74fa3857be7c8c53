#!/usr/bin/env node
/** The `pipe` entry point: subcommands, and the mapping of every outcome to an exit code. */
import { Command, ValidationError } from "@effect/cli"
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { Cause, Effect, Exit } from "effect"
import { dagCommand } from "./dag.js"
import { diffCommand, runsCommand, showCommand } from "./history.js"
import { lineageCommand } from "./lineage.js"
import { reportCommand } from "./report.js"
import { pullCommand, pushCommand } from "./transfer.js"
import { gcCommand, verifyCommand } from "./upkeep.js"
import { ExitCode, exitCode, setExitCode } from "./exitCodes.js"
import { runCommand } from "./run.js"
import { schemaCommand } from "./schema.js"
import { statusCommand } from "./status.js"
import { sweepCommand } from "./sweep.js"

declare const PIPE_VERSION: string

// `pipe run --json | head` closes stdout early: stop quietly, as Unix tools do. What a dead process leaves
// (a 'running' record, a temp directory) is tidied by the next pipe.
for (const stream of [process.stdout, process.stderr]) {
  stream.on("error", (e: NodeJS.ErrnoException) => {
    if (e.code !== "EPIPE") throw e
    process.exit(exitCode())
  })
}

const pipe = Command.make("pipe").pipe(
  Command.withDescription(
    "Declarative, cached experiment pipelines: stages in pipeline.yaml become a DAG of content-hashed steps; " +
      "`pipe run` executes only what changed and says why."
  ),
  Command.withSubcommands([
    runCommand,
    sweepCommand,
    statusCommand,
    dagCommand,
    schemaCommand,
    runsCommand,
    showCommand,
    diffCommand,
    lineageCommand,
    gcCommand,
    verifyCommand,
    pushCommand,
    pullCommand,
    reportCommand
  ])
)

const cli = Command.run(pipe, { name: "pipe", version: typeof PIPE_VERSION === "string" ? PIPE_VERSION : "dev" })

const main = cli(process.argv).pipe(
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
