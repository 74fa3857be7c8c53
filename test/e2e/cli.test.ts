/** The CLI surface: help, schema, dag, status, dry runs, JSON errors, composed pipelines, Ctrl-C. */
import { mkdirSync, writeFileSync } from "node:fs"
import { join, resolve } from "node:path"
import { afterEach, describe, expect, it } from "vitest"
import { statuses, summary, workspace, type Workspace } from "../support/cli.js"

let ws: Workspace
afterEach(() => ws?.cleanup())

const PIPELINE = `
name: shapes
stages:
  data:
    kind: command
    cmd: [sh, -c, 'echo data >> ran.log; echo "\${params.rows}" > $PIPE_OUT/rows']
    params: { rows: 5 }
  left:
    kind: command
    needs: [data]
    cmd: [sh, -c, 'echo left >> ran.log; cp $PIPE_IN_DATA/rows $PIPE_OUT/']
  right:
    kind: command
    needs: [data]
    cmd: [sh, -c, 'echo right >> ran.log; echo "right side"; cp $PIPE_IN_DATA/rows $PIPE_OUT/r']
  join:
    kind: command
    needs: [left, right]
    cmd: [sh, -c, 'echo join >> ran.log; cat $PIPE_IN_LEFT/rows $PIPE_IN_RIGHT/r > $PIPE_OUT/all']
`

describe("pipe --help and usage errors", () => {
  it("explains every command", async () => {
    ws = workspace()
    const r = await ws.pipe(["--help"])
    expect(r.code).toBe(0)
    for (const c of ["run", "status", "dag", "schema"]) expect(r.stdout).toContain(`- ${c}`)
    const run = await ws.pipe(["run", "--help"])
    expect(run.stdout).toContain("--dry-run")
    expect(run.stdout).toContain("--set")
  })

  it("exits 2 on an unknown option or a malformed --set", async () => {
    ws = workspace({ "pipeline.yaml": PIPELINE })
    expect((await ws.pipe(["run", "--frobnicate"])).code).toBe(2)
    const set = await ws.pipe(["run", "--set", "rows=3"])
    expect(set.code).toBe(2)
    expect(set.stderr).toBe("pipe: --set rows=3: expected STAGE.PARAM=VALUE, e.g. --set train.lr=0.001")
    const missing = await ws.pipe(["run", "-f", "other.yaml"])
    expect(missing.code).toBe(2)
    expect(missing.stderr).toBe("pipe: other.yaml: no such pipeline file; create pipeline.yaml here or pass -f FILE")
  })
})

describe("an invalid pipeline", () => {
  it("runs nothing, exits 2, and gives scripts a JSON error event", async () => {
    ws = workspace({ "pipeline.yaml": PIPELINE.replace("needs: [left, right]", "needs: [left, rigth]") })
    const r = await ws.pipe(["run", "--json"])
    expect(r.code).toBe(2)
    expect(r.stderr).toBe(
      "pipeline.yaml:18:19 stages.join.needs[1]: unknown stage 'rigth' (did you mean 'right'?)\npipeline.yaml: 1 problem; nothing ran"
    )
    expect(JSON.parse(r.stdout)).toEqual({
      event: "error",
      code: 2,
      error: "PipelineInvalid",
      problems: [
        { location: "pipeline.yaml:18:19", path: "stages.join.needs[1]", message: "unknown stage 'rigth' (did you mean 'right'?)" }
      ]
    })
    expect(ws.ranLog()).toEqual([])
  })
})

describe("pipe status and pipe run --dry-run", () => {
  it("say what would run and why, and run nothing", async () => {
    ws = workspace({ "pipeline.yaml": PIPELINE })
    const before = await ws.pipe(["status"])
    expect(before.stdout).toBe(
      [
        "data   stale    no previous run",
        "left   pending  waits for data; runs if its output changes",
        "right  pending  waits for data; runs if its output changes",
        "join   pending  waits for left, right; runs if their outputs change"
      ].join("\n")
    )
    await ws.pipe(["run"])
    const dry = await ws.json(["run", "--dry-run", "--set", "data.rows=6"])
    expect(dry.events.map((e) => [e["stage"] ?? e["event"], e["state"], e["reason"]])).toEqual([
      ["data", "stale", "params changed: rows 5 -> 6"],
      ["left", "pending", "waits for data; runs if its output changes"],
      ["right", "pending", "waits for data; runs if its output changes"],
      ["join", "pending", "waits for left, right; runs if their outputs change"],
      ["summary", undefined, undefined]
    ])
    expect(dry.events.at(-1)).toEqual({ event: "summary", fresh: 0, stale: 1, pending: 3 })
    const status = await ws.json(["status"])
    expect(status.events.at(-1)).toEqual({ event: "summary", fresh: 4, stale: 0, pending: 0 })
    expect(ws.ranLog()).toEqual(["data", "left", "right", "join"])
  })
})

describe("a store that is not a database", () => {
  it("exits 3 with the reason", async () => {
    ws = workspace({ "pipeline.yaml": PIPELINE })
    mkdirSync(join(ws.dir, ".pipe"))
    writeFileSync(join(ws.dir, ".pipe", "pipe.db"), "not a database ".repeat(100))
    const r = await ws.pipe(["run"])
    expect(r.code).toBe(3)
    expect(r.stderr).toBe(`pipe: cannot open the store at ${join(ws.dir, ".pipe")}: file is not a database`)
  })
})

describe("pipe dag", () => {
  it("prints text, mermaid and dot", async () => {
    ws = workspace({ "pipeline.yaml": PIPELINE })
    expect((await ws.pipe(["dag"])).stdout).toBe(
      [
        "shapes: 4 stages, in run order",
        "  data   command -> files",
        "  left   command -> files  needs data",
        "  right  command -> files  needs data",
        "  join   command -> files  needs left, right"
      ].join("\n")
    )
    const mermaid = (await ws.pipe(["dag", "--format", "mermaid"])).stdout
    expect(mermaid.split("\n")).toContain("  left --> join")
    expect(mermaid.startsWith("graph TD\n")).toBe(true)
    const dot = (await ws.pipe(["dag", "--format", "dot"])).stdout
    expect(dot).toContain('"data" -> "right";')
    expect(dot.startsWith('digraph "shapes" {')).toBe(true)
  })
})

describe("pipe schema", () => {
  it("prints a JSON Schema that describes stages and their kinds", async () => {
    ws = workspace()
    const r = await ws.pipe(["schema"])
    expect(r.code).toBe(0)
    const schema = JSON.parse(r.stdout)
    expect(schema.$schema).toBe("http://json-schema.org/draft-07/schema#")
    expect(schema.required).toEqual(["name", "stages"])
    const text = JSON.stringify(schema)
    expect(text).toContain('"enum":["command"]')
    expect(text).toContain('"additionalProperties":false')
    expect(text).toContain("a non-empty list of strings (program and arguments)")
  })
})

describe("pipe run --verbose", () => {
  it("shows stage output live and keeps it in the log", async () => {
    ws = workspace({ "pipeline.yaml": PIPELINE })
    const r = await ws.pipe(["run", "-v"])
    expect(r.stdout).toContain("right side")
    const quiet = await ws.pipe(["run", "--force", "right"])
    expect(quiet.stdout).not.toContain("right side")
    const json = await ws.pipe(["run", "--force", "right", "-v", "--json"])
    expect(json.stderr).toContain("right side")
    expect(json.stdout.split("\n").every((l) => l.startsWith("{"))).toBe(true)
  })
})

describe("a composed TypeScript pipeline", () => {
  it("runs through the CLI with the same keys as its YAML twin", async () => {
    const repo = resolve(import.meta.dirname, "../..")
    ws = workspace()
    const args = ["split", "augment", "plain", "--store", join(ws.dir, "store"), "--set", "download.limit=300"]
    const yaml = await ws.json(["run", "-f", join(repo, "pipeline.yaml"), ...args])
    expect(summary(yaml.events)).toMatchObject({ ran: 4, failed: 0 })
    const ts = await ws.json(["run", "-f", join(repo, "examples/fashionMnist.ts"), ...args])
    expect(ts.code).toBe(0)
    expect(statuses(ts.events)).toEqual({ download: "cached", split: "cached", augment: "cached", plain: "cached" })
    expect(ts.events.map((e) => e["key"])).toEqual(yaml.events.map((e) => e["key"]))
  })

  it("reports a TypeScript syntax error with its location", async () => {
    ws = workspace({ "p.ts": "export default {\n  name: 'x',\n  stages: {\n}}}\n" })
    const r = await ws.pipe(["run", "-f", "p.ts"])
    expect(r.code).toBe(2)
    expect(r.stderr).toBe('p.ts:4:3: Unexpected "}"\np.ts: 1 problem; nothing ran')
    ws.write("q.ts", "export const x = 1\n")
    const q = await ws.pipe(["run", "-f", "q.ts"])
    expect(q.stderr).toBe("q.ts: the module has no default export; export default the pipeline\nq.ts: 1 problem; nothing ran")
  })
})
