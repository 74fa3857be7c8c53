import { build } from "esbuild"
await build({ entryPoints: ["speed.tmp.mts"], outfile: "speed.tmp.mjs", bundle: true, format: "esm", platform: "node", external: ["@tensorflow/*"], logLevel: "warning" })
