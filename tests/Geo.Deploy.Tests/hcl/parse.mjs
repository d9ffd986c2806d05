// Parses every Terraform file under a folder with HashiCorp's HCL parser (@cdktf/hcl2json) and prints one JSON
// object: { "<path relative to the folder>": <hcl2json result>, ... }. Parsed: *.tf, and the variable files
// *.tfvars and *.tfvars.example (HCL too; the tests read the example's literal values from them).
// On a syntax error: every error as file:line:col: message on stderr, exit 1. Usage: node parse.mjs <folder>
import { parse } from "@cdktf/hcl2json";
import fs from "node:fs";
import path from "node:path";

const root = process.argv[2];
if (!root || !fs.existsSync(root) || !fs.statSync(root).isDirectory()) {
  console.error(`usage: node parse.mjs <folder> (${root ?? "no folder given"} is not a folder)`);
  process.exit(2);
}

const parsed = /\.(tf|tfvars|tfvars\.example)$/;
const skipped = new Set(["node_modules", ".terraform"]);

function* files(folder) {
  for (const entry of fs.readdirSync(folder, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    const full = path.join(folder, entry.name);
    if (entry.isDirectory() && !skipped.has(entry.name)) {
      yield* files(full);
    } else if (entry.isFile() && parsed.test(entry.name)) {
      yield full;
    }
  }
}

// hcl2json reports "parse config: [file:3,7-4,1: Summary; Detail. file:9,1-2: ...]": one line per diagnostic.
function diagnostics(message) {
  const text = message.replace(/^parse config: \[/, "").replace(/\]$/, "");
  const start = /(\S+?):(\d+),(\d+)-\d+(?:,\d+)?: /g;
  const found = [...text.matchAll(start)];
  if (found.length === 0) {
    return [message];
  }
  return found.map((m, i) => {
    const end = i + 1 < found.length ? found[i + 1].index : text.length;
    return `${m[1]}:${m[2]}:${m[3]}: ${text.slice(m.index + m[0].length, end).trim()}`;
  });
}

const result = {};
const errors = [];
for (const file of files(root)) {
  const relative = path.relative(root, file).split(path.sep).join("/");
  try {
    result[relative] = await parse(relative, fs.readFileSync(file, "utf8"));
  } catch (e) {
    errors.push(...diagnostics(String(e?.message ?? e)));
  }
}

if (errors.length > 0) {
  for (const error of errors) {
    console.error(error);
  }
  process.exitCode = 1;
} else {
  process.stdout.write(JSON.stringify(result));
}
