/**
 * The lineage walk: from a run or artifacts, up (what produced it, to the sources) or down (everything built
 * from it), as a graph of run and artifact nodes with the edges data followed. Reads through Queries only.
 */
import type { ArtifactInfo, FileInfo, Queries, Target } from "./queries.js"
import type { RunInfo } from "./runInfo.js"

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
