/**
 * The local executor honours a stage's `resources:`: stages that together would need more CPUs than this
 * machine has do not run at once, while stages that declare nothing run as --jobs allows. Each stage appends
 * its start and end (nanoseconds) to a file in the workspace; the order of those lines says whether two ran at once.
 */
import { afterEach, describe, expect, it } from "vitest"
import { workspace, type Workspace } from "../support/cli.js"

const pipeline = (resources: string) => `
name: limits
stages:
  busy:
    kind: command
    params: { n: 0 }
    ${resources}
    cmd: [sh, -c, 'echo "start \${params.n} $(date +%s%N)" >> trace; sleep 1; echo "end \${params.n} $(date +%s%N)" >> trace; echo \${params.n} > $PIPE_OUT/n']
`

/** The stages' starts and ends in time order, e.g. ["start", "end", "start", "end"]. */
const order = (ws: Workspace) =>
  ws
    .read("trace")
    .trim()
    .split("\n")
    .map((l) => l.split(" "))
    .sort((a, b) => (BigInt(a[2]!) < BigInt(b[2]!) ? -1 : 1))
    .map((f) => f[0])

let ws: Workspace
afterEach(() => ws?.cleanup())

describe("resources on the local executor", () => {
  it("a stage that asks for every CPU runs alone, even with --jobs 3", async () => {
    ws = workspace({ "pipeline.yaml": pipeline("resources: { cpus: 4096 }") })
    const r = await ws.json(["sweep", "busy.n=1,2,3", "--jobs", "3"])
    expect(r.code, r.stderr).toBe(0)
    expect(order(ws)).toEqual(["start", "end", "start", "end", "start", "end"])
  })

  it("stages that declare nothing run as --jobs allows", async () => {
    ws = workspace({ "pipeline.yaml": pipeline("") })
    const r = await ws.json(["sweep", "busy.n=1,2,3", "--jobs", "3"])
    expect(r.code, r.stderr).toBe(0)
    expect(order(ws).slice(0, 2)).toEqual(["start", "start"])
  })
})
