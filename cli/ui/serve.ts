/** Starts `pipe ui`'s server on the store and serves until interrupted (see ../ui.ts for the options). */
import { HttpServer } from "@effect/platform"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import { Effect, type Option } from "effect"
import { spawn } from "node:child_process"
import { createServer } from "node:http"
import { UsageError } from "../../pipelines/errors.js"
import * as O from "../options.js"
import { uiApp } from "./server.js"

export interface ServeArgs {
  readonly file: Option.Option<string>
  readonly store: Option.Option<string>
  readonly json: boolean
  readonly port: number
  readonly host: string
  readonly open: boolean
  readonly loopback: boolean
  readonly secret: string | undefined
}

export const serve = (a: ServeArgs) =>
  O.withQueries(a.file, a.store, ({ q, store, pipeline, loaded }) =>
      Effect.gen(function* () {
        const server = yield* HttpServer.HttpServer
        const address = server.address
        const actual = address._tag === "TcpAddress" ? address.port : a.port
        const shown = a.host.includes(":") ? `[${a.host}]` : a.host
        const names = [shown, ...(a.loopback ? ["localhost", "127.0.0.1"] : [])]
        const hosts = a.loopback ? new Set(names.map((n) => `${n}:${actual}`)) : undefined
        const app = yield* uiApp(
          { q, store, root: store.root, pipeline },
          { hosts, token: a.secret, file: a.file, headline: loaded?.pipeline.metric?.name }
        )
        yield* HttpServer.serveEffect()(app)
        const url = `http://${shown}:${actual}/${a.secret !== undefined ? `?token=${encodeURIComponent(a.secret)}` : ""}`
        if (a.json) process.stdout.write(`${JSON.stringify({ event: "listening", url, host: a.host, port: actual, store: store.root })}\n`)
        else process.stdout.write(`pipe ui: serving ${store.root} at ${url} (read-only; Ctrl-C stops)\n`)
        if (a.open) {
          spawn("xdg-open", [url], { detached: true, stdio: "ignore" })
            .on("error", () => process.stderr.write(`pipe: cannot open a browser here; open ${url}\n`))
            .unref()
        }
        return yield* Effect.never
      }).pipe(
        Effect.scoped,
        Effect.provide(NodeHttpServer.layer(() => createServer(), { port: a.port, host: a.host })),
        Effect.catchTag("ServeError", (e) => {
          const code = (e.cause as NodeJS.ErrnoException | undefined)?.code
          return new UsageError({
            message:
              code === "EADDRINUSE"
                ? `port ${a.port} on ${a.host} is in use: pass --port N (or --port 0 for a free one)`
                : `cannot listen on ${a.host}:${a.port}: ${code ?? String(e.cause)}`
          })
        })
      )
    )
