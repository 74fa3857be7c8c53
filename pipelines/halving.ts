/**
 * Successive halving over a sweep's trials: every trial trains `min` epochs, the best 1/eta of them go on to
 * min*eta epochs, and so on up to `max`. Each rung of a trial is a node of the DAG: the training stage at that
 * rung's epochs, over a fixed horizon (schedule_epochs), needing a copy of itself at the rung before, whose model
 * it continues. So a promoted trial resumes instead of starting again, the copies are cache hits (they are the
 * earlier rungs' nodes), a rerun of the search runs nothing, and raising `max` trains only the new rungs.
 */
import { Effect } from "effect"
import type { StageCopy, Override } from "./overrides.js"
import type { Goal, MetricRef } from "./metric.js"
import type { Point } from "./sweep.js"
import { runSweep, type PointResult, type SweepOptions } from "./sweepRunner.js"

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

/**
 * The trials that go on from a rung: the best floor(n/eta) (at least one) by the metric's goal, ties to the
 * earlier trial; a trial without the figure (failed) never goes on. In trial order.
 */
export const promote = (results: ReadonlyArray<PointResult>, eta: number, goal: Goal): Array<Point> => {
  const scored = results.filter((r) => r.status === "ok" && r.metric !== null)
  const keep = Math.max(1, Math.floor(results.length / eta))
  const sign = goal === "min" ? 1 : -1
  return [...scored]
    .sort((a, b) => sign * (a.metric! - b.metric!) || a.point.index - b.point.index)
    .slice(0, keep)
    .map((r) => r.point)
    .sort((a, b) => a.index - b.index)
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

export interface HalvingOptions extends Omit<SweepOptions, "load" | "points" | "targets" | "metric" | "name"> {
  readonly points: ReadonlyArray<Point>
  /** A trial's pipeline with these extra overrides and stage copies. */
  readonly load: (point: Point, overrides: ReadonlyArray<Override>, copies: ReadonlyArray<StageCopy>) => ReturnType<SweepOptions["load"]>
  readonly stage: string
  readonly metric: MetricRef
  readonly goal: Goal
  readonly rungs: ReadonlyArray<number>
  readonly horizon: number
  readonly eta: number
  readonly name?: string | undefined
  /** A rung begins: its number, epochs and trials. */
  readonly rungStarted: (rung: number, epochs: number, trials: ReadonlyArray<Point>) => void
}

/** Runs the rungs one after another (the trials of a rung up to `jobs` at a time); each trial's outcome, in trial order. */
export const runHalving = (opts: HalvingOptions) =>
  Effect.gen(function* () {
    const outcome = new Map<number, TrialOutcome>()
    const counts = { ran: 0, cached: 0, failed: 0, skipped: 0 }
    const t0 = Date.now()
    let trials: ReadonlyArray<Point> = opts.points
    for (const [rung, epochs] of opts.rungs.entries()) {
      if (trials.length === 0) break
      opts.rungStarted(rung, epochs, trials)
      const { summary, results } = yield* runSweep({
        ...opts,
        points: trials,
        targets: [opts.stage],
        metric: opts.metric,
        name: opts.name === undefined ? undefined : `${opts.name}-r${rung + 1}`,
        load: (p) => opts.load(p, rungOverrides(opts.stage, epochs, opts.horizon), rungCopies(opts.stage, opts.rungs, rung))
      })
      counts.ran += summary.ran
      counts.cached += summary.cached
      counts.failed += summary.failed
      counts.skipped += summary.skipped
      const last = rung === opts.rungs.length - 1
      const next = last ? [] : promote(results, opts.eta, opts.goal)
      for (const r of results) {
        const status = r.status === "failed" ? "failed" : last || next.some((p) => p.index === r.point.index) ? "ok" : "stopped"
        outcome.set(r.point.index, { point: r.point, rung, epochs, status, metric: r.metric, experiment: r.experiment })
      }
      trials = next
    }
    return {
      outcomes: [...outcome.values()].sort((a, b) => a.point.index - b.point.index),
      summary: { ...counts, ms: Date.now() - t0 }
    }
  })
