/** What the history commands print for people and for scripts: nothing dropped without a word, values as values. */
import { afterEach, describe, expect, it } from "vitest"
import { workspace, type Workspace } from "../support/cli.js"

let ws: Workspace
afterEach(() => ws?.cleanup())

const names = Array.from({ length: 10 }, (_, i) => `p${i}`)
const PIPELINE = `
name: wide
stages:
  s:
    kind: command
    cmd: [sh, -c, 'echo s > $PIPE_OUT/s']
    params: { ${names.map((n) => `${n}: 0`).join(", ")}, model: mlp }
`

describe("pipe runs and pipe diff", () => {
  it("name the columns a table leaves out, and diff --json gives values, not their JSON text", async () => {
    ws = workspace({ "pipeline.yaml": PIPELINE })
    expect((await ws.json(["run"])).code).toBe(0)
    const sets = [...names.map((n) => ["--set", `s.${n}=1`]).flat(), "--set", "s.model=cnn"]
    expect((await ws.json(["run", ...sets])).code).toBe(0)
    const runs = await ws.pipe(["runs", "--stage", "s"])
    expect(runs.code).toBe(0)
    // 11 params differ; 8 are columns, and the other 3 are named
    expect(runs.stdout).toContain("(3 more columns not shown: p7, p8, p9; pipe show RUN or --json has every param and metric)")
    const diff = await ws.pipe(["diff", "#1", "#2", "--json"])
    const d = JSON.parse(diff.stdout)
    expect(d.fields).toContainEqual({ section: "params", field: "model", a: "mlp", b: "cnn" })
    expect(d.fields).toContainEqual({ section: "params", field: "p0", a: 0, b: 1 })
  })
})
