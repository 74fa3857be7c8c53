/**
 * Which folder may import which (the table in ARCHITECTURE.md), checked by `npm run lint:deps` and by CI.
 * Two towers: the framework (cli -> pipelines -> cache -> artifacts) and the ML domain (stages -> engines -> ml);
 * stages/ (the kinds) and cli/ (the composition root) are the only places they meet.
 */
const SRC = "^(artifacts|cache|pipelines|ml|engines|stages|cli)/"

/** A rule: files under `from` may import nothing of pipe's own outside `allowed` (and their own folder). */
const only = (from, allowed, comment) => ({
  name: `${from}-imports`,
  comment,
  severity: "error",
  from: { path: `^${from}/` },
  to: {
    path: SRC,
    pathNot: [`^${from}/`, ...allowed]
  }
})

module.exports = {
  forbidden: [
    only("artifacts", [], "artifacts/ is content-addressed bytes: it imports nothing of pipe"),
    only("cache", ["^artifacts/"], "cache/ (the store) knows no plans and no kinds: it imports only artifacts/"),
    only("pipelines", ["^cache/", "^artifacts/"], "pipelines/ (the core) imports the store and artifacts, never the kinds or the ML code"),
    only("ml", [], "ml/ is a framework-free ML library: it imports nothing of pipe"),
    only("engines", ["^ml/"], "an engine sees a job, never a StageContext: engines/ imports only ml/"),
    only("stages", ["^pipelines/kind\\.ts$", "^engines/", "^ml/"], "stages/ (the kinds) import the kind contract, engines and ml only"),
    // The rules above order the folders (artifacts < cache < pipelines < cli, ml < engines < stages < cli), so no
    // two folders can import each other. Within a folder, modules may not form a cycle of imports that run when
    // the module loads; a kind's lazily loaded run file (import()) and type-only imports are not such imports.
    {
      name: "no-load-time-cycles",
      comment: "modules in a cycle of load-time imports: move the shared part into its own module",
      severity: "error",
      from: { path: SRC },
      to: { circular: true, viaOnly: { dependencyTypesNot: ["type-only", "dynamic-import"] } }
    },
    {
      name: "db-stays-in-cache",
      comment: "the SQLite database is the store's own: outside cache/, everything goes through the Store port (cache/store.ts)",
      severity: "error",
      from: { path: SRC, pathNot: "^cache/" },
      to: { path: ["^cache/db\\.ts$", "better-sqlite3"] }
    },
    {
      name: "not-to-tests",
      comment: "source never imports tests",
      severity: "error",
      from: { path: SRC },
      to: { path: "^test/" }
    }
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    exclude: { path: "^(dist|node_modules|test-results)/" },
    tsConfig: { fileName: "tsconfig.json" },
    tsPreCompilationDeps: true,
    // The lazily loaded run files and engines are imported with import(): they count like any other import.
    enhancedResolveOptions: { extensions: [".ts", ".mjs", ".js"] }
  }
}
