/**
 * Successive halving over a sweep's trials: every trial trains `min` epochs, the best 1/eta of them go on to
 * min*eta epochs, and so on up to `max`. Each rung of a trial is a node of the DAG: the training stage at that
 * rung's epochs, over a fixed horizon (schedule_epochs), needing a copy of itself at the rung before, whose model
 * it continues. So a promoted trial resumes instead of starting again, the copies are cache hits (they are the
 * earlier rungs' nodes), a rerun of the search runs nothing, and raising `max` trains only the new rungs.
 *
 * Promotion is synchronous (a rung's best 1/eta go on once the whole rung is in) or asynchronous, as ASHA: a
 * trial goes on as soon as it is among the best 1/eta of the results in so far, so the next rung starts while the
 * first is still training. ASHA decides by whatever finished first; here a rung's results are taken in a fixed
 * order (trial order at the first rung, promotion order after it), a result waiting for those before it, so the
 * decisions do not depend on timing: the same search makes the same promotions at any --jobs, and a rerun, whose
 * results come from the cache in another order, makes them again and trains nothing.
 */
import { Effect, Exit, Queue } from "effect"
import type { StageCopy, Override } from "./overrides.js"
import type { Goal, MetricRef } from "./metric.js"
import type { Point } from "./sweep.js"
import type { PipelineInvalid, UsageError } from "./errors.js"
import { pointRunner, type PointResult, type SweepOptions, type SweepReporter } from "./sweepRunner.js"

/** The epochs of each rung: min, min*eta, min*eta^2... while below max, then max. */
export const rungEpochs = (min: number, max: number, eta: number): Array<number> => {
  const out: Array<number> = []
  for (let e = min; e < max; e *= eta) out.push(e)
  out.push(max)
  return out
}

/** The id of the copy of `stage` that trains `epochs` epochs (a rung before the last). */
export const rungId = (stage: string, epochs: number) => `${stage}_e${epochs}`

/** The stage copies a trial's pipeline needs to run `stage` at rung `rung`: the rungs before it, each continuing the one before. */
export const rungCopies = (stage: string, rungs: ReadonlyArray<number>, rung: number): Array<StageCopy> =>
  rungs.slice(0, rung).map((epochs, i) => ({
    id: rungId(stage, epochs),
    from: stage,
    params: { epochs },
    needs: i === 0 ? [] : [rungId(stage, rungs[i - 1]!)]
  }))

/** The overrides that make `stage` train `epochs` epochs over `horizon`. */
export const rungOverrides = (stage: string, epochs: number, horizon: number): Array<Override> => [
  { stage, param: "epochs", value: epochs, text: `${stage}.epochs=${epochs}`, from: "halving rung" },
  { stage, param: "schedule_epochs", value: horizon, text: `${stage}.schedule_epochs=${horizon}`, from: "halving rung" }
]

/** The best `n` of a rung's results by the goal (ties to the earlier trial); failed ones and those without the figure never. */
const best = (results: ReadonlyArray<PointResult>, n: number, goal: Goal): Array<PointResult> => {
  const sign = goal === "min" ? 1 : -1
  return results
    .filter((r) => r.status === "ok" && r.metric !== null)
    .sort((a, b) => sign * (a.metric! - b.metric!) || a.point.index - b.point.index)
    .slice(0, n)
}

/**
 * The promotion book of a halving search: which trial goes on to which rung, from the results of the rungs
 * below, in an order that does not depend on when they finished (see the module's comment). `done` takes a
 * finished (trial, rung) and gives the trials that go on because of it, in the order they are to run.
 */
export class Promotions {
  /** Per rung: the trials that entered it, in the order its results are taken. */
  private readonly entered: Array<Array<Point>>
  private readonly finished: Array<Map<number, PointResult>>
  /** Per rung: the results taken so far, in order. */
  private readonly taken: Array<Array<PointResult>>
  private readonly promoted: Array<Set<number>>
  private readonly closed: Array<boolean>

  constructor(
    trials: ReadonlyArray<Point>,
    private readonly rungs: number,
    private readonly eta: number,
    private readonly goal: Goal,
    private readonly asynchronous: boolean
  ) {
    this.entered = Array.from({ length: rungs }, (_, k) => (k === 0 ? [...trials] : []))
    this.finished = Array.from({ length: rungs }, () => new Map())
    this.taken = Array.from({ length: rungs }, () => [])
    this.promoted = Array.from({ length: rungs }, () => new Set())
    this.closed = Array.from({ length: rungs }, () => false)
  }

  /** Trial `result.point` finished rung `rung`: the (trial, rung) pairs that may now run. */
  done(rung: number, result: PointResult): Array<{ readonly point: Point; readonly rung: number }> {
    this.finished[rung]!.set(result.point.index, result)
    const out: Array<{ point: Point; rung: number }> = []
    this.take(rung, out)
    return out
  }

  private take(rung: number, out: Array<{ point: Point; rung: number }>) {
    const entered = this.entered[rung]!
    const taken = this.taken[rung]!
    while (taken.length < entered.length && this.finished[rung]!.has(entered[taken.length]!.index)) {
      taken.push(this.finished[rung]!.get(entered[taken.length]!.index)!)
      if (this.asynchronous && rung < this.rungs - 1) this.promote(rung, best(taken, Math.floor(taken.length / this.eta), this.goal), out)
    }
    this.close(rung, out)
  }

  /** A rung is closed when the one below is and all that entered it are taken: then at least the best one goes on. */
  private close(rung: number, out: Array<{ point: Point; rung: number }>) {
    if (this.closed[rung] || (rung > 0 && !this.closed[rung - 1]) || this.taken[rung]!.length < this.entered[rung]!.length) return
    this.closed[rung] = true
    if (rung === this.rungs - 1) return
    const n = this.taken[rung]!.length
    this.promote(rung, best(this.taken[rung]!, this.asynchronous && this.promoted[rung]!.size > 0 ? 0 : Math.max(1, Math.floor(n / this.eta)), this.goal), out)
    this.take(rung + 1, out)
  }

  private promote(rung: number, results: ReadonlyArray<PointResult>, out: Array<{ point: Point; rung: number }>) {
    for (const r of results) {
      if (this.promoted[rung]!.has(r.point.index)) continue
      this.promoted[rung]!.add(r.point.index)
      this.entered[rung + 1]!.push(r.point)
      out.push({ point: r.point, rung: rung + 1 })
    }
  }
}

export interface TrialOutcome {
  readonly point: Point
  /** The last rung it ran (0-based) and its epochs there. */
  readonly rung: number
  readonly epochs: number
  /** ok: it reached the last rung; stopped: it was not promoted; failed. */
  readonly status: "ok" | "stopped" | "failed"
  readonly metric: number | null
  readonly experiment: number
}

export interface HalvingReporter extends Omit<SweepReporter, "point"> {
  /** A trial finished a rung (0-based) of that many epochs. */
  readonly trial: (result: PointResult, rung: number, epochs: number) => void
  /** Trials go on to a rung: synchronous promotion, once per rung with all of them (the first rung too). */
  readonly rung?: (rung: number, epochs: number, trials: ReadonlyArray<Point>) => void
  /** A trial goes on to a rung: asynchronous promotion, as it happens. */
  readonly promoted?: (point: Point, rung: number, epochs: number) => void
}

export interface HalvingOptions extends Omit<SweepOptions, "load" | "points" | "targets" | "metric" | "name" | "reporter"> {
  readonly points: ReadonlyArray<Point>
  /** A trial's pipeline with these extra overrides and stage copies. */
  readonly load: (point: Point, overrides: ReadonlyArray<Override>, copies: ReadonlyArray<StageCopy>) => ReturnType<SweepOptions["load"]>
  readonly stage: string
  readonly metric: MetricRef
  readonly goal: Goal
  readonly rungs: ReadonlyArray<number>
  readonly horizon: number
  readonly eta: number
  /** Promote as results come in (ASHA) rather than once a rung is complete. */
  readonly asynchronous: boolean
  readonly name?: string | undefined
  readonly reporter: HalvingReporter
}

/**
 * Runs a halving search, up to `jobs` trainings' pipelines at a time, a promoted trial before a new one; each
 * trial's outcome, in trial order.
 */
export const runHalving = (opts: HalvingOptions) =>
  Effect.gen(function* () {
    const t0 = Date.now()
    const runner = yield* pointRunner({ ...opts, targets: [opts.stage], metric: opts.metric, reporter: { ...opts.reporter, point: () => {} } })
    const book = new Promotions(opts.points, opts.rungs.length, opts.eta, opts.goal, opts.asynchronous)
    const last = new Map<number, { rung: number; result: PointResult }>()
    // Promoted (trial, rung) pairs waiting for a slot, and the next trial to start at the first rung.
    const waiting: Array<{ readonly point: Point; readonly rung: number }> = []
    let next = 0
    const pick = () => {
      if (waiting.length > 0) {
        const top = Math.max(...waiting.map((w) => w.rung))
        return waiting.splice(waiting.findIndex((w) => w.rung === top), 1)[0]
      }
      // Synchronous: the first rung's trials all start at once, as the rungs after it do.
      return next < opts.points.length ? { point: opts.points[next++]!, rung: 0 } : undefined
    }
    // Each trial's exit, a failure or a defect included: a trial that dies must end the search, not leave it waiting.
    const finished = yield* Queue.unbounded<{ readonly rung: number; readonly result: Exit.Exit<PointResult, PipelineInvalid | UsageError> }>()
    let running = 0
    const launch = Effect.gen(function* () {
      for (let job = running < Math.max(1, opts.jobs) ? pick() : undefined; job; job = running < Math.max(1, opts.jobs) ? pick() : undefined) {
        const { point, rung } = job
        const epochs = opts.rungs[rung]!
        running++
        yield* Effect.fork(
          runner
            .run({
              point,
              load: opts.load(point, rungOverrides(opts.stage, epochs, opts.horizon), rungCopies(opts.stage, opts.rungs, rung)),
              name: opts.name === undefined ? undefined : `${opts.name}-r${rung + 1}-${point.index + 1}`
            })
            .pipe(
              Effect.exit,
              Effect.flatMap((result) => Queue.offer(finished, { rung, result }))
            )
        )
      }
    })
    if (!opts.asynchronous) opts.reporter.rung?.(0, opts.rungs[0]!, opts.points)
    yield* launch
    while (running > 0) {
      const { rung, result } = yield* Queue.take(finished)
      running--
      if (Exit.isFailure(result)) return yield* Effect.failCause(result.cause)
      last.set(result.value.point.index, { rung, result: result.value })
      opts.reporter.trial(result.value, rung, opts.rungs[rung]!)
      const promoted = book.done(rung, result.value)
      if (opts.asynchronous) for (const p of promoted) opts.reporter.promoted?.(p.point, p.rung, opts.rungs[p.rung]!)
      else if (promoted.length > 0) opts.reporter.rung?.(promoted[0]!.rung, opts.rungs[promoted[0]!.rung]!, promoted.map((p) => p.point))
      waiting.push(...promoted)
      yield* launch
    }
    const outcomes = [...last.values()]
      .map(({ rung, result }): TrialOutcome => {
        const status = result.status === "failed" ? "failed" : rung === opts.rungs.length - 1 ? "ok" : "stopped"
        return { point: result.point, rung, epochs: opts.rungs[rung]!, status, metric: result.metric, experiment: result.experiment }
      })
      .sort((a, b) => a.point.index - b.point.index)
    return { outcomes, summary: { ...runner.counts(), ms: Date.now() - t0 } }
  })
