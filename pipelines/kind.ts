/**
 * What a stage kind is: a typed definition the core can load, check, key and run without knowing what the
 * stage does. A kind declares its params Schema (with defaults), its kind-specific fields, an implementation
 * version (bump it whenever the code changes what the stage produces), the artifact types it takes and the
 * one it produces, and a lazily loaded run function, so heavy modules load only when that kind runs.
 * Adding a kind is one new file plus one line in `registry.ts`.
 */
import { Data, type Effect, Schema } from "effect"
import type { Spawn } from "./processGroup.js"

/** An input slot: which artifact type a stage takes there, and how many stages may fill it. */
export interface InputSlot {
  /** The artifact type accepted; "any" accepts every type. */
  readonly type: string
  /** Several needed stages may fill this slot. */
  readonly many?: boolean
  /** The slot may stay empty. */
  readonly optional?: boolean
}

/** A problem found in one stage's declaration, at a path relative to the stage. */
export interface StageIssue {
  readonly path: ReadonlyArray<string | number>
  readonly message: string
  readonly at?: "key" | "value"
}

/** A needed stage's output, materialised read-only for the running stage. */
export interface InputArtifact {
  readonly stage: string
  readonly slot: string
  readonly type: string
  readonly hash: string
  readonly dir: string
  /**
   * The headline figures of the run that produced this input (its StageMetrics, as kept with the run): where
   * timings live (training time, images/s, inference ms/image), which are kept out of artifacts so that the same
   * computation gives the same bytes. Not part of the key: use them only for what is shown (a report's
   * table), never for what is computed. Absent when the producing run recorded none.
   */
  readonly metrics?: StageMetrics
  /**
   * The run that produced this input (ran or restored from the cache): its number, and the pipe version and
   * workspace commit it ran with. Like `metrics`, for what is shown (a report's provenance), never for what is
   * computed, and not part of the key.
   */
  readonly producer?: { readonly run: number; readonly pipeVersion: string | null; readonly gitCommit: string | null }
}

export interface StageContext<C, P> {
  readonly stageId: string
  readonly config: C
  readonly params: P
  readonly inputs: ReadonlyArray<InputArtifact>
  /** An empty directory; everything in it when `run` succeeds becomes the stage's output artifact. */
  readonly outDir: string
  /**
   * A path outside `outDir` where the stage's program may write figures ($PIPE_METRICS for a command): one JSON
   * object, or JSON lines (one object per line, the last line the headline). Read and checked after the stage
   * succeeds, added to the figures `run` returns, and never part of the output artifact.
   */
  readonly metricsFile: string
  /** The directory holding the pipeline file; commands run there. */
  readonly workspace: string
  /** The run's log file; a kind appends its own output to it (or uses `log`). */
  readonly logFile: string
  /** A line for the run's log, also shown live with --verbose: progress of long work. */
  readonly log: (line: string) => void
  /**
   * Starts a program for the stage (execa's arguments; await the result as with execa). It leads a new
   * process group that is killed when it exits, when the stage is interrupted (`signal`) and when pipe dies.
   */
  readonly spawn: Spawn
  /** A one-line status of long work (e.g. a progress bar), redrawn in place on a terminal; ignored elsewhere. */
  readonly progress: (line: string) => void
  /** Where to echo the stage's output live as well (`pipe run --verbose`); stdout is kept clean under --json. */
  readonly echo: "none" | "stdout" | "stderr"
}

/** The expected way for a stage to fail: a message for the user, shown with the log's tail. */
export class StageError extends Data.TaggedError("StageError")<{ readonly message: string }> {}

/** Headline figures of a run (accuracy, loss, backend...): kept with the run, shown in `--json` events as `metrics`. */
export type StageMetrics = Readonly<Record<string, number | string | boolean | null>>

export interface StageRunner<C, P> {
  readonly run: (ctx: StageContext<C, P>) => Effect.Effect<void | StageMetrics, StageError>
}

export interface StageKind<
  K extends string = string,
  F extends Schema.Struct.Fields = Schema.Struct.Fields,
  P = any,
  Out extends string = string,
  In extends Readonly<Record<string, InputSlot>> = Readonly<Record<string, InputSlot>>,
  PI = any
> {
  readonly kind: K
  /** Implementation version: part of every key, so changed code never reuses old outputs. */
  readonly version: number
  readonly description: string
  /** Kind-specific keys of a stage besides kind, needs, params and description. */
  readonly fields: F
  /** Params as written (PI) and decoded with defaults applied (P). */
  readonly params: Schema.Schema<P, PI>
  readonly inputs: In
  readonly output: Out
  /**
   * The numeric figures the kind's runs report (what a sweep can rank by: `evaluate-mlp.test_accuracy`).
   * The most telling first (they are offered as examples). Absent when they cannot be known in advance (a command reports whatever its program writes).
   */
  readonly figures?: ReadonlyArray<string>
  /** Workspace files or directories whose content enters the key. */
  readonly deps?: (config: Schema.Struct.Type<F>) => ReadonlyArray<string>
  /**
   * Content hashes of inputs from outside the workspace that are known in advance (a data set's published
   * checksums), by name. They enter the key like deps; the stage must verify them when it runs.
   */
  readonly sources?: Readonly<Record<string, string>>
  /**
   * Params left out of the key because something else in it stands for them: where inputs were found (a
   * directory, a URL; their checksums are in the key), or a backend choice (the engine identity records the
   * backend actually used).
   */
  readonly unkeyedParams?: ReadonlyArray<string>
  /**
   * The params as they enter the key, when a default depends on other params (a model's own dropout): a value
   * equal to that default is dropped, so writing the default out does not change the key.
   */
  readonly keyParams?: (params: P) => P
  /** Cross-field checks after decoding (e.g. a placeholder naming a param that does not exist). */
  readonly check?: (stage: {
    readonly config: Schema.Struct.Type<F>
    readonly params: P
    /** The stages it needs, as declared: their id, kind, output type and decoded params. */
    readonly needs: ReadonlyArray<{ readonly id: string; readonly kind: string; readonly output: string; readonly params: unknown }>
  }) => ReadonlyArray<StageIssue>
  /** Identity of the engine/backend the stage would run on; part of the key when present. */
  readonly engine?: (
    config: Schema.Struct.Type<F>,
    params: P
  ) => Effect.Effect<Readonly<Record<string, string>>, StageError>
  readonly load: () => Promise<StageRunner<Schema.Struct.Type<F>, P>>
  /**
   * Its work runs in pipe's own process (JavaScript on the main thread), not in a program it starts. When
   * stages run at once (a sweep's --jobs N), the local executor gives each stage of such a kind a process of its
   * own (`pipe exec-node`), so they really run in parallel instead of taking turns on one thread.
   */
  readonly inProcess?: boolean
}

export type AnyStageKind = StageKind<string, any, any, string, Readonly<Record<string, InputSlot>>, any>

/** The kinds a pipeline may use, by name: the composition root builds it (stages/registry.ts), the core reads it. */
export type Registry = ReadonlyMap<string, AnyStageKind>

/** "Did you mean" for a kind's own checks (a misspelt param name in a command's argv). */
export { didYouMean } from "./suggest.js"

export const defineKind = <
  const K extends string,
  F extends Schema.Struct.Fields,
  P,
  const Out extends string,
  const In extends Readonly<Record<string, InputSlot>>,
  PI
>(
  kind: StageKind<K, F, P, Out, In, PI>
): StageKind<K, F, P, Out, In, PI> => kind

/** "a split", "an augmentation policy": artifact types as the user reads them. */
export const describeType = (type: string): string => {
  if (type === "any") return "any artifact"
  const words = type.replace(/[-_]/g, " ")
  return /^[aeiou]/i.test(words) ? `an ${words}` : `a ${words}`
}

/** What a kind takes, as a sentence fragment: "a split and an augmentation policy". */
export const describeInputs = (inputs: Readonly<Record<string, InputSlot>>): string => {
  const parts = Object.values(inputs).map((s) => {
    const t = describeType(s.type)
    return s.many ? `${t} (one or more)` : s.optional ? `${t} (optional)` : t
  })
  if (parts.length === 0) return "no inputs"
  if (parts.length === 1) return parts[0]!
  return `${parts.slice(0, -1).join(", ")} and ${parts.at(-1)}`
}
