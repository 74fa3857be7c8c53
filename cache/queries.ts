/**
 * Read-only questions about the store's history: runs, artifacts and their files, the inputs and consumers of
 * runs, the sweep points that used them, the run history filtered as runFilter.ts says, and what a reference a
 * person typed names (a run, a stage, a key or hash prefix, a pin's tag, a file). All SQL is parameterised.
 */
import type { Db } from "./db.js"
import { RefError } from "./errors.js"
import type { RunRow } from "./records.js"
import { runsSql, type RunFilter } from "./runFilter.js"
import { runInfo, type RunInfo } from "./runInfo.js"

export interface ArtifactInfo {
  readonly hash: string
  readonly type: string
  readonly size: number
  readonly fileCount: number
  readonly createdAt: number
}

export interface FileInfo {
  readonly path: string
  readonly blob: string
  readonly size: number
}

/** What a reference names: artifacts (a file may sit in several) or one run. */
export type Target =
  | { readonly _tag: "artifacts"; readonly hashes: ReadonlyArray<string>; readonly via: string }
  | { readonly _tag: "run"; readonly id: number; readonly via: string }

const HEX = /^[0-9a-f]+$/

/** The upper bound of a hex prefix range: "3f" matches hashes h with "3f" <= h < "3f~". */
const prefixEnd = (prefix: string) => `${prefix}~`

export class Queries {
  private readonly s

  constructor(private readonly db: Db) {
    this.s = {
      run: db.prepare<[number], RunRow>("SELECT * FROM runs WHERE id = ?"),
      artifact: db.prepare<[string], { hash: string; type: string; size: number; file_count: number; created_at: number }>(
        "SELECT * FROM artifacts WHERE hash = ?"
      ),
      artifactsByPrefix: db.prepare<[string, string], { hash: string }>(
        "SELECT hash FROM artifacts WHERE hash >= ? AND hash < ? ORDER BY hash LIMIT 10"
      ),
      keysByPrefix: db.prepare<[string, string], { key: string }>(
        "SELECT DISTINCT key FROM runs WHERE key >= ? AND key < ? ORDER BY key LIMIT 10"
      ),
      latestOfKey: db.prepare<[string], { id: number }>(
        "SELECT id FROM runs WHERE key = ? ORDER BY status = 'ok' DESC, id DESC LIMIT 1"
      ),
      heads: db.prepare<[string], { pipeline: string; run_id: number }>("SELECT pipeline, run_id FROM heads WHERE stage = ?"),
      headOf: db.prepare<[string, string], { run_id: number }>("SELECT run_id FROM heads WHERE pipeline = ? AND stage = ?"),
      latestOfStage: db.prepare<[string, string], { id: number }>(
        "SELECT id FROM runs WHERE pipeline = ? AND stage = ? ORDER BY id DESC LIMIT 1"
      ),
      artifactsWithBlob: db.prepare<[string], { artifact: string }>(
        "SELECT DISTINCT artifact FROM artifact_files WHERE blob = ? ORDER BY artifact"
      ),
      producers: db.prepare<[string], RunRow>(
        "SELECT * FROM runs WHERE output = ? ORDER BY status = 'ok' DESC, id DESC"
      ),
      inputs: db.prepare<[number], { name: string; artifact: string }>(
        "SELECT name, artifact FROM edges WHERE run_id = ? AND role = 'input' ORDER BY name"
      ),
      files: db.prepare<[string], FileInfo>("SELECT path, blob, size FROM artifact_files WHERE artifact = ? ORDER BY path"),
      sweepPoints: db.prepare<[number], { sweep_id: number; point: number }>(
        "SELECT sweep_id, point FROM sweep_point_runs WHERE run_id = ? ORDER BY sweep_id, point"
      ),
      // Batched forms for wide traversals: the keys travel as one bound JSON array.
      consumersOfMany: db.prepare<[string], RunRow & { slot: string; input: string }>(
        `SELECT r.*, e.name AS slot, e.artifact AS input FROM edges e JOIN runs r ON r.id = e.run_id
         WHERE e.artifact IN (SELECT value FROM json_each(?)) AND e.role = 'input' ORDER BY r.id`
      ),
      consumersPage: db.prepare<[string, number], RunRow & { slot: string; input: string }>(
        `SELECT r.*, e.name AS slot, e.artifact AS input FROM edges e JOIN runs r ON r.id = e.run_id
         WHERE e.artifact = ? AND e.role = 'input' ORDER BY r.id DESC LIMIT ?`
      ),
      consumerCount: db.prepare<[string], { n: number }>("SELECT count(*) AS n FROM edges WHERE artifact = ? AND role = 'input'"),
      artifactsMany: db.prepare<[string], { hash: string; type: string; size: number; file_count: number; created_at: number }>(
        "SELECT * FROM artifacts WHERE hash IN (SELECT value FROM json_each(?))"
      ),
      sweepPointsMany: db.prepare<[string], { run_id: number; sweep_id: number; point: number }>(
        "SELECT run_id, sweep_id, point FROM sweep_point_runs WHERE run_id IN (SELECT value FROM json_each(?)) ORDER BY sweep_id, point"
      ),
      sweepPointParams: db.prepare<[number], { point: number; params: string }>(
        "SELECT point, params FROM sweep_points WHERE sweep_id = ? ORDER BY point"
      ),
      sweep: db.prepare<[number], { id: number; pipeline: string; command: string; grid: string; created_at: number }>(
        "SELECT * FROM sweeps WHERE id = ?"
      ),
      tagged: db.prepare<[string], { id: number }>("SELECT run_id AS id FROM pins WHERE tag = ? AND tag != '' ORDER BY run_id DESC LIMIT 1"),
      process: db.prepare<[number], { pid: number; pstart: string | null }>("SELECT pid, pstart FROM runs WHERE id = ?")
    }
  }

  run(id: number): RunInfo | undefined {
    const r = this.s.run.get(id)
    return r && runInfo(r)
  }

  /** The process that began a run (its pid and start time): its working directory is named after them. */
  runProcess(id: number): { readonly pid: number; readonly pstart: string | null } | undefined {
    return this.s.process.get(id)
  }

  artifact(hash: string): ArtifactInfo | undefined {
    const a = this.s.artifact.get(hash)
    return a && { hash: a.hash, type: a.type, size: a.size, fileCount: a.file_count, createdAt: a.created_at }
  }

  files(artifact: string): Array<FileInfo> {
    return this.s.files.all(artifact)
  }

  /** Runs that produced this artifact, successful ones first, newest first. */
  producers(artifact: string): Array<RunInfo> {
    return this.s.producers.all(artifact).map(runInfo)
  }

  inputs(runId: number): Array<{ name: string; artifact: string }> {
    return this.s.inputs.all(runId)
  }

  sweepPoints(runId: number): Array<{ sweep: number; point: number }> {
    // Points are numbered from 1, as pipe sweep prints them.
    return this.s.sweepPoints.all(runId).map((p) => ({ sweep: p.sweep_id, point: p.point + 1 }))
  }

  /** consumers() for many artifacts in one query; each run comes with the artifact it read and the slot. */
  consumersOfMany(artifacts: ReadonlyArray<string>): Array<RunInfo & { readonly slot: string; readonly input: string }> {
    return this.s.consumersOfMany.all(JSON.stringify(artifacts)).map((r) => ({ ...runInfo(r), slot: r.slot, input: r.input }))
  }

  /** The newest `limit` runs that read an artifact, and how many did in all. */
  consumersOf(artifact: string, limit: number): { readonly runs: Array<RunInfo & { readonly slot: string }>; readonly total: number } {
    return {
      runs: this.s.consumersPage.all(artifact, limit).map((r) => ({ ...runInfo(r), slot: r.slot })),
      total: this.s.consumerCount.get(artifact)?.n ?? 0
    }
  }

  artifactsMany(hashes: ReadonlyArray<string>): Map<string, ArtifactInfo> {
    return new Map(
      this.s.artifactsMany
        .all(JSON.stringify(hashes))
        .map((a) => [a.hash, { hash: a.hash, type: a.type, size: a.size, fileCount: a.file_count, createdAt: a.created_at }])
    )
  }

  sweepPointsMany(runIds: ReadonlyArray<number>): Map<number, Array<{ sweep: number; point: number }>> {
    const out = new Map<number, Array<{ sweep: number; point: number }>>()
    for (const p of this.s.sweepPointsMany.all(JSON.stringify(runIds))) {
      const list = out.get(p.run_id) ?? out.set(p.run_id, []).get(p.run_id)!
      list.push({ sweep: p.sweep_id, point: p.point + 1 })
    }
    return out
  }

  /** Each point of a sweep (numbered from 1) with the params it set. */
  sweepPointParams(sweep: number): Array<{ point: number; params: Record<string, unknown> }> {
    return this.s.sweepPointParams.all(sweep).map((p) => ({ point: p.point + 1, params: JSON.parse(p.params) as Record<string, unknown> }))
  }

  sweep(id: number) {
    return this.s.sweep.get(id)
  }

  artifactsWithBlob(blob: string): Array<string> {
    return this.s.artifactsWithBlob.all(blob).map((r) => r.artifact)
  }

  /**
   * Resolves what a user typed: `#12` or `12` (a run number), a stage id (its latest run in `pipeline`), a
   * hash prefix of an artifact or a run key (at least 4 hex digits), or `fileHash` for a file on disk (the
   * caller hashes it, so this module does no file IO).
   */
  resolve(ref: string, opts: { pipeline?: string; fileHash?: string }): Target {
    const runNo = /^#?(\d{1,12})$/.exec(ref)
    if (runNo && (ref.startsWith("#") || this.s.run.get(Number(runNo[1])))) {
      const id = Number(runNo[1])
      if (!this.s.run.get(id)) throw new RefError(`there is no run #${id} in this store`)
      return { _tag: "run", id, via: `run #${id}` }
    }
    const stageRun = this.stageRun(ref, opts.pipeline)
    if (stageRun !== undefined) return { _tag: "run", id: stageRun, via: `stage ${ref}` }
    if (opts.fileHash) {
      const hashes = this.artifactsWithBlob(opts.fileHash)
      if (hashes.length === 0) {
        throw new RefError(`${ref} is not a file of any artifact in this store (its content hash is ${opts.fileHash.slice(0, 12)})`)
      }
      return { _tag: "artifacts", hashes, via: `file ${ref}` }
    }
    const prefix = ref.toLowerCase()
    if (HEX.test(prefix) && prefix.length >= 4) {
      const artifacts = this.s.artifactsByPrefix.all(prefix, prefixEnd(prefix)).map((a) => a.hash)
      const keys = this.s.keysByPrefix.all(prefix, prefixEnd(prefix)).map((k) => k.key)
      if (artifacts.length + keys.length > 1) {
        const list = [...artifacts.map((h) => `artifact ${h.slice(0, 16)}`), ...keys.map((k) => `run key ${k.slice(0, 16)}`)]
        throw new RefError(`'${ref}' is ambiguous: it starts ${list.join(", ")}; give more digits`)
      }
      if (artifacts.length === 1) return { _tag: "artifacts", hashes: artifacts, via: `artifact ${artifacts[0]!.slice(0, 12)}` }
      if (keys.length === 1) return { _tag: "run", id: this.s.latestOfKey.get(keys[0]!)!.id, via: `run key ${keys[0]!.slice(0, 12)}` }
    }
    // A pin's tag names its run (the newest so tagged).
    const tagged = this.s.tagged.get(ref)
    if (tagged) return { _tag: "run", id: tagged.id, via: `tag ${ref}` }
    throw new RefError(
      `nothing in this store matches '${ref}': give a run number (#12), a stage of the pipeline, a pin's tag, an artifact hash or run key ` +
        `(or a prefix of at least 4 hex digits), or the path of a file from an artifact`
    )
  }

  /**
   * The run a reference names: a run, or the run that produced the artifact (its newest successful producer).
   * An artifact reference must name one artifact.
   */
  runOf(ref: string, opts: { pipeline?: string; fileHash?: string }): RunInfo {
    const t = this.resolve(ref, opts)
    if (t._tag === "run") return this.run(t.id)!
    if (t.hashes.length > 1) {
      throw new RefError(`${ref} is in ${t.hashes.length} artifacts (${t.hashes.map((h) => h.slice(0, 12)).join(", ")}); give one of them`)
    }
    const producer = this.producers(t.hashes[0]!)[0]
    if (!producer) throw new RefError(`no recorded run produced artifact ${t.hashes[0]!.slice(0, 12)}`)
    return producer
  }

  /** The run a stage id stands for: its head in the pipeline (or the only pipeline that has it), else its latest run. */
  private stageRun(stage: string, pipeline: string | undefined): number | undefined {
    if (pipeline !== undefined) {
      const head = this.s.headOf.get(pipeline, stage)
      if (head) return head.run_id
      return this.s.latestOfStage.get(pipeline, stage)?.id
    }
    const heads = this.s.heads.all(stage)
    if (heads.length > 1) {
      throw new RefError(`stage '${stage}' is in several pipelines (${heads.map((h) => h.pipeline).join(", ")}); give -f PIPELINE or a run number`)
    }
    return heads[0]?.run_id
  }

  /** The run history: filtered, sorted and limited in SQL, with user values bound (see runFilter.ts). */
  runs(f: RunFilter): Array<RunInfo> {
    const { sql, args } = runsSql(f)
    return this.db.prepare<Array<string | number | null>, RunRow>(sql).all(...args).map(runInfo)
  }
}
