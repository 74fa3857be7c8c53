/** Failures, crashes, concurrent runs and a damaged store: the cache stays consistent and says what it does. */
import { existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { setTimeout as sleep } from "node:timers/promises"
import { afterEach, describe, expect, it } from "vitest"
import { statuses, summary, workspace, type Workspace } from "../support/cli.js"

let ws: Workspace
afterEach(() => ws?.cleanup())


const waitFor = async (path: string, ms = 20_000) => {
  const end = Date.now() + ms
  while (!existsSync(path)) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${path}`)
    await sleep(50)
  }
}

describe("a failing stage", () => {
  const PIPELINE = `
name: fails
stages:
  a:
    kind: command
    cmd: [sh, -c, 'echo a >> ran.log; echo a > $PIPE_OUT/a']
  bad:
    kind: command
    needs: [a]
    cmd: [sh, -c, 'echo bad >> ran.log; echo partial > $PIPE_OUT/half; echo "boom: no GPU" >&2; exit 3']
  after:
    kind: command
    needs: [bad]
    cmd: [sh, -c, 'echo after >> ran.log']
  indep:
    kind: command
    needs: [a]
    cmd: [sh, -c, 'echo indep >> ran.log; echo i > $PIPE_OUT/i']
`
  it("skips its dependents, runs independent branches, exits 1 and shows the log", async () => {
    ws = workspace({ "pipeline.yaml": PIPELINE })
    const r = await ws.pipe(["run"])
    expect(r.code).toBe(1)
    expect(r.stdout).toContain("✗ bad: failed after")
    expect(r.stdout).toContain(": command exited with code 3\n  last 1 lines of the log:\n  | boom: no GPU\n  full log: .pipe/logs/2.log")
    expect(r.stdout).toContain("- after: skipped (needs bad, which failed)")
    expect(r.stdout).toContain("2 ran, 0 cached, 1 failed, 1 skipped")
    expect(ws.ranLog()).toEqual(["a", "bad", "indep"])
  })

  it("records nothing that a later run could reuse", async () => {
    ws = workspace({ "pipeline.yaml": PIPELINE })
    await ws.pipe(["run"])
    const again = await ws.json(["run"])
    expect(again.code).toBe(1)
    expect(statuses(again.events)).toEqual({ a: "cached", bad: "failed", after: "skipped", indep: "cached" })
    expect(again.events.find((e) => e["stage"] === "bad")).toMatchObject({ reason: "previous run failed", error: "command exited with code 3" })
    const d = ws.db()
    expect(d.prepare("SELECT status, output FROM runs WHERE stage = 'bad'").all()).toEqual([
      { status: "failed", output: null },
      { status: "failed", output: null }
    ])
    d.close()
    expect(readdirSync(join(ws.dir, ".pipe", "tmp"))).toEqual([])
  })
})

describe("kill -9 in the middle of a stage", () => {
  it("records no output; the stage's command dies with pipe, and the next run redoes exactly that stage and its dependents", async () => {
    ws = workspace({
      "pipeline.yaml": `
name: crash
stages:
  a:
    kind: command
    cmd: [sh, -c, 'echo a >> ran.log; echo a > $PIPE_OUT/a']
  slow:
    kind: command
    needs: [a]
    cmd: [sh, -c, 'echo slow >> ran.log; echo half > $PIPE_OUT/x; touch started; [ -f fast ] || sleep 60; echo done >> $PIPE_OUT/x']
  after:
    kind: command
    needs: [slow]
    cmd: [sh, -c, 'echo after >> ran.log; cat $PIPE_IN_SLOW/x > $PIPE_OUT/y']
`
    })
    const child = ws.spawn(["run"], {})
    await waitFor(join(ws.dir, "started"))
    const victim = child.pid!
    // kill -9 pipe alone, as a crash or OOM kill would: its stage's command (sh, sleep) dies with it, stopped
    // by the stage's watchdog without waiting for another pipe.
    // the watchdog, sh and its sleep (which sh starts just after it touches `started`)
    let orphans = childrenOf(victim)
    for (const end = Date.now() + 5000; orphans.length < 3 && Date.now() < end; orphans = childrenOf(victim)) await sleep(20)
    expect(orphans.length).toBeGreaterThanOrEqual(3)
    process.kill(victim, "SIGKILL")
    await child
    expect(await allGone(orphans)).toEqual([])
    const d = ws.db()
    expect(d.prepare("SELECT stage, status FROM runs ORDER BY id").all()).toEqual([
      { stage: "a", status: "ok" },
      { stage: "slow", status: "running" }
    ])
    expect(d.prepare("SELECT count(*) AS n FROM locks").get()).toEqual({ n: 1 })
    d.close()

    writeFileSync(join(ws.dir, "fast"), "")
    const r = await ws.json(["run"])
    expect(r.code).toBe(0)
    expect(statuses(r.events)).toEqual({ a: "cached", slow: "ran", after: "ran" })
    expect(r.events.find((e) => e["stage"] === "slow")).toMatchObject({ reason: "previous run was interrupted" })
    expect(ws.ranLog()).toEqual(["a", "slow", "slow", "after"])

    const d2 = ws.db()
    expect(d2.prepare("SELECT stage, status, error FROM runs WHERE stage = 'slow' ORDER BY id").all()).toEqual([
      { stage: "slow", status: "interrupted", error: `process ${victim} died while the stage ran` },
      { stage: "slow", status: "ok", error: null }
    ])
    expect(d2.prepare("SELECT count(*) AS n FROM locks").get()).toEqual({ n: 0 })
    d2.close()
    expect(readdirSync(join(ws.dir, ".pipe", "tmp"))).toEqual([])
  })
})

describe("Ctrl-C", () => {
  it("stops the running stage, exits 130, and the next run redoes only that stage", async () => {
    ws = workspace({
      "pipeline.yaml": `
name: interrupt
stages:
  a:
    kind: command
    cmd: [sh, -c, 'echo a >> ran.log; echo a > $PIPE_OUT/a']
  slow:
    kind: command
    needs: [a]
    cmd: [sh, -c, 'echo slow >> ran.log; [ -f fast ] || sleep 30; echo s > $PIPE_OUT/s']
`
    })
    const child = ws.spawn(["run"])
    while (!ws.ranLog().includes("slow")) await sleep(50)
    await sleep(200)
    const spawned = childrenOf(child.pid!)
    expect(spawned.length).toBeGreaterThanOrEqual(2) // sh and its sleep
    child.kill("SIGINT")
    const r = await child
    expect(r.exitCode).toBe(130)
    expect(String(r.stderr)).toContain("pipe: interrupted; finished stages are kept, the rest will run next time")
    // the whole command stopped, its children too
    expect(await allGone(spawned)).toEqual([])
    const d = ws.db()
    expect(d.prepare("SELECT stage, status FROM runs ORDER BY id").all()).toEqual([
      { stage: "a", status: "ok" },
      { stage: "slow", status: "interrupted" }
    ])
    expect(d.prepare("SELECT count(*) AS n FROM locks").get()).toEqual({ n: 0 })
    d.close()
    expect(readdirSync(join(ws.dir, ".pipe", "tmp"))).toEqual([])
    ws.write("fast", "")
    const again = await ws.json(["run"])
    expect(statuses(again.events)).toEqual({ a: "cached", slow: "ran" })
    expect(again.events[1]).toMatchObject({ reason: "previous run was interrupted" })
  })
})

/** Dead: no such process, or a zombie nobody has reaped yet. */
const isGone = (pid: number): boolean => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8")
    return stat.slice(stat.lastIndexOf(")") + 2).startsWith("Z")
  } catch {
    return true
  }
}

/** What a process is, for a failure message: its state and command line. */
const describe_ = (pid: number): string => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8")
    const cmd = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").join(" ").trim()
    return `${pid} (${stat.slice(stat.lastIndexOf(")") + 2).split(" ").slice(0, 4).join(" ")}) ${cmd}`
  } catch {
    return `${pid} (gone)`
  }
}

/**
 * The processes still alive after up to 15 s (the watchdog of a dead pipe takes a moment to notice; CI runs
 * test files in parallel on a loaded machine), each with its state and command line.
 */
const allGone = async (pids: ReadonlyArray<number>): Promise<Array<string>> => {
  const end = Date.now() + 15_000
  while (pids.some((p) => !isGone(p)) && Date.now() < end) await sleep(50)
  return pids.filter((p) => !isGone(p)).map(describe_)
}

/** Descendants of a process, from /proc (children first found breadth-first). */
const childrenOf = (pid: number): Array<number> => {
  const all = readdirSync("/proc").filter((n) => /^\d+$/.test(n))
  const parent = new Map<number, number>()
  for (const p of all) {
    try {
      const stat = readFileSync(`/proc/${p}/stat`, "utf8")
      parent.set(Number(p), Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]))
    } catch {}
  }
  const out: Array<number> = []
  const queue = [pid]
  while (queue.length) {
    const p = queue.shift()!
    for (const [c, pp] of parent) if (pp === p) (out.push(c), queue.push(c))
  }
  return out
}

describe("two pipe runs at once", () => {
  it("never run the same stage twice; the second waits and reuses the result", async () => {
    ws = workspace({
      "pipeline.yaml": `
name: concurrent
stages:
  slow:
    kind: command
    cmd: [sh, -c, 'echo slow >> ran.log; while [ ! -f go ]; do sleep 0.05; done; echo x > $PIPE_OUT/x']
  next:
    kind: command
    needs: [slow]
    cmd: [sh, -c, 'echo next >> ran.log; cp $PIPE_IN_SLOW/x $PIPE_OUT/']
`
    })
    const first = ws.spawn(["run", "--json"])
    await waitFor(join(ws.dir, "ran.log"))
    const second = ws.spawn(["run", "--json"])
    // The first finishes its stage only once the second is waiting for it, however slow the machine is.
    let said = ""
    await new Promise<void>((resolve) =>
      second.stderr!.on("data", (d: Buffer) => {
        said += String(d)
        if (said.includes("waiting for it")) resolve()
      })
    )
    ws.write("go", "")
    const [r1, r2] = await Promise.all([first, second])
    expect([r1.exitCode, r2.exitCode]).toEqual([0, 0])
    expect(ws.ranLog()).toEqual(["slow", "next"])
    const ev2 = String(r2.stdout).trim().split("\n").map((l) => JSON.parse(l))
    expect(ev2.find((e) => e.stage === "slow")).toMatchObject({ status: "cached" })
    expect(ev2.find((e) => e.stage === "slow").reason).toMatch(/^produced meanwhile by another run \(run #1\)$/)
    expect(String(r2.stderr)).toMatch(/slow: another pipe process \(pid \d+\) is running this stage; waiting for it/)
    expect(summary(ev2)).toMatchObject({ ran: 0, cached: 2 })
  })
})

describe("a damaged store", () => {
  const PIPELINE = `
name: damage
stages:
  a:
    kind: command
    cmd: [sh, -c, 'echo a >> ran.log; echo "some content" > $PIPE_OUT/a.txt']
  b:
    kind: command
    needs: [a]
    cmd: [sh, -c, 'echo b >> ran.log; cp $PIPE_IN_A/a.txt $PIPE_OUT/b.txt; echo more >> $PIPE_OUT/b.txt']
`
  const blobOf = (w: Workspace, stage: string) => {
    const d = w.db()
    const row = d
      .prepare("SELECT f.blob FROM runs r JOIN artifact_files f ON f.artifact = r.output WHERE r.stage = ? AND r.status = 'ok'")
      .get(stage) as { blob: string }
    d.close()
    return join(w.dir, ".pipe", "blobs", row.blob.slice(0, 2), row.blob)
  }

  it("detects a corrupted blob, reports it, and reruns the stage that produced it", async () => {
    ws = workspace({ "pipeline.yaml": PIPELINE })
    await ws.pipe(["run"])
    const blob = blobOf(ws, "a")
    const bytes = readFileSync(blob)
    bytes[0] = bytes[0]! ^ 0xff
    rmSync(blob, { force: true })
    writeFileSync(blob, bytes)
    const r = await ws.json(["run"])
    expect(r.code).toBe(0)
    const hash = blob.split("/").at(-1)!
    expect(r.events.find((e) => e["stage"] === "a")).toMatchObject({
      status: "ran",
      reason: `cached output damaged: blob ${hash.slice(0, 12)} corrupt`
    })
    // The rerun restored the same bytes, so b's input is unchanged.
    expect(statuses(r.events)["b"]).toBe("cached")
    expect(readFileSync(blob, "utf8")).toBe("some content\n")
    expect(readdirSync(join(ws.dir, ".pipe", "quarantine"))).toHaveLength(1)
    expect(ws.ranLog()).toEqual(["a", "b", "a"])
  })

  it("detects a missing blob the same way", async () => {
    ws = workspace({ "pipeline.yaml": PIPELINE })
    await ws.pipe(["run"])
    const blob = blobOf(ws, "b")
    rmSync(blob)
    const r = await ws.json(["run"])
    expect(statuses(r.events)).toEqual({ a: "cached", b: "ran" })
    expect(r.events.find((e) => e["stage"] === "b")!["reason"]).toMatch(/^cached output damaged: blob [0-9a-f]{12} missing$/)
    expect(existsSync(blob)).toBe(true)
  })
})

describe("a stage that writes into its input", () => {
  it("fails; the stored input, and the other stages that read it, are untouched", async () => {
    ws = workspace({
      "pipeline.yaml": `
name: tamper
stages:
  a:
    kind: command
    cmd: [sh, -c, 'echo a >> ran.log; echo original > $PIPE_OUT/f.txt']
  b:
    kind: command
    needs: [a]
    cmd: [sh, -c, 'echo b >> ran.log; chmod u+w $PIPE_IN_A/f.txt; echo tampered >> $PIPE_IN_A/f.txt; echo b > $PIPE_OUT/b']
  c:
    kind: command
    needs: [a]
    cmd: [sh, -c, 'cp $PIPE_IN_A/f.txt $PIPE_OUT/copy']
`
    })
    const r = await ws.json(["run"])
    expect(r.code).toBe(1)
    expect(r.events.find((e) => e["stage"] === "b")).toMatchObject({
      status: "failed",
      error: "the stage modified its input from a (f.txt); inputs are read-only: write to $PIPE_OUT instead"
    })
    // b wrote to its own copy: the stored output of a is intact, and c read it as it was made
    const copy = ws.artifact(r.events.find((e) => e["stage"] === "c")!["output"])["copy"]!
    expect(readFileSync(copy, "utf8")).toBe("original\n")
    expect(readFileSync(ws.artifact(r.events.find((e) => e["stage"] === "a")!["output"])["f.txt"]!, "utf8")).toBe("original\n")
    const next = await ws.json(["run", "c"])
    expect(statuses(next.events)).toEqual({ a: "cached", c: "cached" })
  })
})

describe("storing outputs", () => {
  it("does not trust a damaged blob when a stage produces the same content again", async () => {
    ws = workspace({
      "pipeline.yaml": `
name: reuse
stages:
  a:
    kind: command
    cmd: [sh, -c, 'echo hello > $PIPE_OUT/f.txt']
  b:
    kind: command
    needs: [a]
    cmd: [sh, -c, 'cp $PIPE_IN_A/f.txt $PIPE_OUT/g.txt']
`
    })
    const first = await ws.json(["run"])
    const blob = ws.artifact(first.events[0]!["output"])["f.txt"]!
    rmSync(blob)
    writeFileSync(blob, "EVIL!\n")
    const forced = await ws.json(["run", "--force", "a"])
    expect(forced.events[0]).toMatchObject({ status: "ran", output: first.events[0]!["output"] })
    expect(readFileSync(blob, "utf8")).toBe("hello\n")
    expect(readdirSync(join(ws.dir, ".pipe", "quarantine"))).toHaveLength(1)
    const b = await ws.json(["run", "--force", "b"])
    expect(readFileSync(ws.artifact(b.events[1]!["output"])["g.txt"]!, "utf8")).toBe("hello\n")
  })

  it("copies a workspace file that a stage hard-linked into its output, leaving the user's file alone", async () => {
    ws = workspace({
      "pipeline.yaml": "name: link\nstages:\n  a:\n    kind: command\n    cmd: [sh, -c, 'ln data.txt $PIPE_OUT/']\n",
      "data.txt": "v1\n"
    })
    const r = await ws.json(["run"])
    expect(r.code).toBe(0)
    const blob = ws.artifact(r.events[0]!["output"])["data.txt"]!
    const data = join(ws.dir, "data.txt")
    expect(statSync(data).mode & 0o777).toBe(0o644)
    expect(statSync(data).ino).not.toBe(statSync(blob).ino)
    writeFileSync(data, "v2\n")
    expect(readFileSync(blob, "utf8")).toBe("v1\n")
  })
})

describe("outputs", () => {
  it("rejects a symlink that escapes PIPE_OUT and stores internal ones as files", async () => {
    ws = workspace({
      "pipeline.yaml": `
name: links
stages:
  escape:
    kind: command
    cmd: [sh, -c, 'ln -s /etc/hostname $PIPE_OUT/host']
  inside:
    kind: command
    cmd: [sh, -c, 'mkdir $PIPE_OUT/d && echo hi > $PIPE_OUT/d/f && ln -s d/f $PIPE_OUT/link && chmod +x $PIPE_OUT/d/f']
  reader:
    kind: command
    needs: [inside]
    cmd: [sh, -c, 'cat $PIPE_IN_INSIDE/link > $PIPE_OUT/copy && test -x $PIPE_IN_INSIDE/d/f && ls -R $PIPE_IN_INSIDE > $PIPE_OUT/listing']
`
    })
    const r = await ws.json(["run"])
    expect(r.code).toBe(1)
    expect(r.events.find((e) => e["stage"] === "escape")).toMatchObject({
      status: "failed",
      error: "output host is a symlink to /etc/hostname, outside $PIPE_OUT; copy the file into $PIPE_OUT instead of linking it"
    })
    expect(statuses(r.events)).toEqual({ escape: "failed", inside: "ran", reader: "ran" })
    const d = ws.db()
    const files = d
      .prepare("SELECT f.path, f.size, f.exec FROM runs r JOIN artifact_files f ON f.artifact = r.output WHERE r.stage = 'inside' ORDER BY f.path")
      .all()
    d.close()
    expect(files).toEqual([
      { path: "d/f", size: 3, exec: 1 },
      { path: "link", size: 3, exec: 1 }
    ])
  })
})
