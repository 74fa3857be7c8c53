/**
 * The local executor honours a stage's `resources:`: stages that together would need more CPUs than this
 * machine has do not run at once, while stages that declare nothing run as --jobs allows. Each stage appends
 * its start and end (nanoseconds) to a file in the workspace; those lines in time order say how many ran at once.
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
    cmd: [sh, -c, 'echo "start \${params.n} $(date +%s%N)" >> trace; sleep 2; echo "end \${params.n} $(date +%s%N)" >> trace; echo \${params.n} > $PIPE_OUT/n']
`

/** The most stages running at the same moment, from their starts and ends in time order. */
const mostAtOnce = (ws: Workspace) => {
  const events = ws
    .read("trace")
    .trim()
    .split("\n")
    .map((l) => l.split(" "))
    .sort((a, b) => (BigInt(a[2]!) < BigInt(b[2]!) ? -1 : 1))
  let now = 0
  let most = 0
  for (const [what] of events) {
    now += what === "start" ? 1 : -1
    most = Math.max(most, now)
  }
  expect(events).toHaveLength(6)
  return most
}

let ws: Workspace
afterEach(() => ws?.cleanup())

describe("resources on the local executor", () => {
  it("a stage that asks for every CPU runs alone, even with --jobs 3", async () => {
    ws = workspace({ "pipeline.yaml": pipeline("resources: { cpus: 4096 }") })
    const r = await ws.json(["sweep", "busy.n=1,2,3", "--jobs", "3"])
    expect(r.code, r.stderr).toBe(0)
    expect(mostAtOnce(ws)).toBe(1)
  })

  it("stages that declare nothing run as --jobs allows", async () => {
    ws = workspace({ "pipeline.yaml": pipeline("") })
    const r = await ws.json(["sweep", "busy.n=1,2,3", "--jobs", "3"])
    expect(r.code, r.stderr).toBe(0)
    expect(mostAtOnce(ws)).toBeGreaterThanOrEqual(2)
  })
})
