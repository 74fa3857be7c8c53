/**
 * The sweep history: each recorded sweep with its points summed up (statuses, the best point by the metric
 * it ranked by), the runs its points name that are no longer in the store, and the sweeps gc dropped.
 */
import type { Db } from "./db.js"

export interface SweepPointInfo {
  /** Numbered from 1, as pipe sweep prints them. */
  readonly point: number
  readonly params: Readonly<Record<string, unknown>>
  readonly status: string
  readonly metric: number | null
  /** Each stage's run, as the point recorded it (undefined when the stage did not run). */
  readonly runs: Readonly<Record<string, number | undefined>>
  /** In a halving search: the rung it reached (1-based) and its epochs there. */
  readonly rung?: number
  readonly epochs?: number
}

/**
 * How a sweep chose its points when not as a full grid: `trials` drawn with `seed`, `points` of them distinct
 * (random); or a halving search (asha) over those trials (or the grid's points), with its rungs' epochs and eta.
 */
export interface SweepSearch {
  readonly search: "random" | "asha"
  readonly trials?: number
  readonly seed?: number
  readonly points: number
  readonly eta?: number
  readonly rungs?: ReadonlyArray<number>
  readonly metric?: string
  /** A halving search's promotion: once a rung is complete (sync), or as results come in (async, with --jobs above 1). */
  readonly promotion?: "sync" | "async"
}

export interface SweepSummary {
  readonly id: number
  readonly pipeline: string
  readonly command: string
  /** Each param's values, or (for a sampled sweep) the distribution it was drawn from, as text. */
  readonly grid: Readonly<Record<string, ReadonlyArray<unknown> | string>>
  /** Null for a full grid. */
  readonly search: SweepSearch | null
  readonly createdAt: number
  /** The figure its points were ranked by (null for sweeps recorded before pipe kept it), and whether higher or lower is better. */
  readonly metric: string | null
  readonly goal: "max" | "min" | null
  /** Points in the grid, and how many finished (have a record). */
  readonly planned: number
  readonly recorded: number
  /** Recorded points by status ("ok", "failed"). */
  readonly statuses: Readonly<Record<string, number>>
  /** The point with the best metric (the highest, or the lowest when the sweep's goal is min). */
  readonly best: SweepPointInfo | null
  /** Runs its points name that are no longer in the store. */
  readonly missingRuns: number
}

export interface DroppedSweep {
  readonly id: number
  readonly pipeline: string
  readonly command: string
  readonly createdAt: number
  readonly droppedAt: number
}

interface SweepRow {
  id: number
  pipeline: string
  command: string
  grid: string
  created_at: number
  metric: string | null
  goal: string | null
  search: string | null
}

interface PointRow {
  point: number
  params: string
  status: string
  metric: number | null
  runs: string
  rung: number | null
  epochs: number | null
}

const pointInfo = (p: PointRow): SweepPointInfo => ({
  point: p.point + 1,
  params: JSON.parse(p.params) as Record<string, unknown>,
  status: p.status,
  metric: p.metric,
  runs: Object.fromEntries(
    Object.entries(JSON.parse(p.runs) as Record<string, { run?: number }>).map(([stage, r]) => [stage, r.run])
  ),
  ...(p.rung !== null ? { rung: p.rung } : {}),
  ...(p.epochs !== null ? { epochs: p.epochs } : {})
})

const SWEEP_COLUMNS = "id, pipeline, command, grid, created_at, metric, goal, search"

/** The sweeps of a store, as their records say (the writes are Records.beginSweep and recordPoint). */
export class Sweeps {
  private readonly s

  constructor(db: Db) {
    this.s = {
      points: db.prepare<[number], PointRow>("SELECT point, params, status, metric, runs, rung, epochs FROM sweep_points WHERE sweep_id = ? ORDER BY point"),
      present: db.prepare<[string], { id: number }>("SELECT id FROM runs WHERE id IN (SELECT value FROM json_each(?))"),
      all: db.prepare<[], SweepRow>(`SELECT ${SWEEP_COLUMNS} FROM sweeps ORDER BY id DESC`),
      ofPipeline: db.prepare<[string], SweepRow>(`SELECT ${SWEEP_COLUMNS} FROM sweeps WHERE pipeline = ? ORDER BY id DESC`),
      one: db.prepare<[number], SweepRow>(`SELECT ${SWEEP_COLUMNS} FROM sweeps WHERE id = ?`),
      dropped: db.prepare<[number], { id: number; pipeline: string; command: string; created_at: number; dropped_at: number }>(
        "SELECT id, pipeline, command, created_at, dropped_at FROM dropped_sweeps WHERE id = ?"
      )
    }
  }

  /**
   * A sweep's points best first: the furthest rung (a halving search), then the metric by the sweep's goal, points
   * without the figure last, then in point order.
   */
  ranked(sweep: SweepSummary): Array<SweepPointInfo> {
    const sign = sweep.goal === "min" ? 1 : -1
    return this.points(sweep.id).sort(
      (x, y) =>
        (y.rung ?? 0) - (x.rung ?? 0) ||
        (x.metric === null ? 1 : 0) - (y.metric === null ? 1 : 0) ||
        sign * ((x.metric ?? 0) - (y.metric ?? 0)) ||
        x.point - y.point
    )
  }

  /** Every point of a sweep that finished, in order. */
  points(sweep: number): Array<SweepPointInfo> {
    return this.s.points.all(sweep).map(pointInfo)
  }

  /** The runs a sweep's points name that are no longer in the store (removed by a gc that did not keep sweeps). */
  missingRuns(points: ReadonlyArray<SweepPointInfo>): Array<{ point: number; stage: string; run: number }> {
    const named = points.flatMap((p) =>
      Object.entries(p.runs).flatMap(([stage, run]) => (run === undefined ? [] : [{ point: p.point, stage, run }]))
    )
    const present = new Set(this.s.present.all(JSON.stringify([...new Set(named.map((n) => n.run))])).map((r) => r.id))
    return named.filter((n) => !present.has(n.run))
  }

  private summary(s: SweepRow): SweepSummary {
    const points = this.points(s.id)
    const grid = JSON.parse(s.grid) as Record<string, ReadonlyArray<unknown> | string>
    const search = s.search === null ? null : (JSON.parse(s.search) as SweepSearch)
    const statuses: Record<string, number> = {}
    for (const p of points) statuses[p.status] = (statuses[p.status] ?? 0) + 1
    // In a halving search, the furthest rung first: a figure after more epochs is not comparable with one after fewer.
    const better = (x: SweepPointInfo, y: SweepPointInfo) =>
      (x.rung ?? 0) !== (y.rung ?? 0) ? (x.rung ?? 0) > (y.rung ?? 0) : s.goal === "min" ? x.metric! < y.metric! : x.metric! > y.metric!
    const best = points.reduce<SweepPointInfo | null>((b, p) => (p.metric !== null && (b === null || better(p, b)) ? p : b), null)
    return {
      id: s.id,
      pipeline: s.pipeline,
      command: s.command,
      grid,
      search,
      createdAt: s.created_at,
      metric: s.metric,
      goal: s.goal === "min" || s.goal === "max" ? s.goal : null,
      planned: search ? search.points : Object.values(grid).reduce((n, values) => n * (Array.isArray(values) ? values.length : 1), 1),
      recorded: points.length,
      statuses,
      best,
      missingRuns: new Set(this.missingRuns(points).map((m) => m.run)).size
    }
  }

  /** Every recorded sweep, newest first (of one pipeline when given). */
  list(pipeline?: string): Array<SweepSummary> {
    return (pipeline === undefined ? this.s.all.all() : this.s.ofPipeline.all(pipeline)).map((s) => this.summary(s))
  }

  /** One sweep's summary, if it is recorded. */
  get(id: number): SweepSummary | undefined {
    const s = this.s.one.get(id)
    return s && this.summary(s)
  }

  /** What is left of a sweep gc dropped. */
  dropped(id: number): DroppedSweep | undefined {
    const d = this.s.dropped.get(id)
    return d && { id: d.id, pipeline: d.pipeline, command: d.command, createdAt: d.created_at, droppedAt: d.dropped_at }
  }
}
