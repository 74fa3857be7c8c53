// Bundles the CLI into dist/: one minified ESM entry (fast start) plus lazily loaded chunks
// (stage implementations, esbuild for TypeScript pipelines). better-sqlite3, esbuild and the AWS SDK (loaded only
// for an s3:// remote) stay external.
import { build } from "esbuild"
import { chmodSync, readFileSync, rmSync } from "node:fs"

const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8"))
rmSync(new URL("../dist", import.meta.url), { recursive: true, force: true })

await build({
  // exec-node.mjs: what a cluster job starts (cli/nodeMain.ts), without the command-line framework.
  entryPoints: { pipe: "cli/main.ts", "exec-node": "cli/nodeMain.ts" },
  outdir: "dist",
  outExtension: { ".js": ".mjs" },
  chunkNames: "chunks/[name]-[hash]",
  bundle: true,
  splitting: true,
  minify: true,
  format: "esm",
  platform: "node",
  target: "node20",
  sourcemap: "linked",
  // TensorFlow.js stays a package: it finds its .wasm files next to its own code, and loads only in training.
  external: ["better-sqlite3", "esbuild", "@tensorflow/*", "@aws-sdk/*"],
  define: { PIPE_VERSION: JSON.stringify(pkg.version) },
  banner: { js: "import{createRequire as __cr}from'module';const require=__cr(import.meta.url);" },
  logLevel: "warning"
})

chmodSync(new URL("../dist/pipe.mjs", import.meta.url), 0o755)
