/**
 * Loading a pipeline file: YAML (with line:col for every problem) or a TypeScript/JavaScript module whose
 * default export is a composed pipeline. Both end in the same `validate`, so they build the same DAG and keys.
 */
import { Effect, Either } from "effect"
import { existsSync, readFileSync, statSync } from "node:fs"
import { basename, dirname, extname, join, relative, resolve } from "node:path"
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Document } from "yaml"
import type { Registry } from "./kind.js"
import { formatPath, type Diagnostic, type DocPath } from "./diagnostic.js"
import { PipelineInvalid, UsageError, type Problem } from "./errors.js"
import type { Pipeline } from "./model.js"
import { describeOverride, type Override, type StageCopy } from "./overrides.js"
import { didYouMean } from "./suggest.js"
import { validate } from "./validate.js"
import { nodeProblems, smallInts } from "./yamlValues.js"

export interface Loaded {
  readonly pipeline: Pipeline
  /** Absolute path of the pipeline file. */
  readonly file: string
  /** The file as the user named it, for messages. */
  readonly display: string
  /** The directory commands run in and deps are resolved against (see projectRoot). */
  readonly workspace: string
  /** "pipeline.yaml:12:9" for a path in the document (just the file name when positions are unknown). */
  readonly locate: (path: DocPath) => string
}

const SCRIPT_EXTS = new Set([".ts", ".mts", ".js", ".mjs"])

/**
 * A YAML pipeline's workspace is its directory. A composed pipeline usually lives in pipelines/ of a project,
 * so its workspace is the nearest directory above it with a package.json (else its own directory).
 */
const projectRoot = (dir: string): string => {
  for (let d = dir; ; d = dirname(d)) {
    if (existsSync(join(d, "package.json"))) return d
    if (dirname(d) === d) return dir
  }
}

export const defaultPipelineFile = (cwd: string): string => resolve(cwd, "pipeline.yaml")

/** Applies --set overrides to the raw document; returns the problems with overrides naming unknown stages. */
const applyOverrides = (raw: unknown, overrides: ReadonlyArray<Override>): Array<UsageError> => {
  const errors: Array<UsageError> = []
  const stages = (raw as { stages?: unknown } | null)?.stages
  if (typeof stages !== "object" || stages === null) return errors
  const byId = stages as Record<string, unknown>
  for (const o of overrides) {
    const stage = Object.hasOwn(byId, o.stage) ? byId[o.stage] : undefined
    if (typeof stage !== "object" || stage === null) {
      errors.push(
        new UsageError({
          message: `${describeOverride(o)}: unknown stage '${o.stage}'${didYouMean(o.stage, Object.keys(byId))}`
        })
      )
      continue
    }
    // A copy: YAML aliases (`b: *a`) share one object, and an override of one stage must not change another.
    const s = (byId[o.stage] = { ...(stage as Record<string, unknown>) })
    // Params that are not a map stay as written, so validation still reports them.
    if (s["params"] === undefined || s["params"] === null) s["params"] = {}
    if (typeof s["params"] !== "object" || Array.isArray(s["params"])) continue
    let target = (s["params"] = { ...(s["params"] as object) }) as Record<string, unknown>
    const keys = o.param.split(".")
    keys.slice(0, -1).forEach((k) => {
      const next = target[k]
      target = target[k] = typeof next === "object" && next !== null && !Array.isArray(next) ? { ...(next as object) } : {}
    })
    target[keys.at(-1)!] = o.value
  }
  return errors
}

/**
 * The override a problem under `stages.ID.params` comes from: the last one of that param or of a map above it
 * (the last one given wins), or none when the value is the file's.
 */
const overrideFor = (d: Diagnostic, overrides: ReadonlyArray<Override>): Override | undefined => {
  if (d.path[0] !== "stages" || d.path[2] !== "params") return undefined
  const param = formatPath(d.path.slice(3))
  return overrides.findLast(
    (o) => o.stage === d.path[1] && (param === o.param || param.startsWith(`${o.param}.`) || param.startsWith(`${o.param}[`))
  )
}

/** The position of a path in the YAML document: the deepest node that exists on the way. */
const locate = (doc: Document, lc: LineCounter, d: Diagnostic): { line: number; col: number } => {
  let node: unknown = doc.contents
  let offset = (doc.contents as { range?: [number] } | null)?.range?.[0] ?? 0
  for (let i = 0; i < d.path.length; i++) {
    const seg = d.path[i]
    if (isMap(node)) {
      const pair = node.items.find((p) => (isScalar(p.key) ? p.key.value : p.key) === seg)
      if (!pair) break
      const keyStart = (pair.key as { range?: [number] } | null)?.range?.[0]
      const value = pair.value as { range?: [number]; value?: unknown } | null
      if (i === d.path.length - 1 && d.at === "key" && keyStart !== undefined) {
        offset = keyStart
        break
      }
      if (value?.range && !(isScalar(value) && value.value === null && keyStart !== undefined)) offset = value.range[0]
      else if (keyStart !== undefined) offset = keyStart
      node = value
    } else if (isSeq(node) && typeof seg === "number") {
      const item = node.items[seg] as { range?: [number] } | undefined
      if (!item) break
      if (item.range) offset = item.range[0]
      node = item
    } else break
  }
  return lc.linePos(offset)
}

const toProblems = (
  diagnostics: ReadonlyArray<Diagnostic>,
  display: string,
  overrides: ReadonlyArray<Override>,
  where?: (d: Diagnostic) => { line: number; col: number }
): Array<Problem> =>
  diagnostics
    .map((d) => {
      const o = overrideFor(d, overrides)
      const pos = o ? undefined : where?.(d)
      return {
        location: o ? describeOverride(o) : pos ? `${display}:${pos.line}:${pos.col}` : display,
        path: formatPath(d.path),
        message: d.message,
        sort: pos ? pos.line * 1e6 + pos.col : 0
      }
    })
    .sort((a, b) => a.sort - b.sort)
    .map(({ sort: _, ...p }) => p)

/** The offset of the first byte that is not part of valid UTF-8 (as WHATWG's decoder sees it), if any. */
const firstInvalidUtf8 = (b: Uint8Array): number | undefined => {
  for (let i = 0; i < b.length; ) {
    const c = b[i]!
    const [n, lo, hi] =
      c < 0x80 ? [0, 0, 0]
      : c >= 0xc2 && c <= 0xdf ? [1, 0x80, 0xbf]
      : c === 0xe0 ? [2, 0xa0, 0xbf]
      : c === 0xed ? [2, 0x80, 0x9f]
      : c >= 0xe1 && c <= 0xef ? [2, 0x80, 0xbf]
      : c === 0xf0 ? [3, 0x90, 0xbf]
      : c === 0xf4 ? [3, 0x80, 0x8f]
      : c >= 0xf1 && c <= 0xf3 ? [3, 0x80, 0xbf]
      : [-1, 0, 0]
    if (n < 0) return i
    // The second byte has a narrower range (no overlong forms, surrogates or code points past U+10FFFF).
    for (let k = 1; k <= n; k++) {
      const x = b[i + k]
      if (x === undefined || x < (k === 1 ? lo : 0x80) || x > (k === 1 ? hi : 0xbf)) return i
    }
    i += n + 1
  }
  return undefined
}

/** The pipeline file as text: it must be readable and UTF-8 (a bad byte is reported with its line and column). */
const readText = (file: string, display: string) =>
  Effect.gen(function* () {
    let bytes: Uint8Array
    try {
      bytes = readFileSync(file)
    } catch (e) {
      return yield* new UsageError({
        message: `${display}: cannot read the pipeline file (${(e as Error).message}); check the permissions of it and of its directories`
      })
    }
    try {
      return new TextDecoder("utf-8", { fatal: true }).decode(bytes)
    } catch {
      const at = firstInvalidUtf8(bytes) ?? 0
      const lineStart = at === 0 ? 0 : bytes.lastIndexOf(0x0a, at - 1) + 1
      const line = bytes.subarray(0, at).filter((b) => b === 0x0a).length + 1
      const col = new TextDecoder().decode(bytes.subarray(lineStart, at)).length + 1
      const utf16 = (bytes[0] === 0xff && bytes[1] === 0xfe) || (bytes[0] === 0xfe && bytes[1] === 0xff)
      const hex = bytes[at]!.toString(16).toUpperCase().padStart(2, "0")
      return yield* new PipelineInvalid({
        file: display,
        problems: [
          {
            location: `${display}:${line}:${col}`,
            path: "",
            message: utf16
              ? "the file is UTF-16 (it starts with a UTF-16 byte order mark); save it as UTF-8"
              : `not valid UTF-8: byte 0x${hex} at byte offset ${at}; save the file as UTF-8 (e.g. iconv -f latin1 -t utf-8)`
          }
        ]
      })
    }
  })

const fromYaml = (file: string, display: string, overrides: ReadonlyArray<Override>, registry: Registry, copies: ReadonlyArray<StageCopy>) =>
  Effect.gen(function* () {
    const text = yield* readText(file, display)
    const lc = new LineCounter()
    // Explicit YAML 1.1 tags (!!timestamp, !!set, !!binary...) would become Dates, Sets and Buffers, which are
    // not JSON: they stay strings. Integers past 2^53 stay exact (bigint), so validation can report them.
    const doc = parseDocument(text, {
      lineCounter: lc,
      prettyErrors: false,
      uniqueKeys: true,
      resolveKnownTags: false,
      intAsBigInt: true,
      // Problems are reported as located errors, never as process warnings.
      logLevel: "error"
    })
    if (doc.errors.length > 0) {
      return yield* new PipelineInvalid({
        file: display,
        problems: doc.errors.map((e) => {
          const p = lc.linePos(e.pos[0])
          return { location: `${display}:${p.line}:${p.col}`, path: "", message: `YAML syntax error: ${e.message.split("\n")[0]}` }
        })
      })
    }
    // Aliases are checked here, not by toJS's maxAliasCount (which throws, and rejects large legitimate
    // files): the document's size with every alias expanded is capped, and cycles and dangling aliases are
    // located problems.
    const bad = nodeProblems(doc)
    if (bad.length > 0) {
      return yield* new PipelineInvalid({
        file: display,
        problems: bad.map((b) => {
          const p = lc.linePos(b.offset)
          return { location: `${display}:${p.line}:${p.col}`, path: formatPath(b.path), message: b.message }
        })
      })
    }
    const raw = smallInts(doc.toJS({ maxAliasCount: -1 }))
    const where = (d: Diagnostic) => locate(doc, lc, d)
    const pipeline = yield* check(raw, display, overrides, registry, where, copies)
    return {
      pipeline,
      locate: (path: DocPath) => toProblems([{ path, message: "" }], display, overrides, where)[0]!.location
    }
  })

/** Adds each copy to the raw pipeline (after the overrides, so a copy has the params they set) and makes its original need it. */
const applyCopies = (raw: unknown, copies: ReadonlyArray<StageCopy>): Array<UsageError> => {
  const stages = (raw as { stages?: Record<string, unknown> } | null)?.stages
  for (const c of copies) {
    const from = stages?.[c.from] as { params?: object; needs?: Array<string> } | undefined
    if (!stages || !from || typeof from !== "object") return [new UsageError({ message: `no stage '${c.from}' to copy` })]
    if (c.id in stages) return [new UsageError({ message: `stage ${c.id} already exists; a rung of ${c.from} is named so: rename it` })]
    stages[c.id] = { ...structuredClone(from), params: { ...(from.params ?? {}), ...c.params }, needs: [...(from.needs ?? []), ...c.needs] }
  }
  for (const c of copies) {
    const from = stages![c.from] as { needs?: Array<string> }
    if (!copies.some((other) => other.needs.includes(c.id))) from.needs = [...(from.needs ?? []), c.id]
  }
  return []
}

const check = (
  raw: unknown,
  display: string,
  overrides: ReadonlyArray<Override>,
  registry: Registry,
  where?: (d: Diagnostic) => { line: number; col: number },
  copies: ReadonlyArray<StageCopy> = []
) =>
  Effect.gen(function* () {
    const usage = [...applyOverrides(raw, overrides), ...applyCopies(raw, copies)]
    if (usage.length > 0) return yield* Effect.fail(usage[0]!)
    const result = validate(raw, registry)
    if (Either.isLeft(result)) {
      return yield* new PipelineInvalid({ file: display, problems: toProblems(result.left, display, overrides, where) })
    }
    return result.right
  })

/** A composed pipeline module: bundled with esbuild (TypeScript allowed), imported, its default export validated. */
const fromModule = (file: string, display: string, overrides: ReadonlyArray<Override>, registry: Registry, copies: ReadonlyArray<StageCopy>) =>
  Effect.gen(function* () {
    const raw = yield* Effect.tryPromise({
      try: async () => {
        const { importPipelineModule } = await import("./importModule.js")
        return importPipelineModule(file)
      },
      catch: (e) => {
        const { message, location } = e as { message?: string; location?: string }
        return new PipelineInvalid({
          file: display,
          problems: [{ location: location ?? display, path: "", message: message ?? String(e) }]
        })
      }
    })
    const pipeline = yield* check(raw, display, overrides, registry, undefined, copies)
    return { pipeline, locate: () => display }
  })

export const loadPipeline = (
  file: string,
  overrides: ReadonlyArray<Override>,
  registry: Registry,
  /** Stages added as copies of others (the rungs of a halving search). */
  copies: ReadonlyArray<StageCopy> = []
): Effect.Effect<Loaded, PipelineInvalid | UsageError> =>
  Effect.gen(function* () {
    const abs = resolve(file)
    const display = relative(process.cwd(), abs).startsWith("..") ? abs : relative(process.cwd(), abs) || basename(abs)
    let kind: "file" | "directory" | "other"
    try {
      const st = statSync(abs)
      kind = st.isFile() ? "file" : st.isDirectory() ? "directory" : "other"
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code
      return yield* new UsageError({
        message:
          code === "ENOENT" || code === "ENOTDIR"
            ? `${display}: no such pipeline file; create pipeline.yaml here or pass -f FILE`
            : `${display}: cannot read the pipeline file (${(e as Error).message}); check the permissions of it and of its directories`
      })
    }
    if (kind === "directory") {
      return yield* new UsageError({
        message: `${display}: is a directory, not a pipeline file; pass the file in it, e.g. -f ${join(display, "pipeline.yaml")}`
      })
    }
    if (kind === "other") {
      return yield* new UsageError({
        message: `${display}: not a regular file (a pipe, socket or device); pass a pipeline file (YAML, or a .ts/.js module)`
      })
    }
    const { pipeline, locate } = SCRIPT_EXTS.has(extname(abs))
      ? yield* fromModule(abs, display, overrides, registry, copies)
      : yield* fromYaml(abs, display, overrides, registry, copies)
    const workspace = SCRIPT_EXTS.has(extname(abs)) ? projectRoot(dirname(abs)) : dirname(abs)
    return { pipeline, file: abs, display, workspace, locate }
  })
