/**
 * `pipe ui`'s HTTP side, on @effect/platform's router and Node server: read-only GET routes over the store,
 * a guard in front of every one (the Host header must name this server, so a page on another site cannot
 * reach it through DNS rebinding; with a token, every request must carry it), and files served only when they
 * belong to a recorded artifact, by the path the store records for them: nothing else on disk is reachable.
 */
import { HttpRouter, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { Effect, Option } from "effect"
import { createHash, timingSafeEqual } from "node:crypto"
import { extname } from "node:path"
import { loadWith } from "../options.js"
import { planRun } from "../../pipelines/runner.js"
import { planState } from "../planText.js"
import { page, esc, type Section } from "./html.js"
import {
  BadRequest,
  comparePage,
  experimentPage,
  experimentsPage,
  pipelinePage,
  runLive,
  runPage,
  runsPage,
  storeBlobPath,
  sweepPage,
  sweepsPage,
  type Answer,
  type StageState,
  type UiContext
} from "./pages.js"

export interface UiOptions {
  /** Host:port values a request's Host header may carry (loopback binds); undefined: any (a token is then required). */
  readonly hosts: ReadonlySet<string> | undefined
  readonly token: string | undefined
  /** The pipeline file, for the pipeline page (read again on every request). */
  readonly file: Option.Option<string>
  readonly headline: string | undefined
}

const COOKIE = "pipe_ui_token"

const SECURITY = {
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "x-frame-options": "DENY",
  "cache-control": "no-store"
}
const PAGE_CSP = "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; form-action 'self'; base-uri 'none'"
/** Stored files are shown, never run: a sandbox with nothing allowed (an SVG's or HTML's scripts stay inert). */
const FILE_CSP = "default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'; sandbox"

const html = (a: Answer, section: Section, store: string) =>
  HttpServerResponse.text(page(a.title ?? "pipe", section, a.html, store), {
    status: a.status,
    contentType: "text/html; charset=utf-8",
    headers: { ...SECURITY, "content-security-policy": PAGE_CSP }
  })

/** A live fragment: 204 when it is what the page already shows (its version), else the HTML with its version. */
const fragment = (a: Answer, url: URL) => {
  const version = createHash("sha1").update(a.html).digest("hex").slice(0, 16)
  const headers = { ...SECURITY, "x-version": version, ...(a.final ? { "x-final": "1" } : {}) }
  if (url.searchParams.get("version") === version && a.status === 200) return HttpServerResponse.empty({ status: 204, headers })
  return HttpServerResponse.text(a.html, { status: a.status, contentType: "text/html; charset=utf-8", headers: { ...headers, "content-security-policy": PAGE_CSP } })
}

const notFound = (what: string, store: string) => html({ status: 404, title: "Not found", html: `<p class="error">${esc(what)}</p>` }, "experiments", store)

const requestUrl = Effect.map(HttpServerRequest.HttpServerRequest, (req) => new URL(req.url, "http://pipe.local"))

const idParam = (name: string) =>
  Effect.map(HttpRouter.params, (p) => {
    const v = p[name] ?? ""
    return /^\d{1,12}$/.test(v) ? Number(v) : undefined
  })

/** Content types for stored files: images shown, text as plain text, everything else downloaded. */
const TYPES: Record<string, string> = {
  ".png": "image/png",
  ".jpg": "image/jpeg",
  ".jpeg": "image/jpeg",
  ".gif": "image/gif",
  ".webp": "image/webp",
  ".svg": "image/svg+xml",
  ".json": "text/plain; charset=utf-8",
  ".jsonl": "text/plain; charset=utf-8",
  ".txt": "text/plain; charset=utf-8",
  ".md": "text/plain; charset=utf-8",
  ".csv": "text/plain; charset=utf-8",
  ".log": "text/plain; charset=utf-8",
  ".yaml": "text/plain; charset=utf-8",
  ".yml": "text/plain; charset=utf-8",
  ".html": "text/plain; charset=utf-8"
}

/** The stage states the pipeline page draws: planned as `pipe status` plans them, with running and failed stages marked. */
const stageStates = (ctx: UiContext, file: Option.Option<string>) =>
  Effect.gen(function* () {
    const loaded = yield* loadWith(file, [])
    const planned = yield* planRun(loaded, [], ctx.store)
    const name = loaded.pipeline.name
    const running = new Map(ctx.q.runs({ pipeline: name, status: ["running"], limit: 0 }).map((r) => [r.stage, r.id]))
    const stages: Array<StageState> = planned.map((p) => {
      const node = loaded.pipeline.stages.get(p.id)!
      const s = planState(p)
      const latest = ctx.q.runs({ pipeline: name, stages: [p.id], limit: 1 })[0]
      const state: StageState["state"] = running.has(p.id) ? "running" : s.state !== "fresh" && latest?.status === "failed" ? "failed" : s.state
      const reason = state === "running" ? `running now (run #${running.get(p.id)})` : state === "failed" ? `its latest run #${latest!.id} failed: ${latest!.error ?? ""}` : s.reason
      const run = running.get(p.id) ?? latest?.id
      return { id: p.id, kind: node.kind.kind, needs: node.needs, state, reason, ...(run !== undefined ? { run } : {}) }
    })
    return { name, file: loaded.display, stages }
  })

export const uiRouter = (ctx: UiContext, o: UiOptions) => {
  const store = ctx.root
  const guarded = <E, R>(section: Section, handler: Effect.Effect<HttpServerResponse.HttpServerResponse, E, R>) =>
    handler.pipe(
      Effect.catchAllDefect((d) =>
        Effect.succeed(
          d instanceof BadRequest
            ? html({ status: 400, title: "Bad request", html: `<p class="error">${esc(d.message)}</p>` }, section, store)
            : html({ status: 500, title: "Error", html: `<p class="error">${esc(d instanceof Error ? d.message : String(d))}</p>` }, section, store)
        )
      )
    )
  const promise = (f: () => Promise<HttpServerResponse.HttpServerResponse>) => Effect.promise(f)

  return HttpRouter.empty.pipe(
    HttpRouter.get("/", Effect.succeed(HttpServerResponse.redirect("/experiments", { status: 302, headers: SECURITY }))),
    HttpRouter.get(
      "/experiments",
      guarded("experiments", Effect.map(requestUrl, (url) => {
        const a = experimentsPage(ctx, url, o.headline)
        return url.searchParams.has("fragment") ? fragment(a, url) : html(a, "experiments", store)
      }))
    ),
    HttpRouter.get(
      "/experiments/:id",
      guarded("experiments", Effect.map(idParam("id"), (id) => (id === undefined ? notFound("no such experiment", store) : html(experimentPage(ctx, id), "experiments", store))))
    ),
    HttpRouter.get(
      "/runs",
      guarded("runs", Effect.map(requestUrl, (url) => {
        const a = runsPage(ctx, url)
        return url.searchParams.has("fragment") ? fragment(a, url) : html(a, "runs", store)
      }))
    ),
    HttpRouter.get(
      "/runs/:id",
      guarded("runs", Effect.flatMap(idParam("id"), (id) => (id === undefined ? Effect.succeed(notFound("no such run", store)) : promise(async () => html(await runPage(ctx, id), "runs", store)))))
    ),
    HttpRouter.get(
      "/runs/:id/live",
      guarded("runs", Effect.gen(function* () {
        const id = yield* idParam("id")
        const url = yield* requestUrl
        const run = id === undefined ? undefined : ctx.q.run(id)
        if (!run) return notFound("no such run", store)
        return yield* promise(async () => fragment(await runLive(ctx, run), url))
      }))
    ),
    HttpRouter.get("/compare", guarded("compare", Effect.flatMap(requestUrl, (url) => promise(async () => html(await comparePage(ctx, url), "compare", store))))),
    HttpRouter.get("/sweeps", guarded("sweeps", Effect.sync(() => html(sweepsPage(ctx), "sweeps", store)))),
    HttpRouter.get(
      "/sweeps/:id",
      guarded("sweeps", Effect.flatMap(idParam("id"), (id) => (id === undefined ? Effect.succeed(notFound("no such sweep", store)) : promise(async () => html(await sweepPage(ctx, id), "sweeps", store)))))
    ),
    HttpRouter.get(
      "/pipeline",
      guarded("pipeline", Effect.gen(function* () {
        const url = yield* requestUrl
        const states = yield* Effect.either(stageStates(ctx, o.file))
        const a: Answer =
          states._tag === "Right"
            ? pipelinePage(states.right.name, states.right.file, states.right.stages, url.searchParams.has("fragment"))
            : { status: 200, title: "Pipeline", html: `<p class="error">${esc(states.left.message)}</p>` }
        return url.searchParams.has("fragment") ? fragment(a, url) : html(a, "pipeline", store)
      }))
    ),
    HttpRouter.get(
      "/files/:artifact/*",
      guarded("runs", Effect.gen(function* () {
        const params = yield* HttpRouter.params
        const artifact = params["artifact"] ?? ""
        const path = params["*"] ?? ""
        const none = HttpServerResponse.text("not found\n", { status: 404, headers: SECURITY })
        if (!/^[0-9a-f]{16,128}$/.test(artifact) || !ctx.q.artifact(artifact)) return none
        // The path as the store records it, compared whole: no file system path is ever built from the request.
        const file = ctx.q.files(artifact).find((f) => f.path === path)
        const blob = file && storeBlobPath(ctx.root, file.blob)
        if (!blob) return none
        const type = TYPES[extname(file.path).toLowerCase()]
        // Streamed from the blob: a data set's files are tens of megabytes.
        return yield* HttpServerResponse.file(blob, {
          headers: {
            "content-type": type ?? "application/octet-stream",
            ...SECURITY,
            "content-security-policy": FILE_CSP,
            ...(type ? {} : { "content-disposition": `attachment; filename="${file.path.split("/").at(-1)!.replace(/[^\w.-]/g, "_")}"` })
          }
        }).pipe(Effect.orElseSucceed(() => none))
      }))
    )
  )
}

const sameSecret = (a: string, b: string) => {
  const x = createHash("sha256").update(a).digest()
  const y = createHash("sha256").update(b).digest()
  return timingSafeEqual(x, y)
}

const cookieToken = (cookie: string | undefined) =>
  (cookie ?? "")
    .split(";")
    .map((c) => c.trim())
    .find((c) => c.startsWith(`${COOKIE}=`))
    ?.slice(COOKIE.length + 1)
const decoded = (v: string | undefined) => {
  try {
    return v === undefined ? undefined : decodeURIComponent(v)
  } catch {
    return v
  }
}

/**
 * The whole app: the guard (methods, Host, token), then the router; unknown paths get a 404 page. A token given
 * as ?token= is swapped for a cookie (HttpOnly, SameSite=Strict) and a redirect to the same page without it.
 */
export const uiApp = (ctx: UiContext, o: UiOptions) =>
  Effect.gen(function* () {
    const app = yield* HttpRouter.toHttpApp(uiRouter(ctx, o))
    return Effect.gen(function* () {
      const req = yield* HttpServerRequest.HttpServerRequest
      const refuse = (status: number, message: string) => HttpServerResponse.text(`${message}\n`, { status, headers: SECURITY })
      if (req.method !== "GET" && req.method !== "HEAD") return refuse(405, "pipe ui is read-only: GET only")
      const host = req.headers["host"] ?? ""
      if (o.hosts && !o.hosts.has(host.toLowerCase())) return refuse(421, `pipe ui answers only for ${[...o.hosts][0]}`)
      if (o.token !== undefined) {
        const url = new URL(req.url, "http://pipe.local")
        const given = url.searchParams.get("token")
        if (given !== null) {
          if (!sameSecret(given, o.token)) return refuse(401, "wrong token")
          url.searchParams.delete("token")
          // Back to the same page on this server: a path such as //elsewhere.example must not leave it.
          return HttpServerResponse.redirect(`/${url.pathname.replace(/^\/+/, "")}${url.search}`, {
            status: 303,
            headers: { ...SECURITY, "set-cookie": `${COOKIE}=${encodeURIComponent(o.token)}; HttpOnly; SameSite=Strict; Path=/` }
          })
        }
        const auth = req.headers["authorization"]
        const bearer = auth?.startsWith("Bearer ") ? auth.slice(7) : undefined
        const presented = bearer ?? decoded(cookieToken(req.headers["cookie"]))
        if (presented === undefined) return refuse(401, "this dashboard needs its token: open the URL pipe ui printed (with ?token=...)")
        if (!sameSecret(presented, o.token)) return refuse(401, "wrong token")
      }
      return yield* app.pipe(
        Effect.catchTag("RouteNotFound", () => Effect.succeed(notFound(`nothing at ${req.url.split("?")[0]}`, ctx.root)))
      )
    })
  })
