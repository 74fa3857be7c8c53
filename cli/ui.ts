/**
 * `pipe ui [--port N] [--host H] [--token T] [--open]`: a dashboard over the store, served on 127.0.0.1 (see
 * ui/server.ts for what it serves and how it guards it). Read-only; it reads the store as runs write it, so a
 * run or sweep in another terminal shows up while it trains.
 */
import { Command, Options } from "@effect/cli"
import { Effect, Option } from "effect"
import { randomBytes } from "node:crypto"
import { isIP } from "node:net"
import { UsageError } from "../pipelines/errors.js"
import * as O from "./options.js"
import { renderError } from "./render.js"

const port = O.integerAtLeast("port", 0, "The port to listen on (default 8765; 0 picks a free one)").pipe(Options.withDefault(8765))
const host = Options.text("host").pipe(
  Options.withDescription("The address to listen on (default 127.0.0.1). Anything but loopback needs --token (or PIPE_UI_TOKEN): every request must then carry it"),
  Options.withDefault("127.0.0.1")
)
const token = Options.text("token").pipe(
  Options.withDescription("A secret every request must carry (the printed URL has it once; the browser keeps it as a cookie). Default: $PIPE_UI_TOKEN; --token auto makes one"),
  Options.optional
)
const open = Options.boolean("open").pipe(Options.withDescription("Open the dashboard in the default browser (xdg-open)"))

const LOOPBACK = new Set(["127.0.0.1", "::1", "localhost"])

export const uiCommand = Command.make("ui", { file: O.file, store: O.store, json: O.json, port, host, token, open }, (a) =>
  Effect.gen(function* () {
    const given = Option.getOrUndefined(a.token) ?? process.env["PIPE_UI_TOKEN"] ?? undefined
    const secret = given === "auto" ? randomBytes(18).toString("base64url") : given
    if (secret !== undefined && secret.length < 12) return yield* new UsageError({ message: "--token must be at least 12 characters (or --token auto to make one)" })
    const loopback = LOOPBACK.has(a.host) || (isIP(a.host) === 4 && a.host.startsWith("127."))
    if (!loopback && secret === undefined) {
      return yield* new UsageError({
        message: `--host ${a.host} would let other machines read this store: give --token SECRET (or --token auto, or PIPE_UI_TOKEN) so every request must carry it, or leave --host out to serve 127.0.0.1 only`
      })
    }
    if (!loopback && isIP(a.host) === 0) return yield* new UsageError({ message: `--host ${a.host}: give an IP address to listen on (e.g. 0.0.0.0 or 192.168.1.5)` })
    // The server, its router and the pages load only for this command, off every other command's start path.
    const { serve } = yield* Effect.promise(() => import("./ui/serve.js"))
    yield* serve({ ...a, loopback, secret })
  }).pipe(Effect.catchAll(renderError(a.json)))
).pipe(
  Command.withDescription(
    "Serve a dashboard over the store on http://127.0.0.1:8765: experiments (filtered and sorted like pipe exps, paged; select rows to " +
      "compare), stage runs, a run (params, inputs and outputs with their files, figures, curves by epoch, its log, lineage), compare, " +
      "sweeps (points, parallel coordinates, metric against each param) and the pipeline's DAG (fresh, stale, running, failed). " +
      "A run training in another terminal updates live. Read-only; nothing loads from elsewhere."
  )
)
