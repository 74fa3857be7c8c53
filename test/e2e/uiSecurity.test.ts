/**
 * `pipe ui` as an attacker meets it: raw HTTP requests (nothing normalises their paths) against a real server
 * over a real store. Traversal in file URLs, plain and encoded, a symlink planted in the store, an unknown hash,
 * a foreign Host header, a write method, a non-loopback bind without a token, a missing or wrong token: each is
 * refused, and no byte from outside the store comes back.
 */
import { readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs"
import { request } from "node:http"
import { join } from "node:path"
import { createInterface } from "node:readline"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { workspace, type Workspace } from "../support/cli.js"

const PIPELINE = `
name: sec
stages:
  data:
    kind: command
    cmd: [sh, -c, "mkdir -p $PIPE_OUT/sub && echo hello > $PIPE_OUT/a.txt && echo '<svg xmlns=\\"http://www.w3.org/2000/svg\\"><script>alert(1)</script></svg>' > $PIPE_OUT/sub/pic.svg && printf 'MZ' > $PIPE_OUT/tool.bin"]
`
const SECRET = "TOP-SECRET-OUTSIDE-THE-STORE"

interface Reply {
  readonly status: number
  readonly headers: Record<string, string | string[] | undefined>
  readonly body: string
}

/** A GET (or another method) sent as written: the path is not normalised, the Host is ours unless given. */
const raw = (port: number, path: string, headers: Record<string, string> = {}, method = "GET") =>
  new Promise<Reply>((ok, fail) => {
    const req = request({ host: "127.0.0.1", port, path, method, headers: { host: `127.0.0.1:${port}`, ...headers } }, (res) => {
      const chunks: Array<Buffer> = []
      res.on("data", (c: Buffer) => chunks.push(c))
      res.on("end", () => ok({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString("utf8") }))
    })
    req.on("error", fail)
    req.end()
  })

const serve = async (ws: Workspace, args: ReadonlyArray<string>, env: Record<string, string> = {}) => {
  const p = ws.spawn(["ui", "--port", "0", "--json", ...args], env)
  const line = await new Promise<string>((ok, fail) => {
    createInterface({ input: p.stdout! }).once("line", ok)
    p.catch(fail)
  })
  const l = JSON.parse(line) as { port: number; url: string }
  return { p, port: l.port, url: l.url }
}

let ws: Workspace
let server: Awaited<ReturnType<typeof serve>>
let artifact = ""

beforeAll(async () => {
  ws = workspace({ "pipeline.yaml": PIPELINE })
  writeFileSync(join(ws.dir, "secret.txt"), `${SECRET}\n`)
  const r = await ws.json(["run"])
  expect(r.code, r.stderr).toBe(0)
  artifact = r.events.find((e) => e["event"] === "stage")!["output"]
  server = await serve(ws, [])
}, 60_000)

afterAll(async () => {
  server?.p.kill("SIGINT")
  await server?.p.catch(() => {})
  ws?.cleanup()
})

describe("pipe ui refuses", () => {
  it("serves an artifact's recorded files, inert: scripts sandboxed, unknown types downloaded", async () => {
    const ok = await raw(server.port, `/files/${artifact}/a.txt`)
    expect(ok.status).toBe(200)
    expect(ok.body).toBe("hello\n")
    expect(ok.headers["content-security-policy"]).toMatch(/sandbox/)
    expect(ok.headers["x-content-type-options"]).toBe("nosniff")
    const svg = await raw(server.port, `/files/${artifact}/sub/pic.svg`)
    expect(svg.status).toBe(200)
    expect(svg.headers["content-type"]).toBe("image/svg+xml")
    expect(svg.headers["content-security-policy"]).toMatch(/default-src 'none'.*sandbox/)
    const bin = await raw(server.port, `/files/${artifact}/tool.bin`)
    expect(bin.headers["content-type"]).toBe("application/octet-stream")
    expect(bin.headers["content-disposition"]).toBe('attachment; filename="tool.bin"')
  })

  it("path traversal, plain and encoded, and unknown or malformed hashes, with 404", async () => {
    const paths = [
      `/files/${artifact}/../../pipe.db`,
      `/files/${artifact}/%2e%2e/%2e%2e/pipe.db`,
      `/files/${artifact}/..%2f..%2f..%2fsecret.txt`,
      `/files/${artifact}/sub/../../../../secret.txt`,
      `/files/${artifact}/%2Fetc%2Fpasswd`,
      `/files/${artifact}//etc/passwd`,
      `/files/${artifact}/a.txt%00.png`,
      `/files/${"0".repeat(64)}/a.txt`,
      `/files/${artifact.slice(0, 12)}/a.txt`,
      `/files/..%2f..%2fsecret.txt/a.txt`,
      `/files/${artifact}/`,
      `/../../secret.txt`,
      `/%2e%2e/%2e%2e/secret.txt`
    ]
    for (const p of paths) {
      const r = await raw(server.port, p)
      expect([404, 400], `${p}: ${r.status}`).toContain(r.status)
      expect(r.body).not.toContain(SECRET)
      expect(r.body).not.toContain("SQLite format")
    }
  })

  it("a symlink planted in the store in place of a blob, with 404", async () => {
    const files = ws.artifact(artifact)
    const blob = files["a.txt"]!
    rmSync(blob)
    symlinkSync(join(ws.dir, "secret.txt"), blob)
    expect(readFileSync(blob, "utf8")).toContain(SECRET)
    const r = await raw(server.port, `/files/${artifact}/a.txt`)
    expect(r.status).toBe(404)
    expect(r.body).not.toContain(SECRET)
    // the run page lists the file, and still serves nothing through the link
    const page = await raw(server.port, `/runs/1`)
    expect(page.status).toBe(200)
    expect(page.body).not.toContain(SECRET)
  })

  it("a foreign Host header (DNS rebinding), and any method but GET", async () => {
    expect((await raw(server.port, "/experiments", { host: "evil.example:80" })).status).toBe(421)
    expect((await raw(server.port, "/experiments", { host: `localhost:${server.port}` })).status).toBe(200)
    for (const m of ["POST", "PUT", "DELETE"]) expect((await raw(server.port, "/experiments", {}, m)).status).toBe(405)
  })

  it("a non-loopback bind without a token, and a short token, before listening", async () => {
    const open = await ws.pipe(["ui", "--host", "0.0.0.0", "--port", "0"])
    expect(open.code).toBe(2)
    expect(open.stderr).toBe(
      "pipe: --host 0.0.0.0 would let other machines read this store: give --token SECRET (or --token auto, or PIPE_UI_TOKEN) so every request must carry it, or leave --host out to serve 127.0.0.1 only"
    )
    const short = await ws.pipe(["ui", "--token", "abc", "--port", "0"])
    expect(short.code).toBe(2)
    expect(short.stderr).toBe("pipe: --token must be at least 12 characters (or --token auto to make one)")
  })

  it("with a token, a request without it or with a wrong one; the right one works once given", async () => {
    const token = "correct-horse-battery-staple"
    const t = await serve(ws, ["--host", "0.0.0.0"], { PIPE_UI_TOKEN: token })
    try {
      expect(t.url).toMatch(new RegExp(`^http://0\\.0\\.0\\.0:${t.port}/\\?token=${token}$`))
      const none = await raw(t.port, "/experiments", { host: "anything.example" })
      expect(none.status).toBe(401)
      expect(none.body).not.toContain("<table")
      expect((await raw(t.port, "/experiments", { authorization: "Bearer wrong-token-value" })).status).toBe(401)
      expect((await raw(t.port, "/experiments", { cookie: "pipe_ui_token=wrong-token-value" })).status).toBe(401)
      expect((await raw(t.port, "/experiments?token=wrong-token-value")).status).toBe(401)
      expect((await raw(t.port, `/files/${artifact}/tool.bin`)).status).toBe(401)
      expect((await raw(t.port, "/experiments", { authorization: `Bearer ${token}` })).status).toBe(200)
      // the URL's token becomes a cookie, and the browser is sent on without it in the address
      const given = await raw(t.port, `/runs?token=${token}`)
      expect(given.status).toBe(303)
      expect(given.headers["location"]).toBe("/runs")
      const cookie = String(given.headers["set-cookie"])
      expect(cookie).toMatch(/^pipe_ui_token=correct-horse-battery-staple; HttpOnly; SameSite=Strict; Path=\//)
      expect((await raw(t.port, "/runs", { cookie: cookie.split(";")[0]! })).status).toBe(200)
      // and never to another site, however the path is written
      for (const p of ["/.//evil.example/x", "//evil.example/x", "/a/..//evil.example/x"]) {
        const away = await raw(t.port, `${p}?token=${token}`)
        expect(away.status).toBe(303)
        expect(String(away.headers["location"])).toMatch(/^\/[^/]/)
      }
    } finally {
      t.p.kill("SIGINT")
      await t.p.catch(() => {})
    }
  })
})
