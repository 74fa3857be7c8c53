/** The built CLI on a pipeline of command stages: what runs, what is reused, and why. */
import { mkdirSync, rmSync } from "node:fs"
import { join } from "node:path"
import { afterEach, describe, expect, it } from "vitest"
import { statuses, summary, workspace, type Workspace } from "../support/cli.js"

// Each stage appends its id to ran.log (outside $PIPE_OUT), so tests count real executions.
const PIPELINE = `
name: chain
stages:
  a:
    kind: command
    cmd: [sh, -c, 'echo a >> ran.log; echo "n=\${params.n}" > $PIPE_OUT/a.txt']
    params: { n: 1, note: x }
  b:
    kind: command
    needs: [a]
    cmd: [sh, -c, 'echo b >> ran.log; cat $PIPE_IN_A/a.txt > $PIPE_OUT/b.txt; echo "m=\${params.m}" >> $PIPE_OUT/b.txt']
    params: { m: 10 }
  c:
    kind: command
    needs: [b]
    cmd: [sh, -c, 'echo c >> ran.log; wc -l < $PIPE_IN_B/b.txt > $PIPE_OUT/c.txt']
  side:
    kind: command
    needs: [a]
    cmd: [sh, -c, 'echo side >> ran.log; cp $PIPE_IN_A/a.txt $PIPE_OUT/']
`

let ws: Workspace
afterEach(() => ws?.cleanup())


describe("pipe run", () => {
  it("runs everything the first time and nothing the second", async () => {
    ws = workspace({ "pipeline.yaml": PIPELINE })
    const first = await ws.json(["run"])
    expect(first.code).toBe(0)
    expect(statuses(first.events)).toEqual({ a: "ran", b: "ran", c: "ran", side: "ran" })
    expect(first.events.find((e) => e["stage"] === "a")).toMatchObject({ reason: "no previous run" })
    expect(summary(first.events)).toMatchObject({ ran: 4, cached: 0, failed: 0, skipped: 0 })
    const second = await ws.json(["run"])
    expect(statuses(second.events)).toEqual({ a: "cached", b: "cached", c: "cached", side: "cached" })
    expect(summary(second.events)).toMatchObject({ ran: 0, cached: 4 })
    expect(ws.ranLog()).toEqual(["a", "b", "c", "side"])
    // Keys are stable: the same stage has the same key on both runs.
    expect(second.events[0]!["key"]).toBe(first.events[0]!["key"])
    expect(second.events[0]!["key"]).toMatch(/^[0-9a-f]{64}$/)
  })

  it("reruns a changed stage and its dependents only, saying why", async () => {
    ws = workspace({ "pipeline.yaml": PIPELINE })
    await ws.pipe(["run"])
    ws.write("pipeline.yaml", PIPELINE.replace("params: { m: 10 }", "params: { m: 11 }"))
    const r = await ws.pipe(["run"])
    expect(r.code).toBe(0)
    expect(r.stdout).toContain("▶ b: running (params changed: m 10 -> 11)")
    expect(r.stdout).toContain("▶ c: running (input b changed)")
    expect(r.stdout).toContain("· a: cached (up to date)")
    expect(r.stdout).toContain("· side: cached (up to date)")
    expect(r.stdout).toContain("2 ran, 2 cached, 0 failed, 0 skipped")
    expect(ws.ranLog()).toEqual(["a", "b", "c", "side", "b", "c"])
  })

  it("cuts off downstream work when a rerun upstream stage produces identical output", async () => {
    ws = workspace({ "pipeline.yaml": PIPELINE })
    await ws.pipe(["run"])
    // `note` enters a's key but not its output.
    const r = await ws.json(["run", "--set", "a.note=y"])
    expect(statuses(r.events)).toEqual({ a: "ran", b: "cached", c: "cached", side: "cached" })
    expect(r.events.find((e) => e["stage"] === "a")).toMatchObject({ reason: 'params changed: note "x" -> "y"' })
    expect(ws.ranLog()).toEqual(["a", "b", "c", "side", "a"])
  })

  it("restores a key seen many runs ago from the run-cache", async () => {
    ws = workspace({ "pipeline.yaml": PIPELINE })
    await ws.pipe(["run", "--set", "b.m=1"])
    await ws.pipe(["run", "--set", "b.m=2"])
    await ws.pipe(["run", "--set", "b.m=3"])
    const before = ws.ranLog().length
    const r = await ws.json(["run", "--set", "b.m=1"])
    expect(statuses(r.events)).toEqual({ a: "cached", b: "cached", c: "cached", side: "cached" })
    expect(r.events.find((e) => e["stage"] === "b")!["reason"]).toMatch(/^restored from run-cache \(run #\d+\)$/)
    expect(ws.ranLog().length).toBe(before)
    // and the next change is explained against the restored run, not the last one that ran
    const next = await ws.json(["run", "--set", "b.m=4"])
    expect(next.events.find((e) => e["stage"] === "b")).toMatchObject({ status: "ran", reason: "params changed: m 1 -> 4" })
  })

  it("--set values are typed like YAML", async () => {
    ws = workspace({ "pipeline.yaml": PIPELINE })
    await ws.pipe(["run"])
    const r = await ws.json(["run", "--set", "b.m=10"])
    expect(statuses(r.events)["b"]).toBe("cached")
    const s = await ws.json(["run", "--set", "b.m=\"10\""])
    expect(s.events.find((e) => e["stage"] === "b")).toMatchObject({ status: "ran", reason: 'params changed: m 10 -> "10"' })
  })

  it("runs only the named stages and what they need", async () => {
    ws = workspace({ "pipeline.yaml": PIPELINE })
    const r = await ws.json(["run", "b"])
    expect(statuses(r.events)).toEqual({ a: "ran", b: "ran" })
    expect(ws.ranLog()).toEqual(["a", "b"])
    const bad = await ws.pipe(["run", "bb"])
    expect(bad.code).toBe(2)
    expect(bad.stderr).toBe("pipe: unknown stage 'bb' (did you mean 'b'?); stages: a, b, c, side")
  })

  it("--force reruns cached stages", async () => {
    ws = workspace({ "pipeline.yaml": PIPELINE })
    await ws.pipe(["run"])
    const r = await ws.json(["run", "--force", "a"])
    expect(r.events.filter((e) => e["event"] === "stage")).toMatchObject([{ stage: "a", status: "ran", reason: "--force" }])
    // a named stage is forced alone; its upstream stays cached
    const b = await ws.json(["run", "--force", "b"])
    expect(statuses(b.events)).toEqual({ a: "cached", b: "ran" })
    const all = await ws.json(["run", "--force"])
    expect(summary(all.events)).toMatchObject({ ran: 4, cached: 0 })
  })

  it("reruns a stage when a file or directory in its deps changes", async () => {
    ws = workspace({
      "pipeline.yaml": `
name: deps
stages:
  build:
    kind: command
    cmd: [sh, script.sh]
    deps: [script.sh, data]
`,
      "script.sh": 'echo build >> ran.log; cat data/*.txt > "$PIPE_OUT/all.txt"\n'
    })
    mkdirSync(join(ws.dir, "data"))
    ws.write("data/one.txt", "1\n")
    expect(statuses((await ws.json(["run"])).events)).toEqual({ build: "ran" })
    expect(statuses((await ws.json(["run"])).events)).toEqual({ build: "cached" })
    ws.write("data/two.txt", "2\n")
    const r = await ws.json(["run"])
    expect(r.events[0]).toMatchObject({ status: "ran", reason: "dep changed: data" })
    ws.write("script.sh", 'echo build >> ran.log; cat data/*.txt data/*.txt > "$PIPE_OUT/all.txt"\n')
    expect((await ws.json(["run"])).events[0]).toMatchObject({ status: "ran", reason: "dep changed: script.sh" })
    expect(ws.ranLog()).toEqual(["build", "build", "build"])
    rmSync(join(ws.dir, "script.sh"))
    const missing = await ws.pipe(["run"])
    expect(missing.code).toBe(2)
    expect(missing.stderr).toContain(`pipeline.yaml:7:12 stages.build.deps[0]: script.sh: no such file or directory in ${ws.dir}`)
  })
})
