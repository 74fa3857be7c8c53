/**
 * A small directed graph drawn as SVG, left to right: each node in the column of its longest path from a
 * source, edges as curves. For the dashboard's pipeline DAG and lineage views; pure, no layout library.
 */
import { esc } from "./html.js"

export interface GraphNode {
  readonly id: string
  readonly label: string
  /** A second, smaller line (a state, a kind). */
  readonly sub?: string
  readonly fill: string
  readonly href?: string
  /** A tooltip (why a stage is stale...). */
  readonly title?: string
}

const W = 170
const H = 44
const GAP_X = 60
const GAP_Y = 18

/** Each node's column: the longest path to it from a node without inputs (edges that would close a cycle are ignored). */
export const columns = (nodes: ReadonlyArray<GraphNode>, edges: ReadonlyArray<readonly [string, string]>): Map<string, number> => {
  const ids = new Set(nodes.map((n) => n.id))
  const into = new Map<string, Array<string>>()
  for (const [from, to] of edges) if (ids.has(from) && ids.has(to)) (into.get(to) ?? into.set(to, []).get(to)!).push(from)
  const col = new Map<string, number>()
  const visiting = new Set<string>()
  const depth = (id: string): number => {
    const known = col.get(id)
    if (known !== undefined) return known
    if (visiting.has(id)) return 0
    visiting.add(id)
    const d = Math.max(-1, ...(into.get(id) ?? []).map(depth)) + 1
    visiting.delete(id)
    col.set(id, d)
    return d
  }
  for (const n of nodes) depth(n.id)
  return col
}

export const graphSvg = (nodes: ReadonlyArray<GraphNode>, edges: ReadonlyArray<readonly [string, string]>): string => {
  if (nodes.length === 0) return `<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"></svg>`
  const col = columns(nodes, edges)
  const rows = new Map<number, number>()
  const pos = new Map<string, { x: number; y: number }>()
  for (const n of nodes) {
    const c = col.get(n.id)!
    const r = rows.get(c) ?? 0
    rows.set(c, r + 1)
    pos.set(n.id, { x: 10 + c * (W + GAP_X), y: 10 + r * (H + GAP_Y) })
  }
  const width = 20 + (Math.max(...col.values()) + 1) * (W + GAP_X) - GAP_X
  const height = 20 + Math.max(...rows.values()) * (H + GAP_Y) - GAP_Y
  const lines = edges.flatMap(([from, to]) => {
    const a = pos.get(from)
    const b = pos.get(to)
    if (!a || !b) return []
    const [x1, y1, x2, y2] = [a.x + W, a.y + H / 2, b.x, b.y + H / 2]
    const mid = (x1 + x2) / 2
    return [`<path d="M${x1},${y1} C${mid},${y1} ${mid},${y2} ${x2},${y2}" fill="none" stroke="#999" stroke-width="1.5" marker-end="url(#arrow)"/>`]
  })
  const boxes = nodes.map((n) => {
    const { x, y } = pos.get(n.id)!
    const label = n.label.length > 24 ? `${n.label.slice(0, 23)}…` : n.label
    const box =
      `<g class="node" data-node="${esc(n.id)}"${n.sub ? ` data-state="${esc(n.sub.split(" ")[0]!)}"` : ""}>` +
      (n.title ? `<title>${esc(n.title)}</title>` : "") +
      `<rect x="${x}" y="${y}" width="${W}" height="${H}" rx="6" fill="${esc(n.fill)}" stroke="#555"/>` +
      `<text x="${x + 8}" y="${y + 18}" font-size="13" font-family="system-ui, sans-serif">${esc(label)}</text>` +
      (n.sub ? `<text x="${x + 8}" y="${y + 35}" font-size="11" fill="#333" font-family="system-ui, sans-serif">${esc(n.sub)}</text>` : "") +
      `</g>`
    return n.href ? `<a href="${esc(n.href)}">${box}</a>` : box
  })
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">`,
    `<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#999"/></marker></defs>`,
    ...lines,
    ...boxes,
    `</svg>`
  ].join("\n")
}
