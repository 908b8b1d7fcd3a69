// Validate an AsyncAPI document with the AsyncAPI parser (make lint):
// print every diagnostic, exit 1 if one is an error.
//   node scripts/validate_asyncapi.mjs [docs/asyncapi.yaml]
import { readFile } from "node:fs/promises";
import { Parser, DiagnosticSeverity } from "@asyncapi/parser";

const path = process.argv[2] ?? "docs/asyncapi.yaml";
const { diagnostics } = await new Parser().parse(await readFile(path, "utf8"), { source: path });
const names = Object.fromEntries(Object.entries(DiagnosticSeverity).map(([k, v]) => [v, k]));
for (const { severity, code, message, path: where } of diagnostics) {
  console.log(`${path}: ${names[severity]} ${code}: ${message} at /${where.join("/")}`);
}
const errors = diagnostics.filter((d) => d.severity === DiagnosticSeverity.Error).length;
console.log(`${path}: ${errors ? `${errors} error(s)` : "valid AsyncAPI"}`);
process.exit(errors ? 1 : 0);
