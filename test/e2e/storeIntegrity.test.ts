/**
 * The store as an attacker or an unlucky user meets it: symlinks in outputs, inputs and blobs changed in place
 * with their size and mtime put back, bit rot found later by verify, process groups whose ids were reused,
 * and store paths that cannot be made.
 */
import Database from "better-sqlite3"
import { execa } from "execa"
import { createHash } from "node:crypto"
import { chmodSync, lstatSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { basename, join } from "node:path"
import { afterEach, describe, expect, it } from "vitest"
import { statuses, workspace, type Workspace } from "../support/cli.js"

let ws: Workspace
afterEach(() => ws?.cleanup())

const sha = (path: string) => createHash("sha256").update(readFileSync(path)).digest("hex")

/** Every blob in a store is a regular file whose content hashes to its name. */
const blobsAreSound = (store: string): Array<string> => {
  const bad: Array<string> = []
  const dir = join(store, "blobs")
  for (const sub of readdirSync(dir)) {
    for (const name of readdirSync(join(dir, sub))) {
      const p = join(dir, sub, name)
      if (!lstatSync(p).isFile() || sha(p) !== name) bad.push(p)
    }
  }
  return bad
}

describe("symlinks in $PIPE_OUT", () => {
  it("that resolve inside it are stored as the files they point to, whatever the order of the names", async () => {
    ws = workspace({
      "pipeline.yaml": `
name: aliases
stages:
  before:
    kind: command
    cmd: [sh, -c, 'echo real > $PIPE_OUT/z-real.txt && ln -s z-real.txt $PIPE_OUT/a-alias.txt']
  after:
    kind: command
    cmd: [sh, -c, 'echo real > $PIPE_OUT/a-real.txt && ln -s a-real.txt $PIPE_OUT/z-alias.txt']
  reader:
    kind: command
    needs: [before, after]
    cmd: [sh, -c, 'cat $PIPE_IN_BEFORE/a-alias.txt $PIPE_IN_AFTER/z-alias.txt > $PIPE_OUT/both']
`
    })
    const r = await ws.json(["run"])
    expect(r.code).toBe(0)
    expect(statuses(r.events)).toEqual({ before: "ran", after: "ran", reader: "ran" })
    const before = ws.artifact(r.events.find((e) => e["stage"] === "before")!["output"])
    expect(Object.keys(before).sort()).toEqual(["a-alias.txt", "z-real.txt"])
    expect(readFileSync(before["a-alias.txt"]!, "utf8")).toBe("real\n")
    expect(readFileSync(ws.artifact(r.events.find((e) => e["stage"] === "reader")!["output"])["both"]!, "utf8")).toBe("real\nreal\n")
    expect(blobsAreSound(join(ws.dir, ".pipe"))).toEqual([])
  })

  it("a few folders deep never change a file outside the store", async () => {
    ws = workspace({})
    // From the store's blobs/<2 hex>/ folder, ../../../x is the workspace's x and ../../../../NAME is a file
    // beside the workspace: what a link stored as a link and then followed from there would reach.
    const outside = join(tmpdir(), `${basename(ws.dir)}-outside`)
    writeFileSync(outside, "outside\n")
    chmodSync(outside, 0o644)
    try {
      ws.write("x", "workspace\n")
      chmodSync(join(ws.dir, "x"), 0o644)
      ws.write(
        "pipeline.yaml",
        `
name: deep
stages:
  three:
    kind: command
    cmd: [sh, -c, 'mkdir -p $PIPE_OUT/a/b/c && echo in > $PIPE_OUT/x && ln -s ../../../x $PIPE_OUT/a/b/c/link']
  four:
    kind: command
    cmd: [sh, -c, 'mkdir -p $PIPE_OUT/a/b/c/d && echo in > $PIPE_OUT/${basename(outside)} && ln -s ../../../../${basename(outside)} $PIPE_OUT/a/b/c/d/link']
`
      )
      const r = await ws.json(["run"])
      expect(r.code).toBe(0)
      expect(statuses(r.events)).toEqual({ three: "ran", four: "ran" })
      expect(statSync(join(ws.dir, "x")).mode & 0o777).toBe(0o644)
      expect(statSync(outside).mode & 0o777).toBe(0o644)
      expect(readFileSync(outside, "utf8")).toBe("outside\n")
      const three = ws.artifact(r.events[0]!["output"])
      expect(readFileSync(three["a/b/c/link"]!, "utf8")).toBe("in\n")
      expect(blobsAreSound(join(ws.dir, ".pipe"))).toEqual([])
    } finally {
      rmSync(outside, { force: true })
    }
  })
})

describe("a stage that replaces $PIPE_OUT", () => {
  it("by a link to a workspace directory fails, and the directory's files stay where they are", async () => {
    ws = workspace({
      "pipeline.yaml": "name: swap\nstages:\n  a:\n    kind: command\n    cmd: [sh, -c, 'rm -rf $PIPE_OUT && ln -s $PWD/precious $PIPE_OUT']\n"
    })
    mkdirSync(join(ws.dir, "precious"))
    ws.write("precious/data.txt", "keep me\n")
    const r = await ws.json(["run"])
    expect(r.code).toBe(1)
    expect(r.events[0]).toMatchObject({ status: "failed", error: "$PIPE_OUT was replaced by a link; write files into it instead" })
    expect(ws.read("precious/data.txt")).toBe("keep me\n")
    expect(readdirSync(join(ws.dir, ".pipe", "tmp"))).toEqual([])
  })
})

const TWO = `
name: consumers
stages:
  a:
    kind: command
    cmd: [sh, -c, 'printf original > $PIPE_OUT/f.txt']
  b:
    kind: command
    needs: [a]
    params: { n: 1 }
    cmd: [sh, -c, 'cat $PIPE_IN_A/f.txt > $PIPE_OUT/out; echo \${params.n} >> $PIPE_OUT/out']
`

describe("bytes changed in place, with size and mtime put back", () => {
  it("in a stage's input: the stage fails, and nothing is recorded against the input's hash", async () => {
    ws = workspace({
      "pipeline.yaml": `
name: sly
stages:
  a:
    kind: command
    cmd: [sh, -c, 'printf original > $PIPE_OUT/f.txt']
  b:
    kind: command
    needs: [a]
    cmd: [sh, -c, 'f=$PIPE_IN_A/f.txt; t=$(stat -c %y $f); chmod u+w $f; printf ORIGINAL > $f; touch -d "$t" $f; cat $f > $PIPE_OUT/out']
`
    })
    const r = await ws.json(["run"])
    expect(r.code).toBe(1)
    expect(r.events.find((e) => e["stage"] === "b")).toMatchObject({
      status: "failed",
      error: "the stage modified its input from a (f.txt); inputs are read-only: write to $PIPE_OUT instead"
    })
    expect(readFileSync(ws.artifact(r.events[0]!["output"])["f.txt"]!, "utf8")).toBe("original")
    const d = ws.db()
    expect(d.prepare("SELECT count(*) AS n FROM runs WHERE stage = 'b' AND status = 'ok'").get()).toEqual({ n: 0 })
    d.close()
  })

  it("in a stored blob: seen before anything reads it, and its producer runs again", async () => {
    ws = workspace({ "pipeline.yaml": TWO })
    const first = await ws.json(["run"])
    expect(first.code).toBe(0)
    const blob = ws.artifact(first.events[0]!["output"])["f.txt"]!
    // the exact (nanosecond) mtime is put back, with touch -r from a file that kept it
    await execa("touch", ["-r", blob, join(ws.dir, "stamp")])
    chmodSync(blob, 0o644)
    writeFileSync(blob, "ORIGINAL")
    await execa("touch", ["-r", join(ws.dir, "stamp"), blob])
    chmodSync(blob, 0o444)
    const d = ws.db()
    expect(String(statSync(blob, { bigint: true }).mtimeNs)).toBe((d.prepare("SELECT mtime_ns FROM blobs WHERE hash = ?").get(basename(blob)) as { mtime_ns: string }).mtime_ns)
    d.close()
    // a new consumer (another param) must not read the changed bytes
    const second = await ws.json(["run", "--set", "b.n=2"])
    expect(second.code).toBe(0)
    expect(second.events.find((e) => e["stage"] === "a")).toMatchObject({ status: "ran", reason: expect.stringContaining("cached output damaged") })
    expect(second.events.find((e) => e["stage"] === "b")).toMatchObject({ status: "ran" })
    expect(readFileSync(ws.artifact(second.events[1]!["output"])["out"]!, "utf8")).toBe("original2\n")
    expect(blobsAreSound(join(ws.dir, ".pipe"))).toEqual([])
  })

  it("found later by verify (bit rot): the runs that read the blob since it was last known good are redone", async () => {
    ws = workspace({ "pipeline.yaml": TWO })
    expect((await ws.json(["run"])).code).toBe(0) // b with n=1 reads the good bytes
    expect((await ws.pipe(["verify"])).code).toBe(0) // ...and they are known good after it
    const first = await ws.json(["run"])
    const blob = ws.artifact(first.events[0]!["output"])["f.txt"]!
    // Rot: the bytes change and nothing in the file's stat says so (a disk error keeps ctime too).
    chmodSync(blob, 0o644)
    writeFileSync(blob, "ORIGINAL")
    chmodSync(blob, 0o444)
    const db = new Database(join(ws.dir, ".pipe", "pipe.db"))
    const now = statSync(blob, { bigint: true })
    db.prepare("UPDATE blobs SET mtime_ns = ?, ctime_ns = ?, ino = ? WHERE hash = ?").run(
      String(now.mtimeNs),
      String(now.ctimeNs),
      String(now.ino),
      basename(blob)
    )
    db.close()
    const rotten = await ws.json(["run", "--set", "b.n=3"]) // reads the rotten bytes, unknowingly
    expect(statuses(rotten.events)).toEqual({ a: "cached", b: "ran" })
    const v = await ws.pipe(["verify", "--json"])
    expect(v.code).toBe(1)
    expect(JSON.parse(v.stdout)).toMatchObject({ damagedRuns: 1, invalidatedRuns: 1 })
    // a is rebuilt; b with n=3 read the blob after it was last known good and runs again; b with n=1 did not
    const again = await ws.json(["run", "--set", "b.n=3"])
    expect(statuses(again.events)).toEqual({ a: "ran", b: "ran" })
    expect(again.events[1]).toMatchObject({ reason: expect.stringContaining("which pipe verify later found corrupt") })
    expect(readFileSync(ws.artifact(again.events[1]!["output"])["out"]!, "utf8")).toBe("original3\n")
    const old = await ws.json(["run"])
    expect(statuses(old.events)).toEqual({ a: "cached", b: "cached" })
  })
})

describe("the reaper", () => {
  it("kills a dead pipe's stage group only while that group is still the stage's", async () => {
    ws = workspace({ "pipeline.yaml": TWO })
    expect((await ws.json(["run"])).code).toBe(0)
    // An unrelated process that leads its own group, and a pipe pid that is certainly dead.
    const bystander = execa("sleep", ["30"], { detached: true, reject: false })
    const dead = (await execa("sh", ["-c", "echo $$"])).stdout
    const fake = (pstart: string) => {
      const db = new Database(join(ws.dir, ".pipe", "pipe.db"))
      db.prepare(
        `INSERT INTO runs (key, pipeline, stage, kind, status, reason, record, pid, pstart, started_at, child_pgid, child_pstart)
         VALUES ('k', 'consumers', 'b', 'command', 'running', 'r', '{"inputs":{}}', ?, NULL, 0, ?, ?)`
      ).run(Number(dead), bystander.pid, pstart)
      db.close()
    }
    try {
      fake("1") // the group id was reused: its leader started at another time
      expect((await ws.pipe(["status"])).code).toBe(0)
      expect(() => process.kill(bystander.pid!, 0)).not.toThrow()
      const start = readFileSync(`/proc/${bystander.pid}/stat`, "utf8").split(") ")[1]!.split(" ")[19]!
      fake(start) // the same process: killed
      expect((await ws.pipe(["status"])).code).toBe(0)
      const r = await bystander
      expect(r.signal).toBe("SIGKILL")
      const d = ws.db()
      expect(d.prepare("SELECT count(*) AS n FROM runs WHERE status = 'interrupted'").get()).toEqual({ n: 2 })
      d.close()
    } finally {
      bystander.kill("SIGKILL")
    }
  })
})

describe("gc", () => {
  it("removes a dropped run's log from the store's logs/, never the path its record names", async () => {
    ws = workspace({ "pipeline.yaml": TWO, "precious.txt": "keep me\n" })
    expect((await ws.json(["run"])).code).toBe(0)
    expect((await ws.json(["run", "--set", "b.n=2"])).code).toBe(0)
    const db = new Database(join(ws.dir, ".pipe", "pipe.db"))
    const old = db.prepare("SELECT id FROM runs WHERE stage = 'b' ORDER BY id LIMIT 1").get() as { id: number }
    db.prepare("UPDATE runs SET log_path = ? WHERE id = ?").run(join(ws.dir, "precious.txt"), old.id)
    db.close()
    const r = await ws.pipe(["gc", "--set", "b.n=2", "--json"])
    expect(r.code).toBe(0)
    expect(JSON.parse(r.stdout)).toMatchObject({ removedRuns: 1, removedLogs: 1 })
    expect(ws.read("precious.txt")).toBe("keep me\n")
    expect(readdirSync(join(ws.dir, ".pipe", "logs")).sort()).not.toContain(`${old.id}.log`)
  })
})

describe("store paths that cannot be used", () => {
  const ONE = "name: one\nstages:\n  a:\n    kind: command\n    cmd: [sh, -c, 'echo a > $PIPE_OUT/a']\n"

  it("fail at once with exit 3 and the reason", async () => {
    ws = workspace({ "pipeline.yaml": ONE, "file.txt": "not a store\n" })
    const proc = await ws.pipe(["run", "--store", "/proc/nope/store"])
    expect(proc.code).toBe(3)
    expect(proc.stderr).toMatch(/cannot (create|use) \/proc\/nope/)
    const file = await ws.pipe(["status", "--store", "file.txt"])
    expect(file.code).toBe(3)
    expect(file.stderr).toContain(`${join(ws.dir, "file.txt")} is not a directory`)
    expect((await ws.pipe(["runs", "--store", "file.txt"])).code).toBe(3)
    expect((await ws.pipe(["run"])).code).toBe(0)
    const underFile = await ws.pipe(["push", join(ws.dir, "file.txt", "remote")])
    expect(underFile.code).toBe(3)
    expect(underFile.stderr).toContain(`${join(ws.dir, "file.txt")} is not a directory`)
    const proc2 = await ws.pipe(["push", "/proc/foo"])
    expect(proc2.code).toBe(3)
    expect(proc2.stderr).toMatch(/cannot (create|use) \/proc\/foo/)
  }, 30_000)
})
