/**
 * Where stages run: `--executor local` (this process, the default), `slurm` (one sbatch job per stage, through
 * `--remote`), or `process` (a `pipe exec-node` child process per stage, through `--remote`: a cluster's path
 * without a scheduler). The pipeline file's `executor:` block gives the same settings; each flag given on the
 * command line wins over the file. The choice becomes the Executor Layer a run is given.
 */
import { Options } from "@effect/cli"
import { Effect, Layer, Option } from "effect"
import { existsSync, realpathSync } from "node:fs"
import { dirname, isAbsolute, join, resolve } from "node:path"
import { StoreError, UsageError } from "../pipelines/errors.js"
import { Executor as ExecutorTag, type Executor } from "../pipelines/executor.js"
import type { Loaded } from "../pipelines/loader.js"
import { inThisProcess, localExecutor, machineShare } from "../pipelines/localExecutor.js"
import { EXECUTORS, type ExecutorKind } from "../pipelines/spec.js"
import { EXCHANGE } from "../cache/upkeep.js"
import { storeRoot } from "./options.js"

export const executorOpt = Options.choice("executor", EXECUTORS).pipe(
  Options.withDescription(
    "Where stages run: local (in this process, default), slurm (an sbatch job each, through a remote), process (a pipe exec-node child process each, so --jobs runs stages truly in parallel; through --remote, else the store's exchange/ directory). Overrides the pipeline file's executor.kind"
  ),
  Options.optional
)
export const remoteOpt = Options.text("remote").pipe(
  Options.withDescription(
    "The store the executor's jobs share: s3://bucket/prefix (credentials and endpoint from the AWS environment) or a directory on a shared file system. Overrides executor.remote"
  ),
  Options.optional
)
export const partitionOpt = Options.text("partition").pipe(
  Options.withDescription("The SLURM partition to submit to (default: executor.partition, else the cluster's)"),
  Options.optional
)
export const retriesOpt = Options.integer("retries").pipe(
  Options.withDescription("How often a job lost with its node (SLURM's NODE_FAIL) is resubmitted on another node (default: executor.retries, else 1)"),
  Options.optional
)

export const executorOptions = { executor: executorOpt, remote: remoteOpt, partition: partitionOpt, retries: retriesOpt }

export interface ExecutorFlags {
  readonly executor: Option.Option<ExecutorKind>
  readonly remote: Option.Option<string>
  readonly partition: Option.Option<string>
  readonly retries: Option.Option<number>
}

export interface Chosen {
  readonly kind: ExecutorKind
  readonly layer: Layer.Layer<Executor>
}

/** A remote opened and tried (a small record written and removed): an unusable one is exit 3. */
const openTried = (url: string) =>
  Effect.tryPromise({
    try: async () => {
      const { openRemote } = await import("../artifacts/remote.js")
      const opened = await openRemote(url, { create: true })
      const probe = `jobs/probe-${process.pid}.json`
      await opened.putJson(probe, { pid: process.pid })
      await opened.delete(probe)
      return opened
    },
    catch: (e) => new StoreError({ message: e instanceof Error ? e.message : String(e) })
  })

/** How to start `exec-node`: the light entry beside the built pipe when there is one (it starts faster), else `pipe exec-node`. */
const execNodeCommand = (): ReadonlyArray<string> => {
  // Through npm's bin link, argv[1] is the link: the entry lies beside what it points to.
  const light = join(dirname(realpathSync(process.argv[1]!)), "exec-node.mjs")
  return existsSync(light) ? [process.execPath, light] : [process.execPath, process.argv[1]!, "exec-node"]
}

/**
 * Stages run at once (a sweep's --jobs N) on the local executor: a stage whose kind works in pipe's own process
 * (`inProcess`) gets a process of its own (`exec-node`, through the store's exchange/ directory), so such stages
 * really run in parallel; the others (a command, already its own program) run as before.
 */
const parallelLocal = (exchange: string): Effect.Effect<Layer.Layer<Executor>, StoreError> =>
  Effect.gen(function* () {
    const [{ remoteExecutor }, { processLauncher }] = yield* Effect.promise(() => Promise.all([import("../pipelines/remoteExecutor.js"), import("../pipelines/launchers.js")]))
    const remote = yield* openTried(exchange)
    const apart = remoteExecutor({ remote, launcher: processLauncher(), execNode: execNodeCommand(), retries: 0 })
    return Layer.effect(
      ExecutorTag,
      Effect.gen(function* () {
        // One share of this machine for both kinds of stage: a process of its own still runs here.
        const share = yield* machineShare
        const here = inThisProcess(share)
        const own = yield* Effect.provide(ExecutorTag, apart)
        return { execute: (task) => (task.node.kind.inProcess ? share(task)(own.execute(task)) : here.execute(task)) }
      })
    )
  })

/**
 * The Executor Layer the flags and the pipeline file choose; opening the remote first (an unreachable one is
 * exit 3). `process` without a remote exchanges through the store's own `exchange/` directory (pipe gc empties it).
 * `parallel`: stages will run at once (a sweep with --jobs > 1), which the local executor takes into account.
 */
export const executorLayer = (flags: ExecutorFlags, loaded: Loaded, store: Option.Option<string>, parallel = false): Effect.Effect<Chosen, UsageError | StoreError> =>
  Effect.gen(function* () {
    const file = loaded.pipeline.executor
    const kind = Option.getOrElse(flags.executor, () => file?.kind ?? "local")
    // The file's settings go with the file's executor: `--executor local` on a slurm pipeline runs it here.
    const fromFile = file?.kind === kind ? file : undefined
    // A remote directory named in the file is relative to the file; one on the command line, to where pipe runs.
    const remote = Option.isSome(flags.remote)
      ? flags.remote.value
      : fromFile?.remote !== undefined && !/^[a-z0-9]+:\/\//i.test(fromFile.remote) && !isAbsolute(fromFile.remote)
        ? resolve(loaded.workspace, fromFile.remote)
        : (fromFile?.remote ?? (kind === "process" ? join(storeRoot(loaded, store), EXCHANGE) : undefined))
    const retries = Option.getOrElse(flags.retries, () => fromFile?.retries ?? 1)
    if (retries < 0 || retries > 10) return yield* new UsageError({ message: `--retries ${retries}: give 0 to 10` })
    if (kind === "local") {
      if (Option.isSome(flags.remote)) return yield* new UsageError({ message: "--remote is for --executor slurm or process; stages run here with the local executor" })
      if (Option.isSome(flags.partition)) return yield* new UsageError({ message: "--partition is for --executor slurm; stages run here with the local executor" })
      return { kind, layer: parallel ? yield* parallelLocal(join(storeRoot(loaded, store), EXCHANGE)) : localExecutor }
    }
    if (remote === undefined) {
      return yield* new UsageError({
        message: `--executor ${kind} needs a remote both sides reach: --remote s3://bucket/prefix (or a shared directory), or executor.remote in ${loaded.display}`
      })
    }
    if (kind !== "slurm" && Option.isSome(flags.partition)) return yield* new UsageError({ message: `--partition is for --executor slurm, not ${kind}` })
    const [{ remoteExecutor }, launchers] = yield* Effect.promise(() => Promise.all([import("../pipelines/remoteExecutor.js"), import("../pipelines/launchers.js")]))
    const r = yield* openTried(remote)
    const partition = Option.getOrUndefined(flags.partition) ?? fromFile?.partition
    const launcher =
      kind === "slurm"
        ? launchers.slurmLauncher({ ...(partition !== undefined ? { partition } : {}), ...(fromFile?.sbatch ? { extra: fromFile.sbatch } : {}) })
        : launchers.processLauncher()
    return { kind, layer: remoteExecutor({ remote: r, launcher, execNode: execNodeCommand(), retries }) }
  })
