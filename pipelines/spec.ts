/**
 * The Schema of pipeline.yaml: a top-level struct and, per stage kind, a struct of the common keys
 * (kind, needs, params, description) plus the kind's own fields. The same schemas decode YAML, decode
 * pipelines composed in TypeScript, and produce the JSON Schema that `pipe schema` prints.
 */
import { JSONSchema, Schema } from "effect"
import type { AnyStageKind } from "./kind.js"
import type { Registry } from "./kind.js"

export const STAGE_ID = /^[A-Za-z_][A-Za-z0-9_-]*$/

export const StageId = Schema.String.pipe(
  Schema.pattern(STAGE_ID, {
    description: "a stage id (letters, digits, '_' or '-', not starting with a digit)"
  })
)

/** Whether higher or lower is better. */
export const Goal = Schema.String.pipe(
  Schema.filter((g) => g === "max" || g === "min", { description: "max (higher is better) or min (lower is better)" })
) as unknown as Schema.Schema<"max" | "min", string>

/** The figure sweeps rank by: `{ name: evaluate-mlp.test_accuracy, goal: max }`. */
export const MetricSpec = Schema.Struct({
  name: Schema.String.annotations({ description: "STAGE.FIGURE, e.g. evaluate-mlp.test_accuracy" }),
  goal: Schema.optionalWith(Goal, { exact: true })
}).annotations({ description: "a metric: { name: STAGE.FIGURE, goal: max|min }" })

/** A sweep declared in the pipeline file: `sweeps: { lr-model: { grid: { train.lr: [0.001, 0.01] } } }`. */
export const SweepSpec = Schema.Struct({
  description: Schema.optionalWith(Schema.String, { exact: true }),
  grid: Schema.Record({
    key: Schema.String,
    value: Schema.Union(
      Schema.Array(Schema.Unknown).annotations({ description: "a list of values" }),
      Schema.String.annotations({ description: "values as on the command line, e.g. log(1e-4,1e-1,4)" })
    )
  }).annotations({ description: "a map of params (STAGE.PARAM or PARAM) to their values" }),
  metric: Schema.optionalWith(Schema.String.annotations({ description: "STAGE.FIGURE, e.g. evaluate-mlp.test_accuracy" }), {
    exact: true
  }),
  goal: Schema.optionalWith(Goal, { exact: true }),
  max_points: Schema.optionalWith(
    Schema.Int.pipe(Schema.positive()).annotations({ description: "the most points the grid may have (default 1000)" }),
    { exact: true }
  ),
  search: Schema.optionalWith(Schema.Literal("grid", "random", "asha").annotations({ description: "grid, random or asha" }), { exact: true }),
  min_epochs: Schema.optionalWith(Schema.Int.pipe(Schema.positive()).annotations({ description: "search: asha's first rung, in epochs (default 1)" }), {
    exact: true
  }),
  max_epochs: Schema.optionalWith(Schema.Int.pipe(Schema.positive()).annotations({ description: "search: asha's last rung, in epochs" }), {
    exact: true
  }),
  eta: Schema.optionalWith(Schema.Int.pipe(Schema.greaterThanOrEqualTo(2)).annotations({ description: "search: asha keeps 1/eta at each rung (default 3)" }), {
    exact: true
  }),
  trials: Schema.optionalWith(Schema.Int.pipe(Schema.positive()).annotations({ description: "how many trials search: random draws" }), {
    exact: true
  }),
  seed: Schema.optionalWith(Schema.Int.pipe(Schema.nonNegative()).annotations({ description: "the seed of search: random's draws" }), {
    exact: true
  })
}).annotations({ description: "a sweep (grid, and optionally metric, goal, description, max_points, search, trials, seed, min_epochs, max_epochs and eta)" })

export type SweepSpec = Schema.Schema.Type<typeof SweepSpec>

/** SLURM's time formats: minutes, MM:SS, HH:MM:SS, D-HH, D-HH:MM, D-HH:MM:SS. */
const SLURM_TIME = /^(\d+|\d+:\d{1,2}|\d+:\d{1,2}:\d{1,2}|\d+-\d+|\d+-\d+:\d{1,2}|\d+-\d+:\d{1,2}:\d{1,2})$/

/**
 * What a stage needs to run: `resources: { cpus: 4, gpus: 1, mem: 16G, time: "2:00:00" }`. A scheduler gets
 * them as job options; the local executor runs no more stages at once than this machine's CPUs and GPUs hold.
 * They do not enter the stage's key: the same stage with more memory makes the same artifact.
 */
export const Resources = Schema.Struct({
  cpus: Schema.optionalWith(Schema.Int.pipe(Schema.positive()).annotations({ description: "a positive whole number of CPUs" }), { exact: true }),
  gpus: Schema.optionalWith(Schema.Int.pipe(Schema.nonNegative()).annotations({ description: "a whole number of GPUs (0 or more)" }), { exact: true }),
  mem: Schema.optionalWith(
    Schema.Union(Schema.Number, Schema.String).pipe(
      Schema.filter((v) => (typeof v === "number" ? Number.isInteger(v) && v > 0 : /^[1-9][0-9]*[KMGT]?$/.test(v)), {
        description: "memory as megabytes (4096) or with a unit K, M, G or T (16G)"
      })
    ),
    { exact: true }
  ),
  time: Schema.optionalWith(
    Schema.Union(Schema.Number, Schema.String).pipe(
      Schema.filter((v) => (typeof v === "number" ? Number.isInteger(v) && v > 0 : SLURM_TIME.test(v)), {
        description: "a time limit as minutes (90) or as MM:SS, HH:MM:SS, D-HH, D-HH:MM or D-HH:MM:SS"
      })
    ),
    { exact: true }
  )
}).annotations({ description: "resources: { cpus, gpus, mem, time }" })

export type Resources = Schema.Schema.Type<typeof Resources>

export const EXECUTORS = ["local", "slurm", "process"] as const
export type ExecutorKind = (typeof EXECUTORS)[number]

/**
 * Where stages run, as the pipeline file says it (the command line's --executor, --remote, --partition and
 * --retries win over it): `executor: { kind: slurm, remote: s3://bucket/prefix, partition: gpu }`.
 */
export const ExecutorSpec = Schema.Struct({
  kind: Schema.Literal(...EXECUTORS).annotations({ description: "local, slurm or process" }),
  remote: Schema.optionalWith(
    Schema.String.pipe(Schema.minLength(1)).annotations({ description: "s3://bucket/prefix, or a directory the nodes share (relative to the pipeline file)" }),
    { exact: true }
  ),
  partition: Schema.optionalWith(Schema.String.pipe(Schema.pattern(/^[A-Za-z0-9_.,-]+$/)).annotations({ description: "a SLURM partition name" }), {
    exact: true
  }),
  retries: Schema.optionalWith(Schema.Int.pipe(Schema.between(0, 10)).annotations({ description: "how often a job lost with its node is resubmitted (0 to 10)" }), {
    exact: true
  }),
  sbatch: Schema.optionalWith(
    Schema.Array(Schema.String.pipe(Schema.pattern(/^--[a-z][a-z-]*(=.*)?$/)).annotations({ description: "an sbatch option in its long form, e.g. --account=lab" })),
    { exact: true }
  )
}).annotations({ description: "an executor: { kind: local|slurm|process, remote, partition, retries, sbatch }" })

export type ExecutorSpec = Schema.Schema.Type<typeof ExecutorSpec>

/**
 * The sbatch options pipe sets itself, with where their value comes from: the pipeline file's `executor.sbatch`
 * may not give them (validation says so), since pipe finds, watches and places its jobs by them.
 */
export const OWN_SBATCH_OPTIONS: Readonly<Record<string, string>> = {
  "job-name": "pipe names each job after its stage's key",
  comment: "pipe marks each job with its remote",
  output: "the stage's log travels through the remote",
  error: "the stage's log travels through the remote",
  parsable: "pipe reads the job id",
  wrap: "pipe gives the command",
  requeue: "pipe resubmits a job lost with its node itself (executor.retries)",
  "no-requeue": "pipe resubmits a job lost with its node itself (executor.retries)",
  exclude: "pipe excludes the nodes a job was lost with",
  partition: "use executor.partition or --partition",
  "cpus-per-task": "use a stage's resources.cpus",
  gres: "use a stage's resources.gpus",
  gpus: "use a stage's resources.gpus",
  mem: "use a stage's resources.mem",
  time: "use a stage's resources.time",
  array: "each stage is one job",
  wait: "pipe watches its jobs itself",
  chdir: "the stage runs in its own scratch directory"
}

export const TopLevel = Schema.Struct({
  name: Schema.String.pipe(Schema.minLength(1, { description: "a non-empty pipeline name" })),
  description: Schema.optionalWith(Schema.String, { exact: true }),
  stages: Schema.Record({ key: Schema.String, value: Schema.Unknown }).annotations({
    description: "a map of stage ids to stages"
  }),
  metric: Schema.optionalWith(MetricSpec, { exact: true }),
  sweeps: Schema.optionalWith(Schema.Record({ key: Schema.String, value: SweepSpec }), { exact: true }),
  executor: Schema.optionalWith(ExecutorSpec, { exact: true })
})

const stageSchemas = new WeakMap<AnyStageKind, Schema.Schema<any, any>>()


/** The full schema of one stage of this kind (cached: building schemas is not free). */
export const stageSchema = (kind: AnyStageKind): Schema.Schema<any, any> => {
  let s = stageSchemas.get(kind)
  if (!s) {
    s = (Schema.Struct as unknown as (f: Schema.Struct.Fields) => Schema.Schema<any, any>)({
      kind: Schema.Literal(kind.kind),
      description: Schema.optionalWith(Schema.String, { exact: true }),
      needs: Schema.optionalWith(Schema.Array(StageId).annotations({ description: "a list of stage ids" }), {
        exact: true
      }),
      params: Schema.optionalWith(kind.params, { exact: true }),
      resources: Schema.optionalWith(Resources, { exact: true }),
      ...kind.fields
    }).annotations({ title: kind.kind, description: kind.description })
    stageSchemas.set(kind, s)
  }
  return s!
}

/** JSON Schema (draft-07) of pipeline.yaml for the given kinds, for editors. */
export const pipelineJsonSchema = (registry: Registry): object => {
  const kinds = [...registry.values()]
  const stage = kinds.length === 1 ? stageSchema(kinds[0]!) : Schema.Union(...kinds.map(stageSchema))
  const doc = Schema.Struct({
    name: Schema.String.annotations({ description: "the pipeline's name" }),
    description: Schema.optional(Schema.String),
    stages: Schema.Record({ key: StageId, value: stage }),
    metric: Schema.optionalWith(MetricSpec, { exact: true }),
    sweeps: Schema.optionalWith(Schema.Record({ key: Schema.String, value: SweepSpec }), { exact: true }),
    executor: Schema.optionalWith(ExecutorSpec, { exact: true })
  }).annotations({ title: "pipe pipeline", description: "pipeline.yaml: stages, their params and what they need" })
  return JSONSchema.make(doc)
}

/** The kind-specific fields alone: encoding them gives the canonical config that enters the key. */
export const configSchema = (kind: AnyStageKind): Schema.Schema<any, any> =>
  (Schema.Struct as unknown as (f: Schema.Struct.Fields) => Schema.Schema<any, any>)(kind.fields)
