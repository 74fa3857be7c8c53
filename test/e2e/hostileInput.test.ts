/**
 * Pipeline files and command lines that are hostile or merely odd: alias bombs, files pipe cannot read, deps
 * that leave the workspace, YAML tags. Each ends in a clear error with exit 2 (never "internal error" or a
 * library's warning), and a large legitimate file still loads.
 */
import { execFileSync } from "node:child_process"
import { execa } from "execa"
import { chmodSync, existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { afterEach, describe, expect, it } from "vitest"
import { PIPE, statuses, workspace, type Workspace } from "../support/cli.js"

let ws: Workspace
afterEach(() => ws?.cleanup())

/** The character a "file:line:col" location points at. */
const charAt = (text: string, location: string): string => {
  const m = /:(\d+):(\d+)$/.exec(location)
  if (!m) throw new Error(`not a located problem: ${location}`)
  return text.split("\n")[Number(m[1]) - 1]![Number(m[2]) - 1]!
}

const noCrash = (stderr: string) => {
  expect(stderr).not.toContain("internal error")
  expect(stderr).not.toMatch(/Warning|    at /)
}

describe("YAML aliases", () => {
  // Nine levels of nine aliases each: 9^9 (387 million) strings from 11 short lines.
  const levels = "abcdefghi".split("")
  const BOMB =
    "name: lol\nstages:\n  s:\n    kind: command\n    cmd: [sh, -c, 'echo s >> ran.log']\n    params:\n" +
    levels
      .map((l, i) => `      ${l}: &${l} [${Array(9).fill(i === 0 ? "lol" : `*${levels[i - 1]}`).join(", ")}]\n`)
      .join("")

  it("a billion-laughs file is refused quickly, located at the alias that crosses the limit, by run, status and dag", async () => {
    ws = workspace({ "pipeline.yaml": BOMB })
    const start = Date.now()
    const r = await ws.pipe(["run"])
    expect(Date.now() - start).toBeLessThan(15_000)
    expect(r.code).toBe(2)
    noCrash(r.stderr)
    const [problem, closing] = r.stderr.split("\n")
    expect(problem).toMatch(
      /^pipeline\.yaml:\d+:\d+ stages\.s\.params\.[a-i]\[\d\]: alias \*[a-i] expands the document past 1,000,000 values \(each alias is a full copy of its anchor\); nest fewer aliases or write the values out$/
    )
    expect(charAt(BOMB, problem!.split(" ")[0]!)).toBe("*")
    expect(closing).toBe("pipeline.yaml: 1 problem; nothing ran")
    expect(ws.ranLog()).toEqual([])
    expect(existsSync(join(ws.dir, ".pipe"))).toBe(false)

    const json = await ws.json(["run"])
    expect(json.code).toBe(2)
    expect(json.events).toEqual([
      {
        event: "error",
        code: 2,
        error: "PipelineInvalid",
        problems: [{ location: problem!.split(" ")[0], path: expect.stringMatching(/^stages\.s\.params\./), message: expect.stringContaining("past 1,000,000 values") }]
      }
    ])
    for (const cmd of ["status", "dag"]) {
      const q = await ws.pipe([cmd])
      expect(q.code).toBe(2)
      expect(q.stderr).toBe(r.stderr)
    }
  })

  it("a file of 5,000 stages sharing params through one anchor loads", async () => {
    let yaml = "name: wide\nstages:\n  s0:\n    kind: command\n    cmd: [\"true\"]\n    params: &p { lr: 0.001, layers: [64, 32], opts: { a: 1, b: two } }\n"
    for (let i = 1; i < 5000; i++) yaml += `  s${i}: { kind: command, cmd: ["true"], params: *p }\n`
    ws = workspace({ "pipeline.yaml": yaml })
    const dag = await ws.pipe(["dag"])
    expect(dag.code).toBe(0)
    expect(dag.stderr).toBe("")
    expect(dag.stdout).toContain("s4999")
    const status = await ws.pipe(["status", "--json"])
    expect(status.code).toBe(0)
    const rows = status.stdout.split("\n").filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>)
    expect(rows.filter((e) => e["event"] === "plan")).toHaveLength(5000)
    expect(rows.at(-1)).toEqual({ event: "summary", fresh: 0, stale: 5000, pending: 0 })
  }, 60_000)

  it("an alias inside the value it names, or with no anchor, is a located problem", async () => {
    const text = "name: p\nstages:\n  s: &s\n    kind: command\n    cmd: [\"true\"]\n    params: { me: *s, other: *nope }\n"
    ws = workspace({ "pipeline.yaml": text })
    const r = await ws.pipe(["run"])
    expect(r.code).toBe(2)
    noCrash(r.stderr)
    expect(r.stderr).toBe(
      [
        "pipeline.yaml:6:19 stages.s.params.me: alias *s is inside the value it names (&s), which would make it infinite",
        "pipeline.yaml:6:30 stages.s.params.other: alias *nope names no anchor: &nope must come before it",
        "pipeline.yaml: 2 problems; nothing ran"
      ].join("\n")
    )
    expect(charAt(text, "x:6:19")).toBe("*")
  })
})

describe("YAML keys", () => {
  it("a list or map as a key is a located problem, not a library warning", async () => {
    ws = workspace({ "pipeline.yaml": "name: p\nstages:\n  s:\n    kind: command\n    cmd: [\"true\"]\n    params: { [a, b]: 1 }\n" })
    const r = await ws.pipe(["run"])
    expect(r.code).toBe(2)
    noCrash(r.stderr)
    expect(r.stderr).toBe("pipeline.yaml:6:15 stages.s.params: a key must be a name or a number, not a list or map\npipeline.yaml: 1 problem; nothing ran")
  })
})

describe("pipeline files pipe cannot read", () => {
  const OK = "name: p\nstages:\n  s:\n    kind: command\n    cmd: [sh, -c, 'echo s >> ran.log']\n"

  it("a directory is named, with the fix", async () => {
    ws = workspace()
    mkdirSync(join(ws.dir, "sub"))
    for (const cmd of ["run", "status"]) {
      const r = await ws.pipe([cmd, "-f", "sub"])
      expect(r.code).toBe(2)
      expect(r.stderr).toBe("pipe: sub: is a directory, not a pipeline file; pass the file in it, e.g. -f sub/pipeline.yaml")
    }
    mkdirSync(join(ws.dir, "pipeline.yaml"))
    const r = await ws.json(["run"])
    expect(r.code).toBe(2)
    expect(r.events).toEqual([
      {
        event: "error",
        code: 2,
        error: "UsageError",
        message: "pipeline.yaml: is a directory, not a pipeline file; pass the file in it, e.g. -f pipeline.yaml/pipeline.yaml"
      }
    ])
  })

  it("a file that is not UTF-8 is refused at the bad byte, not read with replacement characters", async () => {
    ws = workspace()
    const before = Buffer.from("name: p\nstages:\n  s:\n    kind: command\n    cmd: [sh, -c, 'echo caf")
    writeFileSync(join(ws.dir, "pipeline.yaml"), Buffer.concat([before, Buffer.from([0xe9]), Buffer.from(" >> ran.log']\n")]))
    const expected = `pipeline.yaml:5:28: not valid UTF-8: byte 0xE9 at byte offset ${before.length}; save the file as UTF-8 (e.g. iconv -f latin1 -t utf-8)\npipeline.yaml: 1 problem; nothing ran`
    for (const cmd of ["run", "status"]) {
      const r = await ws.pipe([cmd])
      expect(r.code).toBe(2)
      expect(r.stderr).toBe(expected)
    }
    const json = await ws.json(["run"])
    expect(json.events).toEqual([
      { event: "error", code: 2, error: "PipelineInvalid", problems: [{ location: "pipeline.yaml:5:28", path: "", message: expect.stringContaining("byte 0xE9") }] }
    ])
    expect(ws.ranLog()).toEqual([])

    writeFileSync(join(ws.dir, "utf16.yaml"), Buffer.from("\ufeffname: p\n", "utf16le"))
    const u = await ws.pipe(["status", "-f", "utf16.yaml"])
    expect(u.code).toBe(2)
    expect(u.stderr).toBe("utf16.yaml:1:1: the file is UTF-16 (it starts with a UTF-16 byte order mark); save it as UTF-8\nutf16.yaml: 1 problem; nothing ran")
  })

  it("a named pipe is refused instead of waiting for a writer", async () => {
    ws = workspace()
    execFileSync("mkfifo", [join(ws.dir, "fifo.yaml")])
    const r = await ws.pipe(["run", "-f", "fifo.yaml"])
    expect(r.code).toBe(2)
    expect(r.stderr).toBe("pipe: fifo.yaml: not a regular file (a pipe, socket or device); pass a pipeline file (YAML, or a .ts/.js module)")
  }, 20_000)

  // root reads any file whatever its mode: as root, pipe runs without the capabilities that let it (setpriv,
  // from util-linux), so the mode is honoured as it is for any other user
  it("a file without read permission is named, with the fix", async () => {
    ws = workspace({ "pipeline.yaml": OK })
    chmodSync(join(ws.dir, "pipeline.yaml"), 0o000)
    const asRoot = process.getuid?.() === 0
    const run = await execa(asRoot ? "setpriv" : process.execPath, [...(asRoot ? ["--bounding-set=-dac_override,-dac_read_search", process.execPath] : []), PIPE, "run"], {
      cwd: ws.dir,
      reject: false,
      env: { NO_COLOR: "1", PIPE_STORE: "" },
      stdin: "ignore"
    })
    const r = { code: run.exitCode, stderr: run.stderr }
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(/^pipe: pipeline\.yaml: cannot read the pipeline file \(EACCES: permission denied.*\); check the permissions of it and of its directories$/)
  })
})

describe("deps", () => {
  const withDeps = (deps: string) =>
    `name: p\nstages:\n  s:\n    kind: command\n    cmd: [sh, -c, 'echo s >> ran.log']\n    deps: ${deps}\n`

  it("that are absolute or leave the workspace are located errors, and nothing runs", async () => {
    ws = workspace({ "pipeline.yaml": withDeps("[lib/a.txt, ../outside.txt, /etc/hostname, lib/../../x]"), "outside.txt": "" })
    mkdirSync(join(ws.dir, "lib"))
    ws.write("lib/a.txt", "a")
    const r = await ws.pipe(["run"])
    expect(r.code).toBe(2)
    expect(r.stderr).toBe(
      [
        "pipeline.yaml:6:23 stages.s.deps[1]: '../outside.txt' leaves the workspace; deps are paths inside the workspace, relative to it: to depend on a file elsewhere, link it into the workspace (ln -s ../outside.txt outside.txt) and name the link",
        "pipeline.yaml:6:39 stages.s.deps[2]: '/etc/hostname' is an absolute path; deps are paths inside the workspace, relative to it: to depend on a file elsewhere, link it into the workspace (ln -s /etc/hostname hostname) and name the link",
        "pipeline.yaml:6:54 stages.s.deps[3]: 'lib/../../x' leaves the workspace; deps are paths inside the workspace, relative to it: to depend on a file elsewhere, link it into the workspace (ln -s ../x x) and name the link",
        "pipeline.yaml: 3 problems; nothing ran"
      ].join("\n")
    )
    for (const [at, dep] of [["6:23", "../outside.txt"], ["6:39", "/etc/hostname"], ["6:54", "lib/../../x"]] as const) {
      const [line, col] = at.split(":").map(Number) as [number, number]
      expect(ws.read("pipeline.yaml").split("\n")[line - 1]!.slice(col - 1)).toMatch(new RegExp(`^${dep.replaceAll(".", "\\.")}[,\\]]`))
    }
    expect(ws.ranLog()).toEqual([])
    const json = await ws.json(["run"])
    expect(json.events[0]).toMatchObject({ event: "error", code: 2, problems: [{ path: "stages.s.deps[1]" }, { path: "stages.s.deps[2]" }, { path: "stages.s.deps[3]" }] })
  })

  it("inside the workspace still work: nested paths, paths through '..' that stay inside, symlinks to elsewhere", async () => {
    ws = workspace()
    const outside = workspace({ "shared.txt": "v1" })
    try {
      mkdirSync(join(ws.dir, "lib", "sub"), { recursive: true })
      ws.write("lib/sub/a.txt", "a1")
      symlinkSync(join(outside.dir, "shared.txt"), join(ws.dir, "shared.txt"))
      ws.write("pipeline.yaml", withDeps("[lib/sub/a.txt, ./lib/../lib/sub, shared.txt]"))
      const first = await ws.json(["run"])
      expect(first.code).toBe(0)
      expect(statuses(first.events)).toEqual({ s: "ran" })
      expect(statuses((await ws.json(["run"])).events)).toEqual({ s: "cached" })
      ws.write("lib/sub/a.txt", "a2")
      expect(statuses((await ws.json(["run"])).events)).toEqual({ s: "ran" })
      // the link's target is what enters the key
      outside.write("shared.txt", "v2")
      expect(statuses((await ws.json(["run"])).events)).toEqual({ s: "ran" })
      expect(ws.ranLog()).toEqual(["s", "s", "s"])
    } finally {
      outside.cleanup()
    }
  })
})

describe("YAML tags", () => {
  const PARAMS = "name: p\nstages:\n  s:\n    kind: command\n    cmd: [sh, -c, 'echo \"$PIPE_PARAMS\" > $PIPE_OUT/p; echo s >> ran.log']\n    params: { x: 1 }\n"

  it("in --set are a usage error that says how to pass the text, with no library warning", async () => {
    ws = workspace({ "pipeline.yaml": PARAMS })
    for (const cmd of ["run", "status"]) {
      const r = await ws.pipe([cmd, "--set", "s.x=!!binary aGVsbG8="])
      expect(r.code).toBe(2)
      expect(r.stderr).toBe(`pipe: --set s.x=!!binary aGVsbG8=: YAML tags (!!binary) are not supported here; to pass it as text, quote it: --set 's.x="!!binary aGVsbG8="'`)
    }
    const custom = await ws.pipe(["run", "--set", "s.x={a: [!custom 1]}"])
    expect(custom.code).toBe(2)
    expect(custom.stderr).toBe(`pipe: --set s.x={a: [!custom 1]}: YAML tags (!custom) are not supported here; to pass it as text, quote it: --set 's.x="{a: [!custom 1]}"'`)
    const json = await ws.json(["run", "--set", "s.x=!!timestamp 2001-12-14"])
    expect(json.code).toBe(2)
    expect(json.events).toEqual([{ event: "error", code: 2, error: "UsageError", message: expect.stringContaining("YAML tags (!!timestamp) are not supported here") }])
    expect(json.stderr).not.toMatch(/YAMLWarning|TAG_RESOLVE_FAILED|Unresolved tag/)
    expect(ws.ranLog()).toEqual([])
  })

  it("quoted, or in values YAML cannot read, are text", async () => {
    ws = workspace({ "pipeline.yaml": PARAMS })
    const r = await ws.json(["run", "--set", 's.x="!!binary aGVsbG8="'])
    expect(r.code).toBe(0)
    expect(r.stderr).toBe("")
    const stage = r.events.find((e) => e["event"] === "stage")!
    expect(stage["status"]).toBe("ran")
    expect(JSON.parse(readFileSync(ws.artifact(stage["output"])["p"]!, "utf8"))).toEqual({ x: "!!binary aGVsbG8=" })
    const glob = await ws.json(["run", "--set", "s.x=*.txt"])
    expect(glob.code).toBe(0)
    expect(glob.stderr).toBe("")
    const globbed = glob.events.find((e) => e["event"] === "stage")!
    expect(JSON.parse(readFileSync(ws.artifact(globbed["output"])["p"]!, "utf8"))).toEqual({ x: "*.txt" })
  })

  it("in a sweep's values are a usage error, on the command line and in the file", async () => {
    ws = workspace({ "pipeline.yaml": PARAMS })
    const cli = await ws.pipe(["sweep", "s.x=1,!!binary eA==", "--dry-run"])
    expect(cli.code).toBe(2)
    expect(cli.stderr).toBe(`pipe: s.x=1,!!binary eA==: YAML tags (!!binary) are not supported here; to pass it as text, quote it: "!!binary eA=="`)
    ws.write("pipeline.yaml", PARAMS + "sweeps:\n  g:\n    grid: { s.x: \"1, !!binary eA==\" }\n")
    const file = await ws.pipe(["sweep", "g", "--dry-run"])
    expect(file.code).toBe(2)
    noCrash(file.stderr)
    expect(file.stderr).toBe(
      `pipeline.yaml:9:18 sweeps.g.grid.s.x: YAML tags (!!binary) are not supported here; to pass it as text, quote it: "!!binary eA=="\npipeline.yaml: 1 problem; nothing ran`
    )
  })

  it("in the file stay text (as documented), with no library warning", async () => {
    ws = workspace({ "pipeline.yaml": PARAMS.replace("{ x: 1 }", "{ x: !!binary aGVsbG8=, y: !custom z }") })
    const ok = await ws.json(["run"])
    expect(ok.code).toBe(0)
    expect(ok.stderr).toBe("")
    const stage = ok.events.find((e) => e["event"] === "stage")!
    expect(JSON.parse(readFileSync(ws.artifact(stage["output"])["p"]!, "utf8"))).toEqual({ x: "aGVsbG8=", y: "z" })
  })
})
