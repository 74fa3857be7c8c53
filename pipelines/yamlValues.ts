/** Values from YAML as pipe uses them: integers exact (bigint past 2^53, which validation rejects). */
import { isAlias, isCollection, isMap, isNode, isScalar, isSeq, type Document } from "yaml"

/** bigint back to number where that is exact; larger ones stay bigint. */
export const smallInts = (v: unknown): unknown => {
  if (typeof v === "bigint") return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v
  if (Array.isArray(v)) return v.map(smallInts)
  if (typeof v === "object" && v !== null) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, smallInts(x)]))
  return v
}

/**
 * How many values (scalars, lists and maps) a YAML document may expand to once every alias is replaced by a
 * copy of its anchor. A "billion laughs" file nests aliases so that a few hundred bytes name billions of
 * values; real pipelines, even with thousands of stages sharing params through an alias, stay far below.
 */
export const MAX_EXPANDED_VALUES = 1_000_000

export interface NodeProblem {
  /** The offending node's offset in the source text. */
  readonly offset: number
  /** Where it is in the document, e.g. ["stages", "a", "params"]. */
  readonly path: ReadonlyArray<string | number>
  /** "unresolved": an alias with no anchor before it (plain text on the command line, e.g. `*.txt`). */
  readonly kind: "size" | "cycle" | "unresolved" | "key"
  readonly message: string
}

const rangeStart = (n: unknown): number => (n as { range?: [number] } | null)?.range?.[0] ?? 0

/**
 * What `toJS` would choke on or turn into something else, found in one pass over the parsed document: aliases
 * that expand it past `cap` values (stops there), aliases inside the node they name (an infinite value),
 * aliases with no anchor before them, and keys that are lists or maps (JS objects would stringify them).
 * Linear in the document: the expanded size of each anchored node is computed once.
 */
export const nodeProblems = (doc: Document, cap: number = MAX_EXPANDED_VALUES): Array<NodeProblem> => {
  const problems: Array<NodeProblem> = []
  const anchors = new Map<string, unknown>() // anchor name -> the latest node that set it, in document order
  const sizes = new Map<unknown, number>() // anchored node -> its expanded size, once walked
  const open = new Set<unknown>() // anchored nodes being walked (an alias to one of them is a cycle)
  const path: Array<string | number> = []
  let total = 0
  let over = false
  const report = (node: unknown, kind: NodeProblem["kind"], message: string) =>
    problems.push({ offset: rangeStart(node), path: [...path], kind, message })
  const walk = (node: unknown): number => {
    if (over) return 0
    if (isAlias(node)) {
      const target = anchors.get(node.source)
      if (target === undefined) {
        report(node, "unresolved", `alias *${node.source} names no anchor: &${node.source} must come before it`)
        return 1
      }
      if (open.has(target)) {
        report(node, "cycle", `alias *${node.source} is inside the value it names (&${node.source}), which would make it infinite`)
        return 1
      }
      const n = sizes.get(target) ?? 0
      total += n
      if (total > cap) {
        over = true
        report(
          node,
          "size",
          `alias *${node.source} expands the document past ${cap.toLocaleString("en-US")} values (each alias is a full copy of its anchor); nest fewer aliases or write the values out`
        )
      }
      return n
    }
    const anchor = isNode(node) ? node.anchor : undefined
    if (anchor) {
      anchors.set(anchor, node)
      open.add(node)
    }
    total += 1
    let n = 1
    if (isMap(node)) {
      for (const pair of node.items) {
        const key = isAlias(pair.key) ? anchors.get(pair.key.source) : pair.key
        if (isCollection(key)) report(pair.key, "key", "a key must be a name or a number, not a list or map")
        path.push(isScalar(key) ? String(key.value) : "?")
        n += walk(pair.key) + walk(pair.value)
        path.pop()
      }
    } else if (isSeq(node)) {
      node.items.forEach((item, i) => {
        path.push(i)
        n += walk(item)
        path.pop()
      })
    }
    if (anchor) {
      open.delete(node)
      sizes.set(node, n)
    }
    return n
  }
  walk(doc.contents)
  return problems
}
