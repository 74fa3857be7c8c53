/**
 * `pipe exec-node KEY --remote URL`: runs one planned stage where it is started (a compute node), with nothing
 * but the remote and the shared workspace (see cli/nodeJob.ts). Exits 0 when the stage succeeded, 1 when it
 * failed, 2 for a job this pipe cannot run, 3 when the remote cannot be used. It never opens SQLite.
 */
import { Args, Command, Options } from "@effect/cli"
import { Effect, Option } from "effect"
import { ExitCode, setExitCode } from "./exitCodes.js"
import { execNode } from "./nodeJob.js"
import { renderError } from "./render.js"

const keyArg = Args.text({ name: "key" }).pipe(Args.withDescription("The stage's cache key: its job is jobs/KEY.json on the remote"))
const remoteOpt = Options.text("remote").pipe(Options.withDescription("The remote the coordinator wrote the job to: a directory or s3://bucket/prefix"))
const scratchOpt = Options.text("scratch").pipe(
  Options.withDescription("Where to make the scratch directory (default: $TMPDIR); it is removed afterwards"),
  Options.optional
)

export const execNodeCommand = Command.make("exec-node", { key: keyArg, remote: remoteOpt, scratch: scratchOpt }, (a) =>
  Effect.gen(function* () {
    const result = yield* execNode(a.key, a.remote, Option.getOrUndefined(a.scratch))
    process.stdout.write(`${result.stage}: ${result.status}${result.error ? `: ${result.error}` : ""}\n`)
    if (result.status !== "ok") setExitCode(ExitCode.stageFailed)
  }).pipe(Effect.catchAll(renderError(false)))
).pipe(
  Command.withDescription(
    "Run one planned stage here from its job on the remote (what the cluster executor submits; not for direct use): fetch and verify " +
      "its inputs by hash, run it, upload its output, log and result. Exit 0 ok, 1 the stage failed, 3 the remote cannot be used."
  )
)
