/**
 * Read-only questions about the store's history: which run made an artifact and from what (lineage up), what
 * was built from it (lineage down), the run history with params and metrics as fields, one run whole.
 * All SQL is parameterised: user text only ever reaches SQLite as a bound value, including JSON paths.
 */
import type { Db } from "./db.js"
import type { KeyRecord } from "./fingerprint.js"
import type { RunRow } from "./records.js"

/** A run's row with its JSON decoded and camel-cased names; the other columns as they are. */
export interface RunInfo extends Pick<RunRow, "id" | "key" | "pipeline" | "stage" | "kind" | "status" | "reason" | "output" | "error"> {
  readonly record: KeyRecord
  readonly startedAt: number
  readonly endedAt: number | null
  readonly durationMs: number | null
  readonly logPath: string | null
  readonly metrics: Readonly<Record<string, unknown>> | null
  readonly host: string | null
  readonly pipeVersion: string | null
  readonly gitCommit: string | null
}

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

export const runInfo = (r: RunRow): RunInfo => ({
  id: r.id,
  key: r.key,
  pipeline: r.pipeline,
  stage: r.stage,
  kind: r.kind,
  status: r.status,
  reason: r.reason,
  output: r.output,
  error: r.error,
  record: JSON.parse(r.record) as KeyRecord,
  startedAt: r.started_at,
  endedAt: r.ended_at,
  durationMs: r.duration_ms,
  logPath: r.log_path,
  metrics: r.metrics ? (JSON.parse(r.metrics) as Record<string, unknown>) : null,
  host: r.host ?? null,
  pipeVersion: r.pipe_version ?? null,
  gitCommit: r.git_commit ?? null
})

/** What a reference names: artifacts (a file may sit in several) or one run. */
export type Target =
  | { readonly _tag: "artifacts"; readonly hashes: ReadonlyArray<string>; readonly via: string }
  | { readonly _tag: "run"; readonly id: number; readonly via: string }

export class RefError extends Error {}

const HEX = /^[0-9a-f]+$/

/** The upper bound of a hex prefix range: "3f" matches hashes h with "3f" <= h < "3f~". */
const prefixEnd = (prefix: string) => `${prefix}~`

// Fields a query can name, and where each lives. JSON fields are read with json_extract and a bound path.
const COLUMNS: Readonly<Record<string, string>> = {
  id: "r.id",
  key: "r.key",
  pipeline: "r.pipeline",
  stage: "r.stage",
  kind: "r.kind",
  status: "r.status",
  started: "r.started_at",
  duration: "r.duration_ms",
  output: "r.output"
}
const JSON_ROOTS: Readonly<Record<string, { column: string; base: string }>> = {
  params: { column: "r.record", base: "$.params" },
  engine: { column: "r.record", base: "$.engine" },
  inputs: { column: "r.record", base: "$.inputs" },
  config: { column: "r.record", base: "$.config" },
  metrics: { column: "r.metrics", base: "$" }
}
const OPERATORS = ["!=", "<=", ">=", "=", "<", ">"] as const
const SQL_OP: Readonly<Record<(typeof OPERATORS)[number], string>> = {
  "=": "=",
  "!=": "!=",
  "<": "<",
  "<=": "<=",
  ">": ">",
  ">=": ">="
}

export const FIELD_HELP =
  "a field is id, key, pipeline, stage, kind, status, started, duration, output, or params.NAME, metrics.NAME, engine.NAME, inputs.STAGE"

/** A field as SQL: a whitelisted column, or json_extract(column, ?) with the JSON path as a bound value. */
export const fieldSql = (field: string): { sql: string; args: Array<string> } => {
  const column = COLUMNS[field]
  if (column) return { sql: column, args: [] }
  const dot = field.indexOf(".")
  const root = dot > 0 ? JSON_ROOTS[field.slice(0, dot)] : undefined
  const rest = field.slice(dot + 1)
  if (!root || !/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/.test(rest)) {
    throw new RefError(`unknown field '${field}': ${FIELD_HELP}`)
  }
  const path = `${root.base}${rest
    .split(".")
    .map((p) => `."${p}"`)
    .join("")}`
  return { sql: `json_extract(${root.column}, ?)`, args: [path] }
}

export interface Condition {
  readonly field: string
  readonly op: (typeof OPERATORS)[number]
  readonly value: string | number | boolean | null
}

/** `params.lr=0.01`, `metrics.test_accuracy>=0.9`, `stage!=download`: typed like YAML scalars. */
export const parseCondition = (text: string, check: (field: string) => unknown = fieldSql, example = "params.lr=0.01"): Condition => {
  const m = /^([^=!<>]+?)\s*(!=|<=|>=|=|<|>)\s*(.*)$/.exec(text)
  if (!m) throw new RefError(`cannot read --where '${text}': write FIELD=VALUE (or !=, <, <=, >, >=), e.g. ${example}`)
  const [, field, op, raw] = m
  check(field!.trim())
  const v = raw!.trim()
  const value =
    v === "true" ? true : v === "false" ? false : v === "null" ? null : v !== "" && Number.isFinite(Number(v)) ? Number(v) : v.replace(/^(["'])(.*)\1$/, "$2")
  return { field: field!.trim(), op: op as Condition["op"], value }
}

export interface RunFilter {
  readonly pipeline?: string
  readonly stages?: ReadonlyArray<string>
  readonly status?: ReadonlyArray<string>
  readonly sweep?: number
  /** Only pinned runs (with this tag, when a string). */
  readonly pinned?: boolean | string
  readonly where?: ReadonlyArray<Condition>
  /** A field; descending when it starts with "-". Default: newest first. */
  readonly sort?: string
  readonly limit?: number
}

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
      )
    }
  }

  run(id: number): RunInfo | undefined {
    const r = this.s.run.get(id)
    return r && runInfo(r)
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
    const tagged = this.db
      .prepare<[string], { id: number }>("SELECT run_id AS id FROM pins WHERE tag = ? AND tag != '' ORDER BY run_id DESC LIMIT 1")
      .get(ref)
    if (tagged) return { _tag: "run", id: tagged.id, via: `tag ${ref}` }
    throw new RefError(
      `nothing in this store matches '${ref}': give a run number (#12), a stage of the pipeline, a pin's tag, an artifact hash or run key ` +
        `(or a prefix of at least 4 hex digits), or the path of a file from an artifact`
    )
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

  /** The run history: filtered, sorted and limited in SQL, with user values bound. */
  runs(f: RunFilter): Array<RunInfo> {
    const where: Array<string> = []
    const args: Array<string | number | null> = []
    if (f.pipeline !== undefined) {
      where.push("r.pipeline = ?")
      args.push(f.pipeline)
    }
    if (f.stages && f.stages.length > 0) {
      where.push(`r.stage IN (${f.stages.map(() => "?").join(", ")})`)
      args.push(...f.stages)
    }
    if (f.status && f.status.length > 0) {
      where.push(`r.status IN (${f.status.map(() => "?").join(", ")})`)
      args.push(...f.status)
    }
    if (f.sweep !== undefined) {
      where.push("r.id IN (SELECT run_id FROM sweep_point_runs WHERE sweep_id = ?)")
      args.push(f.sweep)
    }
    if (f.pinned !== undefined && f.pinned !== false) {
      where.push(typeof f.pinned === "string" ? "r.id IN (SELECT run_id FROM pins WHERE tag = ?)" : "r.id IN (SELECT run_id FROM pins)")
      if (typeof f.pinned === "string") args.push(f.pinned)
    }
    for (const c of f.where ?? []) {
      const { sql, args: a } = fieldSql(c.field)
      if (c.value === null) {
        if (c.op !== "=" && c.op !== "!=") throw new RefError(`${c.field}${c.op}null: only = and != compare with null`)
        where.push(`${sql} IS ${c.op === "=" ? "" : "NOT "}NULL`)
        args.push(...a)
      } else {
        where.push(`${sql} ${SQL_OP[c.op]} ?`)
        // JSON booleans come back from json_extract as 0/1.
        args.push(...a, typeof c.value === "boolean" ? Number(c.value) : c.value)
      }
    }
    let order = "r.id DESC"
    if (f.sort) {
      const desc = f.sort.startsWith("-")
      const { sql, args: a } = fieldSql(desc ? f.sort.slice(1) : f.sort)
      order = `(${sql}) IS NULL, ${sql} ${desc ? "DESC" : "ASC"}, r.id DESC`
      args.push(...a, ...a)
    }
    const sql = `SELECT r.* FROM runs r${where.length ? ` WHERE ${where.join(" AND ")}` : ""} ORDER BY ${order}${
      f.limit ? " LIMIT ?" : ""
    }`
    if (f.limit) args.push(f.limit)
    // Bound in text order: the WHERE values, then the ORDER BY paths, then the limit.
    return this.db.prepare<Array<string | number | null>, RunRow>(sql).all(...args).map(runInfo)
  }
}

// ---------------------------------------------------------------------------------------------------------
// Lineage

export interface LineageNode {
  readonly id: string
  readonly type: "run" | "artifact"
  readonly run?: RunInfo & { readonly sweeps: ReadonlyArray<{ sweep: number; point: number }> }
  readonly artifact?: ArtifactInfo & { readonly missing?: boolean; readonly files?: ReadonlyArray<FileInfo> }
}

/** Edges follow the data: artifact -> run (an input, named by slot/stage) and run -> artifact (its output). */
export interface LineageEdge {
  readonly from: string
  readonly to: string
  readonly role: "input" | "output"
  readonly name: string
}

export interface Lineage {
  readonly direction: "up" | "down"
  readonly roots: ReadonlyArray<string>
  readonly nodes: ReadonlyArray<LineageNode>
  readonly edges: ReadonlyArray<LineageEdge>
}

export const artifactNode = (hash: string) => `artifact:${hash}`
export const runNode = (id: number) => `run:${id}`

/**
 * The lineage graph from a target, up (what produced it, to the sources) or down (everything built from it),
 * to `depth` run levels. Up follows each artifact's newest successful producer; down follows every run that
 * read it.
 * Artifacts of runs without inputs (sources) carry their file list: the data's checksums.
 */
export const lineage = (q: Queries, target: Target, direction: "up" | "down", depth = Infinity): Lineage => {
  const nodes = new Map<string, LineageNode>()
  const edges = new Map<string, LineageEdge>()
  const addEdge = (e: LineageEdge) => edges.set(`${e.from}>${e.to}>${e.name}`, e)
  const addArtifact = (hash: string): string => {
    const id = artifactNode(hash)
    if (!nodes.has(id)) {
      const a = q.artifact(hash)
      nodes.set(id, {
        id,
        type: "artifact",
        artifact: a ?? { hash, type: "unknown", size: 0, fileCount: 0, createdAt: 0, missing: true }
      })
    }
    return id
  }
  const addRun = (run: RunInfo): string => {
    const id = runNode(run.id)
    if (!nodes.has(id)) nodes.set(id, { id, type: "run", run: { ...run, sweeps: q.sweepPoints(run.id) } })
    return id
  }
  const withSourceFiles = (inputs: number, artifact: string | null) => {
    if (inputs > 0 || !artifact) return
    const id = artifactNode(artifact)
    const n = nodes.get(id)
    if (n?.artifact && !n.artifact.files) nodes.set(id, { ...n, artifact: { ...n.artifact, files: q.files(artifact) } })
  }

  const roots: Array<string> = []
  const seen = new Set<string>()

  if (direction === "up") {
    const upRun = (run: RunInfo, level: number) => {
      const id = addRun(run)
      if (seen.has(id)) return
      seen.add(id)
      if (run.output) {
        addEdge({ from: id, to: addArtifact(run.output), role: "output", name: "out" })
      }
      const inputs = q.inputs(run.id)
      // A run that failed never recorded its inputs: fall back to the hashes in its key record.
      const named = inputs.length > 0 ? inputs : Object.entries(run.record.inputs).map(([name, artifact]) => ({ name, artifact }))
      withSourceFiles(named.length, run.output)
      for (const input of named) {
        const aid = addArtifact(input.artifact)
        addEdge({ from: aid, to: id, role: "input", name: input.name })
        if (level < depth) upArtifact(input.artifact, level + 1)
      }
    }
    const upArtifact = (hash: string, level: number) => {
      const aid = addArtifact(hash)
      if (seen.has(aid)) return
      seen.add(aid)
      const producer = q.producers(hash)[0]
      if (producer) upRun(producer, level)
    }
    if (target._tag === "run") {
      const run = q.run(target.id)!
      roots.push(run.output ? artifactNode(run.output) : runNode(run.id))
      upRun(run, 1)
    } else {
      for (const h of target.hashes) {
        roots.push(artifactNode(h))
        upArtifact(h, 1)
      }
    }
  } else {
    // Breadth first, one level of runs at a time, each level in a few batched queries: a data set read by
    // 10,000 runs costs three queries, not 30,000.
    let frontier: Array<string> = []
    const visitArtifacts = (hashes: ReadonlyArray<string>) => {
      const fresh = hashes.filter((h) => !seen.has(artifactNode(h)))
      const infos = q.artifactsMany(fresh)
      for (const h of fresh) {
        const id = artifactNode(h)
        seen.add(id)
        const a = infos.get(h)
        nodes.set(id, { id, type: "artifact", artifact: a ?? { hash: h, type: "unknown", size: 0, fileCount: 0, createdAt: 0, missing: true } })
        frontier.push(h)
      }
    }
    const visitRuns = (runs: ReadonlyArray<RunInfo & { slot?: string; input?: string }>) => {
      const fresh = [...new Map(runs.filter((r) => !seen.has(runNode(r.id))).map((r) => [r.id, r])).values()]
      const sweeps = q.sweepPointsMany(fresh.map((r) => r.id))
      for (const r of runs) if (r.input !== undefined) addEdge({ from: artifactNode(r.input), to: runNode(r.id), role: "input", name: r.slot! })
      const outputs: Array<string> = []
      for (const r of fresh) {
        const id = runNode(r.id)
        seen.add(id)
        const { slot: _slot, input: _input, ...info } = r
        nodes.set(id, { id, type: "run", run: { ...info, sweeps: sweeps.get(r.id) ?? [] } })
        if (r.output) {
          addEdge({ from: id, to: artifactNode(r.output), role: "output", name: "out" })
          outputs.push(r.output)
        }
      }
      visitArtifacts(outputs)
    }
    if (target._tag === "run") {
      roots.push(runNode(target.id))
      visitRuns([q.run(target.id)!])
    } else {
      roots.push(...target.hashes.map(artifactNode))
      visitArtifacts(target.hashes)
    }
    for (let level = 1; level <= depth && frontier.length > 0; level++) {
      const current = frontier
      frontier = []
      visitRuns(q.consumersOfMany(current))
    }
  }
  return { direction, roots, nodes: [...nodes.values()], edges: [...edges.values()] }
}
