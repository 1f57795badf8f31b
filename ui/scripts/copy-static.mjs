// Copies the static files next to tsc's output so ui/dist/ is the complete front end
// (what Tauri bundles and `voxdeck serve` serves). No dependencies: node's fs only.
// It also checks the compiled imports, since a browser (no bundler) resolves a relative
// import only when it names the .js file.
import { copyFileSync, mkdirSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const dist = join(root, "dist");
const STATIC = ["index.html", "styles.css", "icon.svg"];

mkdirSync(dist, { recursive: true });
for (const name of STATIC) {
  copyFileSync(join(root, name), join(dist, name));
}

// `from "./x"` or `import("./x")` without .js works under tsc's "bundler" resolution
// but 404s in the browser; fail the build instead.
const bad = [];
const importRe = /(?:\bfrom\s*|\bimport\s*\(?\s*)["'](\.{1,2}\/[^"']*)["']/g;
function scan(dir) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) scan(path);
    else if (entry.name.endsWith(".js")) {
      for (const m of readFileSync(path, "utf8").matchAll(importRe)) {
        if (!m[1].endsWith(".js")) bad.push(`${relative(root, path)}: ${m[1]}`);
      }
    }
  }
}
scan(dist);
if (bad.length > 0) {
  console.error("relative imports must end in .js:\n  " + bad.join("\n  "));
  process.exit(1);
}
console.log(`copied ${STATIC.join(", ")} to ${relative(process.cwd(), dist) || "."}`);
