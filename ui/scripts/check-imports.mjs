// Checks the imports of the served modules (app/js), which browsers load as they are, with
// no bundler: a relative import must name its .js file (`./x` type-checks but 404s in the
// browser) and that file must exist inside app/ (the bindings in ../bindings are types only,
// named in JSDoc; they are not served). Imports are read with TypeScript's own pre-parser, so
// JSDoc `import("...")` types and comments are not taken for imports.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const app = join(root, "app");

const bad = [];
let checked = 0;
function scan(dir) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) scan(path);
    else if (entry.name.endsWith(".js")) check(path);
  }
}
function check(path) {
  const { importedFiles } = ts.preProcessFile(readFileSync(path, "utf8"), true, true);
  for (const { fileName } of importedFiles) {
    checked++;
    if (!fileName.startsWith("./") && !fileName.startsWith("../")) {
      bad.push(`${relative(root, path)}: ${fileName} (only relative imports: there is no bundler)`);
      continue;
    }
    const target = resolve(dirname(path), fileName);
    if (!fileName.endsWith(".js")) bad.push(`${relative(root, path)}: ${fileName} (must end in .js)`);
    else if (!target.startsWith(app + sep)) bad.push(`${relative(root, path)}: ${fileName} (outside app/, not served)`);
    else if (!existsSync(target)) bad.push(`${relative(root, path)}: ${fileName} (no such file)`);
  }
}
scan(app);
if (bad.length > 0) {
  console.error("imports the browser cannot load:\n  " + bad.join("\n  "));
  process.exit(1);
}
console.log(`${checked} imports in ${relative(process.cwd(), app) || "."} are loadable as they are`);
