/** Graph algorithms over stage ids: cycle detection (the cycle comes back as data), topological order, selection. */

export type Edges = ReadonlyMap<string, ReadonlyArray<string>>

/** The first cycle found, following needs: ["a", "b", "a"] means a needs b needs a; undefined when acyclic. */
export const detectCycle = (needs: Edges): ReadonlyArray<string> | undefined => {
  const state = new Map<string, "visiting" | "done">()
  const stack: Array<string> = []
  const visit = (id: string): ReadonlyArray<string> | undefined => {
    const s = state.get(id)
    if (s === "done") return undefined
    if (s === "visiting") return [...stack.slice(stack.indexOf(id)), id]
    state.set(id, "visiting")
    stack.push(id)
    for (const dep of needs.get(id) ?? []) {
      if (!needs.has(dep)) continue
      const cycle = visit(dep)
      if (cycle) return cycle
    }
    stack.pop()
    state.set(id, "done")
    return undefined
  }
  for (const id of needs.keys()) {
    const cycle = visit(id)
    if (cycle) return cycle
  }
  return undefined
}

/** Kahn's algorithm; ties keep declaration order so output is stable. Assumes no cycle. */
export const topoOrder = (needs: Edges): ReadonlyArray<string> => {
  const ids = [...needs.keys()]
  const pending = new Map(ids.map((id) => [id, (needs.get(id) ?? []).filter((d) => needs.has(d)).length]))
  const dependents = new Map<string, Array<string>>(ids.map((id) => [id, []]))
  for (const id of ids) for (const d of needs.get(id) ?? []) dependents.get(d)?.push(id)
  const order: Array<string> = []
  // A min-heap of declaration positions: the earliest-declared ready stage goes next, in O(n log n).
  const heap: Array<number> = []
  const push = (x: number) => {
    heap.push(x)
    for (let i = heap.length - 1; i > 0; ) {
      const p = (i - 1) >> 1
      if (heap[p]! <= heap[i]!) break
      ;[heap[p], heap[i]] = [heap[i]!, heap[p]!]
      i = p
    }
  }
  const pop = (): number => {
    const top = heap[0]!
    const last = heap.pop()!
    if (heap.length > 0) {
      heap[0] = last
      for (let i = 0; ; ) {
        const l = 2 * i + 1
        const r = l + 1
        let m = i
        if (l < heap.length && heap[l]! < heap[m]!) m = l
        if (r < heap.length && heap[r]! < heap[m]!) m = r
        if (m === i) break
        ;[heap[m], heap[i]] = [heap[i]!, heap[m]!]
        i = m
      }
    }
    return top
  }
  const position = new Map(ids.map((id, i) => [id, i]))
  ids.forEach((id, i) => pending.get(id) === 0 && push(i))
  while (heap.length > 0) {
    const id = ids[pop()]!
    order.push(id)
    for (const next of dependents.get(id)!) {
      const n = pending.get(next)! - 1
      pending.set(next, n)
      if (n === 0) push(position.get(next)!)
    }
  }
  return order
}

/** The targets and everything upstream of them. */
export const upstreamClosure = (needs: Edges, targets: ReadonlyArray<string>): ReadonlySet<string> => {
  const seen = new Set<string>()
  const walk = (id: string) => {
    if (seen.has(id)) return
    seen.add(id)
    for (const d of needs.get(id) ?? []) walk(d)
  }
  targets.forEach(walk)
  return seen
}
