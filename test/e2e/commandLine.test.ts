/** The command line itself: integer options out of range. */
import { existsSync } from "node:fs"
import { join } from "node:path"
import { afterEach, describe, expect, it } from "vitest"
import { workspace, type Workspace } from "../support/cli.js"

let ws: Workspace
afterEach(() => ws?.cleanup())

const PIPELINE = `
name: cl
stages:
  prep:
    kind: command
    cmd: [sh, -c, 'echo prep >> ran.log; echo data > $PIPE_OUT/d']
  train:
    kind: command
    needs: [prep]
    cmd: [sh, -c, 'echo "train \${params.lr}" >> ran.log; echo "\${params.lr}" > $PIPE_OUT/m']
    params: { lr: 0.1, layers: [8] }
`

/** Nothing ran and no store was made. */
const untouched = (w: Workspace) => {
  expect(w.ranLog()).toEqual([])
  expect(existsSync(join(w.dir, ".pipe"))).toBe(false)
}

describe("integer options out of range", () => {
  it("are usage errors (exit 2), not silently clamped", async () => {
    ws = workspace({ "pipeline.yaml": PIPELINE })
    const cases: Array<[Array<string>, string]> = [
      [["runs", "--limit", "-5"], "pipe: --limit must be 0 or more, got -5"],
      [["gc", "--keep-last", "-1"], "pipe: --keep-last must be 0 or more, got -1"],
      [["sweep", "train.lr=1,2", "--jobs", "0"], "pipe: --jobs must be at least 1, got 0"],
      [["sweep", "train.lr=1,2", "--jobs", "-3"], "pipe: --jobs must be at least 1, got -3"],
      [["runs", "--sweep", "0"], "pipe: --sweep must be at least 1, got 0"],
      [["report", "--sweep", "-2"], "pipe: --sweep must be at least 1, got -2"],
      [["lineage", "train", "--depth", "0"], "pipe: --depth must be at least 1, got 0"]
    ]
    for (const [args, message] of cases) {
      const r = await ws.pipe(args)
      expect({ args, code: r.code, stderr: r.stderr.trim() }).toEqual({ args, code: 2, stderr: message })
    }
    const word = await ws.pipe(["runs", "--limit", "all"])
    expect(word.code).toBe(2)
    expect(word.stderr).toContain("'all' is not a integer")
    untouched(ws)
  })

  it("--limit 1 and --keep-last 0 still work", async () => {
    ws = workspace({ "pipeline.yaml": PIPELINE })
    expect((await ws.pipe(["run"])).code).toBe(0)
    const runs = await ws.json(["runs", "--limit", "1"])
    expect(runs.code).toBe(0)
    expect(runs.events).toHaveLength(1)
    const gc = await ws.json(["gc", "--keep-last", "0", "--dry-run"])
    expect(gc.code).toBe(0)
    expect(gc.events[0]).toMatchObject({ event: "gc", dryRun: true })
  })
})

