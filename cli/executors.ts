/**
 * Where stages run: `--executor local` (this process, the default), `slurm` (one sbatch job per stage, through
 * `--remote`), or `process` (a `pipe exec-node` child process per stage, through `--remote`: a cluster's path
 * without a scheduler). The choice becomes the Executor Layer a run is given.
 */
import { Options } from "@effect/cli"
import { Effect, Layer, Option } from "effect"
import { StoreError, UsageError } from "../pipelines/errors.js"
import type { Executor } from "../pipelines/executor.js"
import { localExecutor } from "../pipelines/localExecutor.js"

export const executorOpt = Options.choice("executor", ["local", "slurm", "process"]).pipe(
  Options.withDescription("Where stages run: local (here, default), slurm (an sbatch job each), process (a child process each); slurm and process need --remote"),
  Options.withDefault("local" as const)
)
export const remoteOpt = Options.text("remote").pipe(
  Options.withDescription("The store the executor's jobs share: s3://bucket/prefix (credentials and endpoint from the AWS environment) or a directory on a shared file system"),
  Options.optional
)
export const partitionOpt = Options.text("partition").pipe(Options.withDescription("The SLURM partition to submit to (default: the cluster's)"), Options.optional)

/** The Executor Layer the options choose; opening the remote first (an unreachable one is exit 3). */
export const executorLayer = (
  executor: "local" | "slurm" | "process",
  remote: Option.Option<string>,
  partition: Option.Option<string>
): Effect.Effect<Layer.Layer<Executor>, UsageError | StoreError> =>
  Effect.gen(function* () {
    if (executor === "local") {
      if (Option.isSome(remote)) return yield* new UsageError({ message: "--remote is for --executor slurm or process; stages run here with the local executor" })
      return localExecutor
    }
    if (Option.isNone(remote)) return yield* new UsageError({ message: `--executor ${executor} needs --remote URL (s3://bucket/prefix, or a shared directory)` })
    const [{ openRemote }, { remoteExecutor }, launchers] = yield* Effect.promise(() =>
      Promise.all([import("../artifacts/remote.js"), import("../pipelines/remoteExecutor.js"), import("../pipelines/launchers.js")])
    )
    // Opened and tried (a small record written and removed) before anything runs: an unusable remote is exit 3.
    const r = yield* Effect.tryPromise({
      try: async () => {
        const opened = await openRemote(remote.value, { create: true })
        const probe = `jobs/probe-${process.pid}.json`
        await opened.putJson(probe, { pid: process.pid })
        await opened.delete(probe)
        return opened
      },
      catch: (e) => new StoreError({ message: e instanceof Error ? e.message : String(e) })
    })
    const launcher = executor === "slurm" ? launchers.slurmLauncher(Option.isSome(partition) ? { partition: partition.value } : {}) : launchers.processLauncher()
    return remoteExecutor({ remote: r, launcher, pipe: [process.execPath, process.argv[1]!] })
  })
