// Builds the studio's page script into ../static/studio.js and records, in
// ../static/build-info.json, the SHA-256 of every source it was built from and of the bundle:
// a test recomputes them, so a bundle that does not match its sources fails the suite.
//   npm ci && npm run build
import { build, version } from "esbuild";
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, "..", "static");
const deals = join(here, "src", "deals.js");

// The deals part (src/deals.js) is optional: without it the page says it is not built in.
const dealsModule = {
  name: "studio-deals",
  setup(b) {
    b.onResolve({ filter: /^studio-deals$/ }, () =>
      existsSync(deals) ? { path: deals } : { path: "studio-deals", namespace: "stub" });
    b.onLoad({ filter: /.*/, namespace: "stub" }, () => ({
      contents: "export function mountDeals(element) { element.hidden = true; }",
      loader: "js",
    }));
  },
};

await build({
  entryPoints: [join(here, "src", "index.js")],
  bundle: true,
  format: "iife",
  target: "es2020",
  minify: true,
  legalComments: "eof",
  charset: "utf8",
  outfile: join(out, "studio.js"),
  plugins: [dealsModule],
  logLevel: "warning",
});

const sha = (path) => createHash("sha256").update(readFileSync(path)).digest("hex");
const sources = {};
for (const name of ["build.mjs", "package.json", "package-lock.json",
  ...readdirSync(join(here, "src")).filter((n) => n.endsWith(".js")).sort().map((n) => `src/${n}`)]) {
  sources[name] = sha(join(here, name));
}
const info = { esbuild: version, sources, bundle: { "studio.js": sha(join(out, "studio.js")) } };
writeFileSync(join(out, "build-info.json"), JSON.stringify(info, null, 2) + "\n");
console.log(`built ${join(out, "studio.js")} from ${Object.keys(sources).length} sources`);
