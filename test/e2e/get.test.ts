/** `pipe get`: an artifact's files copied out of the store, as a user fetches a model or a report. */
import { mkdirSync, readFileSync, statSync, symlinkSync } from "node:fs"
import { join } from "node:path"
import { afterEach, describe, expect, it } from "vitest"
import { workspace, type Workspace } from "../support/cli.js"

let ws: Workspace
afterEach(() => ws?.cleanup())

const PIPELINE = `
name: get
stages:
  s:
    kind: command
    cmd: [sh, -c, 'mkdir $PIPE_OUT/a && echo bee > $PIPE_OUT/a/b.txt && printf "#!/bin/sh\\necho hi\\n" > $PIPE_OUT/run.sh && chmod +x $PIPE_OUT/run.sh']
`

describe("pipe get", () => {
  it("copies a stage's output, or one file of it, keeping its layout, and never overwrites unasked", async () => {
    ws = workspace({ "pipeline.yaml": PIPELINE, "victim.txt": "keep\n" })
    expect((await ws.json(["run"])).code).toBe(0)
    const all = await ws.pipe(["get", "s", "-o", "out"])
    expect(all.code).toBe(0)
    expect(all.stdout).toContain("2 files of artifact")
    expect(readFileSync(join(ws.dir, "out/a/b.txt"), "utf8")).toBe("bee\n")
    expect(statSync(join(ws.dir, "out/run.sh")).mode & 0o777).toBe(0o755)
    expect(statSync(join(ws.dir, "out/a/b.txt")).mode & 0o777).toBe(0o644)

    const one = await ws.json(["get", "#1", "a/b.txt", "-o", "one"])
    expect(one.code).toBe(0)
    expect(one.events).toEqual([expect.objectContaining({ event: "file", path: "a/b.txt", to: join(ws.dir, "one/a/b.txt"), size: 4 })])

    const again = await ws.pipe(["get", "s", "-o", "out"])
    expect(again.code).toBe(2)
    expect(again.stderr).toContain("already exist; pass --force to replace")

    // A link where a file goes is replaced, not written through.
    mkdirSync(join(ws.dir, "linked/a"), { recursive: true })
    symlinkSync(join(ws.dir, "victim.txt"), join(ws.dir, "linked/a/b.txt"))
    expect((await ws.pipe(["get", "s", "a", "-o", "linked", "--force"])).code).toBe(0)
    expect(ws.read("victim.txt")).toBe("keep\n")
    expect(readFileSync(join(ws.dir, "linked/a/b.txt"), "utf8")).toBe("bee\n")

    const missing = await ws.pipe(["get", "s", "nope.txt"])
    expect(missing.code).toBe(2)
    expect(missing.stderr).toContain("has no file nope.txt; its files: a/b.txt, run.sh")
  })
})
