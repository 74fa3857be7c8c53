/**
 * `pipe push s3://...` and `pipe pull s3://...` through the built CLI against a real S3-compatible server
 * (s3rver on 127.0.0.1, started here): runs go up with their blobs and logs, come down into an empty store as a
 * fully cached pipeline, and a blob changed in the bucket or a server that is not there stops a pull (exit 3).
 */
import { GetObjectCommand, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3"
import { existsSync, readFileSync } from "node:fs"
import { createServer } from "node:net"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { rawClient, startS3, type S3Server } from "../support/s3server.js"
import { statuses, workspace, type Workspace } from "../support/cli.js"

const PIPELINE = `
name: relay
stages:
  first:
    kind: command
    cmd: [sh, -c, 'echo first >> ran.log; echo hello from first; printf "one\\n" > $PIPE_OUT/one.txt; printf "#!/bin/sh\\n" > $PIPE_OUT/run.sh; chmod +x $PIPE_OUT/run.sh']
  second:
    kind: command
    needs: [first]
    cmd: [sh, -c, 'echo second >> ran.log; cat $PIPE_IN_FIRST/one.txt > $PIPE_OUT/two.txt; echo two >> $PIPE_OUT/two.txt']
  third:
    kind: command
    needs: [second]
    cmd: [sh, -c, 'echo third >> ran.log; mkdir -p $PIPE_OUT/deep/er; cat $PIPE_IN_SECOND/two.txt > $PIPE_OUT/deep/er/three.txt; echo three >> $PIPE_OUT/deep/er/three.txt']
`

let s3: S3Server
let ws: Workspace
let raw: S3Client
let outputs: Record<string, string>
beforeAll(async () => {
  s3 = await startS3()
  raw = await rawClient(s3)
  ws = workspace({ "pipeline.yaml": PIPELINE })
  const r = await ws.json(["run"])
  expect(r.code).toBe(0)
  outputs = Object.fromEntries(r.events.filter((e) => e["event"] === "stage").map((e) => [e["stage"], e["output"]]))
})
afterAll(async () => {
  ws?.cleanup()
  raw?.destroy()
  await s3?.stop()
})

const url = (prefix: string) => `s3://${s3.bucket}/${prefix}`
const pipe = (w: Workspace, args: ReadonlyArray<string>, env: Record<string, string> = {}) => w.pipe(args, { ...s3.env, ...env })
const json = async (w: Workspace, args: ReadonlyArray<string>, env: Record<string, string> = {}) => {
  const r = await pipe(w, [...args, "--json"], env)
  return { ...r, events: r.stdout.split("\n").filter((l) => l.trim()).map((l) => JSON.parse(l) as Record<string, any>) }
}

describe("push and pull through an S3 remote", () => {
  it("push sends each run once; pull into an empty store gives a fully cached run, logs and all", async () => {
    const push = await json(ws, ["push", url("team/a")])
    expect(push.code, push.stderr).toBe(0)
    expect(push.events[0]).toMatchObject({ event: "push", remote: url("team/a"), blobs: 4, missing: [] })
    expect(push.events[0]!["copied"].map((c: any) => c.stage)).toEqual(["first", "second", "third"])
    const again = await pipe(ws, ["push", url("team/a")])
    expect(again.code).toBe(0)
    expect(again.stdout).toContain("0 runs pushed, 3 already there; 0 blobs copied")

    const key = push.events[0]!["copied"][2].key as string
    const rec = JSON.parse(await (await raw.send(new GetObjectCommand({ Bucket: s3.bucket, Key: `team/a/runs/${key}.json` }))).Body!.transformToString())
    expect(rec).toMatchObject({ format: "pipe-run/1", copy: { run: { key, stage: "third", output: outputs["third"] } } })

    const fresh = workspace({ "pipeline.yaml": PIPELINE })
    try {
      const pull = await json(fresh, ["pull", url("team/a")])
      expect(pull.code, pull.stderr).toBe(0)
      expect(pull.events[0]!["copied"].map((c: any) => c.stage)).toEqual(["first", "second", "third"])
      expect(pull.events[0]).toMatchObject({ blobs: 4, missing: [], present: [] })
      const run = await fresh.json(["run"])
      expect(statuses(run.events)).toEqual({ first: "cached", second: "cached", third: "cached" })
      expect(fresh.ranLog()).toEqual([])
      const third = run.events.find((e) => e["stage"] === "third")!["output"]
      expect(third).toBe(outputs["third"])
      expect(readFileSync(fresh.artifact(third)["deep/er/three.txt"]!, "utf8")).toBe("one\ntwo\nthree\n")
      const log = fresh.db().prepare("SELECT log_path FROM runs WHERE stage = 'first'").get() as { log_path: string }
      expect(readFileSync(log.log_path, "utf8")).toContain("hello from first")
      expect((await fresh.pipe(["verify"])).code).toBe(0)
      const twice = await pipe(fresh, ["pull", url("team/a")])
      expect(twice.stdout).toContain("0 runs pulled, 3 already there")
    } finally {
      fresh.cleanup()
    }
  })

  it("a pull from an empty prefix says what is missing and records nothing", async () => {
    const fresh = workspace({ "pipeline.yaml": PIPELINE })
    try {
      const pull = await pipe(fresh, ["pull", url("nothing/here")])
      expect(pull.code, pull.stderr).toBe(0)
      expect(pull.stdout).toContain(`not pulled: first is missing in ${url("nothing/here")} (no run with key`)
      expect(pull.stdout).toContain("not pulled: second is pending")
      expect(pull.stdout).toContain("0 runs pulled, 0 already there")
    } finally {
      fresh.cleanup()
    }
  })

  it("a blob rewritten in the bucket stops the pull before its run is recorded", async () => {
    expect((await pipe(ws, ["push", url("tampered")])).code).toBe(0)
    const blob = ws.artifact(outputs["third"]!)["deep/er/three.txt"]!.split("/").pop()!
    await raw.send(new PutObjectCommand({ Bucket: s3.bucket, Key: `tampered/blobs/${blob.slice(0, 2)}/${blob}`, Body: "one\ntwo\nthree!\n" }))
    const fresh = workspace({ "pipeline.yaml": PIPELINE })
    try {
      const pull = await pipe(fresh, ["pull", url("tampered")])
      expect(pull.code).toBe(3)
      expect(pull.stderr).toContain(`blob ${blob} in ${url("tampered")} does not match its hash`)
      const runs = fresh.db().prepare("SELECT stage FROM runs ORDER BY id").all() as Array<{ stage: string }>
      expect(runs.map((r) => r.stage)).toEqual(["first", "second"])
      expect(existsSync(fresh.artifact(outputs["second"]!)["two.txt"]!)).toBe(true)
      const run = await fresh.json(["run"])
      expect(statuses(run.events)).toEqual({ first: "cached", second: "cached", third: "ran" })
    } finally {
      fresh.cleanup()
    }
  })

  it("an unreachable endpoint or an unknown scheme is exit 3 naming the URL", async () => {
    const port = await new Promise<number>((res) => {
      const srv = createServer().listen(0, "127.0.0.1", () => {
        const p = (srv.address() as { port: number }).port
        srv.close(() => res(p))
      })
    })
    const t0 = Date.now()
    const gone = await pipe(ws, ["push", url("x")], { AWS_ENDPOINT_URL: `http://127.0.0.1:${port}` })
    expect(gone.code).toBe(3)
    expect(gone.stderr).toContain(`cannot reach ${url("x")} (endpoint http://127.0.0.1:${port})`)
    expect(Date.now() - t0).toBeLessThan(15_000)
    const http = await pipe(ws, ["pull", "http://example.com/store"])
    expect(http.code).toBe(3)
    expect(http.stderr).toContain("http:// remotes are not supported; use a directory, file:///path or s3://bucket/prefix")
  })
})
