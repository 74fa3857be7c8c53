/**
 * Experiments: each `pipe run` and each sweep point, with an id, an optional name and tags, the effective params
 * of every stage it used and the figures every stage reported, both stage-qualified (`train-mlp.lr`,
 * `evaluate-mlp.test_accuracy`), and the run of each stage. Params and figures are copied into the experiment's
 * row, so the history stays queryable after gc has removed the runs themselves.
 *
 * Which experiments a query selects is expFilter.ts's; comparing two is expDiff.ts's.
 */
import type { Db } from "./db.js"
import { RefError } from "./errors.js"
import { experimentsSql, keyPath, type ExpField, type ExpFilter } from "./expFilter.js"

export interface ExperimentDraft {
  readonly pipeline: string
  readonly name?: string | undefined
  readonly tags?: ReadonlyArray<string>
  /** The command line that made it (`pipe run --set ...`, `pipe sweep ...`). */
  readonly command: string
  /** The sweep point it is, for a sweep's points (point numbered from 1). */
  readonly sweep?: { readonly id: number; readonly point: number }
  readonly status: "ok" | "failed"
  /** Stage-qualified params: { "train-mlp.lr": 0.001 }. */
  readonly params: Readonly<Record<string, unknown>>
  /** Stage-qualified figures: { "evaluate-mlp.test_accuracy": 0.81 }. */
  readonly metrics: Readonly<Record<string, unknown>>
  /** The run of each stage that ran or was restored. */
  readonly runs: Readonly<Record<string, number>>
  readonly gitCommit: string | null
  readonly pipeVersion: string | null
}

export interface ExperimentInfo {
  readonly id: number
  readonly pipeline: string
  readonly name: string | null
  readonly tags: ReadonlyArray<string>
  readonly createdAt: number
  readonly status: string
  readonly command: string
  readonly sweep: number | null
  readonly point: number | null
  readonly gitCommit: string | null
  readonly pipeVersion: string | null
  readonly params: Readonly<Record<string, unknown>>
  readonly metrics: Readonly<Record<string, unknown>>
  readonly runs: Readonly<Record<string, number>>
  /** Runs it names that gc has removed (its params and figures stay here). */
  readonly runsGone: number
}

interface Row {
  id: number
  pipeline: string
  name: string | null
  created_at: number
  status: string
  command: string
  sweep_id: number | null
  point: number | null
  git_commit: string | null
  pipe_version: string | null
  params: string
  metrics: string
  runs: string
}

/** How experiments are shown and referred to: e12. */
export const expLabel = (id: number): string => `e${id}`

/** Tags and names are words a person types: letters, digits, `.`, `_`, `-`, `:`, `/`, `@`, `+`. */
const WORD = /^[A-Za-z0-9_][A-Za-z0-9_.:/@+-]{0,99}$/

export const checkWord = (what: "name" | "tag", w: string): string => {
  if (!WORD.test(w)) {
    throw new RefError(
      `invalid ${what} '${w}': use letters, digits and . _ - : / @ + (up to 100, not starting with a symbol), e.g. baseline or lr-sweep/2`
    )
  }
  if (/^e\d+$/.test(w)) throw new RefError(`invalid ${what} '${w}': e<number> is how experiments are numbered; pick another`)
  return w
}

/** The experiments of a store, read and written. */
export class Experiments {
  private readonly s

  constructor(private readonly db: Db) {
    this.s = {
      lastPlain: db.prepare<[string], Row>("SELECT * FROM experiments WHERE pipeline = ? AND sweep_id IS NULL ORDER BY id DESC LIMIT 1"),
      insert: db.prepare(
        `INSERT INTO experiments (pipeline, name, created_at, status, command, sweep_id, point, git_commit, pipe_version, params, metrics, runs)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
      ),
      addTag: db.prepare("INSERT OR IGNORE INTO experiment_tags (experiment, tag) VALUES (?, ?)"),
      removeTag: db.prepare("DELETE FROM experiment_tags WHERE experiment = ? AND tag = ?"),
      run: db.prepare("INSERT OR REPLACE INTO experiment_runs (experiment, stage, run_id) VALUES (?, ?, ?)"),
      name: db.prepare("UPDATE experiments SET name = ? WHERE id = ?"),
      tags: db.prepare<[number], { tag: string }>("SELECT tag FROM experiment_tags WHERE experiment = ? ORDER BY tag"),
      runsGone: db.prepare<[number], { n: number }>(
        "SELECT COUNT(*) AS n FROM experiment_runs x WHERE x.experiment = ? AND NOT EXISTS (SELECT 1 FROM runs r WHERE r.id = x.run_id)"
      ),
      knownKeys: db.prepare<Array<string | null>, { key: string }>(
        `SELECT DISTINCT j.key AS key FROM experiments e, json_each(e.params) j WHERE ? IS NULL OR e.pipeline = ?
         UNION SELECT DISTINCT j.key FROM experiments e, json_each(e.metrics) j WHERE ? IS NULL OR e.pipeline = ?`
      ),
      get: db.prepare<[number], Row>("SELECT * FROM experiments WHERE id = ?"),
      ofRun: db.prepare<[number], { id: number }>("SELECT DISTINCT experiment AS id FROM experiment_runs WHERE run_id = ? ORDER BY experiment")
    }
  }

  /**
   * Records an experiment and returns its id. A plain `pipe run` (no name, tags or sweep) that used exactly the
   * runs of the pipeline's latest plain experiment, with the same outcome, is that experiment again: running a
   * cached pipeline twice does not make two.
   */
  record(d: ExperimentDraft, now = Date.now()): { id: number; reused: boolean } {
    return this.db.transaction(() => {
      const params = JSON.stringify(d.params)
      const metrics = JSON.stringify(d.metrics)
      const runs = JSON.stringify(d.runs)
      const tags = [...new Set(d.tags ?? [])].map((t) => checkWord("tag", t))
      if (d.name !== undefined) checkWord("name", d.name)
      if (d.name === undefined && tags.length === 0 && d.sweep === undefined) {
        const last = this.s.lastPlain.get(d.pipeline)
        if (last && last.runs === runs && last.status === d.status && last.params === params && last.metrics === metrics) {
          return { id: last.id, reused: true }
        }
      }
      const id = Number(
        this.s.insert.run(d.pipeline, d.name ?? null, now, d.status, d.command, d.sweep?.id ?? null, d.sweep?.point ?? null, d.gitCommit, d.pipeVersion, params, metrics, runs)
          .lastInsertRowid
      )
      for (const t of tags) this.s.addTag.run(id, t)
      for (const [stage, r] of Object.entries(d.runs)) this.s.run.run(id, stage, r)
      return { id, reused: false }
    }).immediate()
  }

  /** Adds tags to an experiment, or removes them; returns how many changed. */
  tag(id: number, tags: ReadonlyArray<string>, remove = false): number {
    return this.db.transaction(() =>
      tags.reduce((n, t) => n + (remove ? this.s.removeTag.run(id, t) : this.s.addTag.run(id, checkWord("tag", t))).changes, 0)
    ).immediate()
  }

  /** Names (or renames) an experiment; null removes its name. */
  name(id: number, name: string | null): void {
    this.s.name.run(name === null ? null : checkWord("name", name), id)
  }

  private info(r: Row): ExperimentInfo {
    return {
      id: r.id,
      pipeline: r.pipeline,
      name: r.name,
      tags: this.s.tags.all(r.id).map((t) => t.tag),
      createdAt: r.created_at,
      status: r.status,
      command: r.command,
      sweep: r.sweep_id,
      point: r.point,
      gitCommit: r.git_commit,
      pipeVersion: r.pipe_version,
      params: JSON.parse(r.params) as Record<string, unknown>,
      metrics: JSON.parse(r.metrics) as Record<string, unknown>,
      runs: JSON.parse(r.runs) as Record<string, number>,
      runsGone: this.s.runsGone.get(r.id)!.n
    }
  }

  /** Every key the experiments (of a pipeline) have, params and figures: for "did you mean" on a typo. */
  knownKeys(pipeline?: string): Array<string> {
    const p = pipeline ?? null
    return this.s.knownKeys.all(p, p, p, p).map((r) => r.key)
  }

  /** Whether any experiment (of a pipeline) has this key among its params or figures. */
  hasKey(f: ExpField, pipeline?: string): boolean {
    if (f._tag !== "key") return true
    const tests = f.in.map((root) => `json_type(e.${root}, ?) IS NOT NULL`).join(" OR ")
    return (
      this.db
        .prepare<Array<string | null>, { n: number }>(`SELECT 1 AS n FROM experiments e WHERE (${tests}) AND (? IS NULL OR e.pipeline = ?) LIMIT 1`)
        .get(...f.in.map(() => keyPath(f.key)), pipeline ?? null, pipeline ?? null) !== undefined
    )
  }

  /** The experiments a filter selects (see expFilter.ts). */
  list(f: ExpFilter = {}): Array<ExperimentInfo> {
    const { sql, args } = experimentsSql(f)
    return this.db.prepare<Array<string | number | null>, Row>(sql).all(...args).map((r) => this.info(r))
  }

  get(id: number): ExperimentInfo | undefined {
    const r = this.s.get.get(id)
    return r && this.info(r)
  }

  /**
   * The experiment a reference names: `e12` (or `12`), else the newest experiment with that name, else the newest
   * with that tag. Undefined when nothing matches.
   */
  resolve(ref: string, pipeline?: string): ExperimentInfo | undefined {
    const n = /^e?(\d+)$/.exec(ref)
    if (n) return this.get(Number(n[1]))
    const scope = pipeline === undefined ? "" : " AND e.pipeline = ?"
    const extra = pipeline === undefined ? [] : [pipeline]
    const byName = this.db.prepare<Array<string>, Row>(`SELECT e.* FROM experiments e WHERE e.name = ?${scope} ORDER BY e.id DESC LIMIT 1`).get(ref, ...extra)
    if (byName) return this.info(byName)
    const byTag = this.db
      .prepare<Array<string>, Row>(
        `SELECT e.* FROM experiments e JOIN experiment_tags t ON t.experiment = e.id WHERE t.tag = ?${scope} ORDER BY e.id DESC LIMIT 1`
      )
      .get(ref, ...extra)
    return byTag && this.info(byTag)
  }

  /** The experiments that used a run. */
  ofRun(run: number): Array<number> {
    return this.s.ofRun.all(run).map((r) => r.id)
  }
}
