/**
 * Running a sweep: every point is the pipeline with its overrides, run through the ordinary runner, up to
 * `jobs` points at a time. Stages whose key is the same in several points (download, split...) run once:
 * the others find the run in the cache, or wait on its key's lock and then find it. Events are reported once
 * per stage key; the summary counts each stage execution once. Each point is recorded with the sweep.
 */
import { Effect } from "effect"
import { Store } from "../cache/store.js"
import type { PipelineInvalid, UsageError } from "./errors.js"
import type { StageEvent, Summary } from "./events.js"
import { experimentOf } from "./experiment.js"
import type { Executor } from "./executor.js"
import type { Loaded } from "./loader.js"
import type { MetricRef } from "./metric.js"
import { runPipeline } from "./runner.js"
import type { Point } from "./sweep.js"

export interface PointResult {
  readonly point: Point
  readonly status: "ok" | "failed"
  readonly metric: number | null
  readonly ms: number
  /** The experiment the point was recorded as. */
  readonly experiment: number
}

export interface SweepReporter {
  /** A stage event seen for the first time (its key not yet reported by another point). */
  readonly stage: (event: StageEvent & { readonly point: number }) => void
  readonly point: (result: PointResult) => void
  /** A running stage's progress (see Reporter). */
  readonly progress?: (stage: string, line: string | null) => void
}

export interface SweepOptions {
  readonly load: (point: Point) => Effect.Effect<Loaded, PipelineInvalid | UsageError>
  readonly points: ReadonlyArray<Point>
  readonly targets: ReadonlyArray<string>
  readonly jobs: number
  /** How many stages of a kind may run at once (e.g. train: 1, so one training uses the GPU). */
  readonly kindLimits: Readonly<Record<string, number>>
  /** The figure each point is ranked by: from that point's run of that stage. */
  readonly metric?: MetricRef
  readonly sweepId: number
  readonly reporter: SweepReporter
  /** The command line, and the name (each point's experiment is NAME-N) and tags of its experiments. */
  readonly command: string
  readonly name?: string | undefined
  readonly tags?: ReadonlyArray<string>
}

/** The metric of a point: the figure of that point's run (ran or restored) of the metric's stage. */
export const pointMetric = (events: ReadonlyArray<StageEvent>, metric: MetricRef | undefined): number | null => {
  if (!metric) return null
  const v = events.find((e) => e.stage === metric.stage)?.metrics?.[metric.figure]
  return typeof v === "number" ? v : null
}

const rank: Record<StageEvent["status"], number> = { skipped: 0, cached: 1, failed: 2, ran: 3 }

/** One point's run, as a point runner takes it: the pipeline to run and the name of its experiment. */
export interface PointJob {
  readonly point: Point
  readonly load: Effect.Effect<Loaded, PipelineInvalid | UsageError>
  /** Its experiment's name (undefined: unnamed). */
  readonly name: string | undefined
}

/**
 * What runs a sweep's points, one or many at a time, sharing what they have in common: the per-kind limits
 * (one training at a time on this machine), the stage events reported once per key, and the counts.
 */
export const pointRunner = (
  opts: Omit<SweepOptions, "load" | "points" | "jobs" | "name">
): Effect.Effect<
  { readonly run: (job: PointJob) => Effect.Effect<PointResult, PipelineInvalid | UsageError, Store | Executor>; readonly counts: () => Omit<Summary, "ms"> },
  never,
  Store
> =>
  Effect.gen(function* () {
    const store = yield* Store
    const byKey = new Map<string, StageEvent>()
    const skipped = new Set<string>()
    const semaphores = new Map<string, Effect.Semaphore>()
    for (const [kind, n] of Object.entries(opts.kindLimits)) semaphores.set(kind, yield* Effect.makeSemaphore(n))
    const gate = (kind: string) => <A, E, R>(run: Effect.Effect<A, E, R>) => {
      const s = semaphores.get(kind)
      return s ? s.withPermits(1)(run) : run
    }

    const run = ({ point, load, name }: PointJob) =>
      Effect.gen(function* () {
        const loaded = yield* load
        const started = Date.now()
        const events: Array<StageEvent> = []
        yield* runPipeline({
          loaded,
          targets: opts.targets,
          force: false,
          gate,
          reporter: {
            started: () => {},
            waiting: () => {},
            ...(opts.reporter.progress ? { progress: opts.reporter.progress } : {}),
            finished: (e) => {
              events.push(e)
              if (e.key === null) {
                const id = `${e.stage}|${e.reason}`
                if (!skipped.has(id)) {
                  skipped.add(id)
                  opts.reporter.stage({ ...e, point: point.index })
                }
                return
              }
              const seen = byKey.get(e.key)
              if (!seen) opts.reporter.stage({ ...e, point: point.index })
              if (!seen || rank[e.status] > rank[seen.status]) byKey.set(e.key, e)
            }
          }
        })
        const failed = events.some((e) => e.status === "failed" || e.status === "skipped")
        const status = failed ? "failed" : "ok"
        const experiment = store.experiments.record(
          experimentOf(loaded, events, {
            name,
            tags: opts.tags ?? [],
            command: opts.command,
            sweep: { id: opts.sweepId, point: point.index + 1 }
          })
        ).id
        const result: PointResult = { point, status, metric: pointMetric(events, opts.metric), ms: Date.now() - started, experiment }
        store.records.recordPoint(
          opts.sweepId,
          point.index,
          point.params,
          result.status,
          result.metric,
          Object.fromEntries(events.map((e) => [e.stage, { ...(e.run !== undefined ? { run: e.run } : {}), key: e.key }]))
        )
        opts.reporter.point(result)
        return result
      })

    const counts = () => {
      const c = { ran: 0, cached: 0, failed: 0, skipped: skipped.size }
      for (const e of byKey.values()) if (e.status !== "skipped") c[e.status]++
      return c
    }
    return { run, counts }
  })

export const runSweep = (
  opts: SweepOptions
): Effect.Effect<{ summary: Summary; results: ReadonlyArray<PointResult> }, PipelineInvalid | UsageError, Store | Executor> =>
  Effect.gen(function* () {
    const t0 = Date.now()
    const runner = yield* pointRunner(opts)
    const results = yield* Effect.forEach(
      opts.points,
      (point) => runner.run({ point, load: opts.load(point), name: opts.name === undefined ? undefined : `${opts.name}-${point.index + 1}` }),
      { concurrency: Math.max(1, opts.jobs) }
    )
    return { summary: { ...runner.counts(), ms: Date.now() - t0 }, results }
  })
