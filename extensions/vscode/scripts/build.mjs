// Bundles the extension into dist/extension.js (vscode stays external).
import * as esbuild from "esbuild";

const production = process.argv.includes("--production") || process.env.NODE_ENV === "production";

await esbuild.build({
  entryPoints: ["src/extension.ts"],
  outfile: "dist/extension.js",
  bundle: true,
  platform: "node",
  format: "cjs",
  target: "node20",
  external: ["vscode"],
  sourcemap: production ? false : "linked",
  minify: production,
  logLevel: "warning",
});
