#!/usr/bin/env node
// The API report: every entry point of every published package (each key of its
// package.json `exports`) with the names it exports and their kinds, written to
// `api/<package>.api.md`. The reports are committed, and test/api-report.test.ts fails
// when the sources drift from them, so every change to the public surface is a
// deliberate, reviewed diff.
//
//   node scripts/api-report.mjs            check; exit 1 and name the drift
//   node scripts/api-report.mjs --update   rewrite api/*.api.md from the sources
//   node scripts/api-report.mjs --unexported   list types public signatures use but no entry exports
//
// Read from the sources with the TypeScript compiler API (no build needed): entry point
// `.` is `src/index.ts`, a subpath `./x` is `src/x/index.ts`.
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import ts from 'typescript';

export const root = fileURLToPath(new URL('..', import.meta.url));
export const UPDATE_COMMAND = 'node scripts/api-report.mjs --update';

/** Published packages (not private, with sources) and their entry points. */
export function publishedEntryPoints() {
  const out = [];
  for (const dir of readdirSync(join(root, 'packages')).sort()) {
    const file = join(root, 'packages', dir, 'package.json');
    if (!existsSync(file)) continue;
    const pkg = JSON.parse(readFileSync(file, 'utf8'));
    if (pkg.private || !existsSync(join(root, 'packages', dir, 'src/index.ts'))) continue;
    const subpaths = Object.keys(pkg.exports ?? { '.': null }).filter((key) => key !== './package.json');
    const entries = subpaths.map((subpath) => ({
      specifier: subpath === '.' ? pkg.name : `${pkg.name}/${subpath.slice(2)}`,
      source: join(root, 'packages', dir, subpath === '.' ? 'src/index.ts' : `src/${subpath.slice(2)}/index.ts`),
    }));
    out.push({ dir, name: pkg.name, entries });
  }
  return out;
}

function compilerOptions() {
  const configPath = join(root, 'tsconfig.base.json');
  const config = ts.readConfigFile(configPath, ts.sys.readFile);
  if (config.error) throw new Error(ts.flattenDiagnosticMessageText(config.error.messageText, '\n'));
  const parsed = ts.parseJsonConfigFileContent(config.config, ts.sys, root, { noEmit: true }, configPath);
  return parsed.options;
}

/** Whether an export goes through `export type { … }` anywhere on its way to the declaration. */
function isTypeOnlyExport(checker, symbol) {
  let current = symbol;
  for (let hops = 0; current && current.flags & ts.SymbolFlags.Alias && hops < 20; hops++) {
    for (const declaration of current.declarations ?? []) {
      if (ts.isExportSpecifier(declaration) && (declaration.isTypeOnly || declaration.parent.parent.isTypeOnly)) return true;
      if (ts.isImportSpecifier(declaration) && (declaration.isTypeOnly || declaration.parent.parent.isTypeOnly)) return true;
    }
    current = checker.getImmediateAliasedSymbol(current);
  }
  return false;
}

function kindOf(checker, exported) {
  const symbol = exported.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(exported) : exported;
  const f = symbol.flags;
  const kinds = [];
  if (f & ts.SymbolFlags.Class) kinds.push('class');
  else if (f & ts.SymbolFlags.Function) kinds.push('function');
  else if (f & ts.SymbolFlags.Enum) kinds.push('enum');
  else if (f & ts.SymbolFlags.Variable) {
    const declaration = symbol.valueDeclaration;
    const list = declaration && ts.isVariableDeclaration(declaration) ? declaration.parent : undefined;
    kinds.push(list && list.flags & ts.NodeFlags.Const ? 'const' : 'let');
  }
  if (f & ts.SymbolFlags.Interface) kinds.push('interface');
  if (f & ts.SymbolFlags.TypeAlias) kinds.push('type');
  if (f & (ts.SymbolFlags.ValueModule | ts.SymbolFlags.NamespaceModule) && !kinds.length) kinds.push('namespace');
  const kind = kinds.join(' + ') || 'unknown';
  return isTypeOnlyExport(checker, exported) && /class|function|const|let|enum/.test(kind) ? `${kind} (type only)` : kind;
}

/** The report of every published package: Map of `api/<dir>.api.md` → its text. */
export function apiReports() {
  const packages = publishedEntryPoints();
  const sources = packages.flatMap((p) => p.entries.map((e) => e.source));
  const missing = sources.filter((s) => !existsSync(s));
  if (missing.length) throw new Error(`Entry points without a source file: ${missing.join(', ')}`);
  const program = ts.createProgram({ rootNames: sources, options: compilerOptions() });
  const checker = program.getTypeChecker();
  const reports = new Map();
  for (const pkg of packages) {
    let text = `# ${pkg.name} — API report\n\n`;
    text += `The names each entry point of \`${pkg.name}\` exports, and their kinds. Generated from the\n`;
    text += `sources by \`${UPDATE_COMMAND}\`; test/api-report.test.ts fails when they drift.\n`;
    for (const entry of pkg.entries) {
      const file = program.getSourceFile(entry.source);
      const moduleSymbol = file && checker.getSymbolAtLocation(file);
      const exports = moduleSymbol ? checker.getExportsOfModule(moduleSymbol) : [];
      const rows = exports.map((s) => [s.getName(), kindOf(checker, s)]).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
      text += `\n## \`${entry.specifier}\`\n\n${rows.length} names.\n\n| name | kind |\n| --- | --- |\n`;
      for (const [name, kind] of rows) text += `| \`${name}\` | ${kind} |\n`;
    }
    reports.set(`api/${pkg.dir}.api.md`, text);
  }
  return reports;
}

/** Files whose committed text differs from the sources (or that should not exist). */
export function apiReportDrift(reports = apiReports()) {
  const drift = [];
  for (const [file, text] of reports) {
    const path = join(root, file);
    const committed = existsSync(path) ? readFileSync(path, 'utf8') : null;
    if (committed !== text) drift.push({ file, committed, text });
  }
  const dir = join(root, 'api');
  if (existsSync(dir)) {
    for (const name of readdirSync(dir)) if (!reports.has(`api/${name}`)) drift.push({ file: `api/${name}`, committed: readFileSync(join(dir, name), 'utf8'), text: null });
  }
  return drift;
}

/** The rows added and removed between two report texts, as `+ ` / `- ` lines under their entry point. */
export function describeDrift({ file, committed, text }) {
  if (committed === null) return `${file}: missing (new package or entry point)`;
  if (text === null) return `${file}: no such published package any more`;
  const rowsOf = (t) => {
    const rows = new Set();
    let entry = '';
    for (const line of t.split('\n')) {
      if (line.startsWith('## ')) entry = line.slice(3);
      else if (line.startsWith('| `')) rows.add(`${entry} ${line}`);
    }
    return rows;
  };
  const before = rowsOf(committed);
  const after = rowsOf(text);
  const lines = [...after].filter((r) => !before.has(r)).map((r) => `  + ${r}`);
  lines.push(...[...before].filter((r) => !after.has(r)).map((r) => `  - ${r}`));
  return `${file}:\n${lines.join('\n') || '  (wording only)'}`;
}

/**
 * Declarations of the packages that public signatures mention but no entry point exports
 * (api-extractor's "forgotten export"): a host meets them and cannot name them. Bodies,
 * private members, and the constructor and statics of a class exported only as a type
 * are not public and are skipped. Map of name → the exports that reach it.
 */
export function unexportedReferences() {
  const packages = publishedEntryPoints();
  const program = ts.createProgram({ rootNames: packages.flatMap((p) => p.entries.map((e) => e.source)), options: compilerOptions() });
  const checker = program.getTypeChecker();
  const exported = new Set();
  const valueExported = new Set();
  const roots = [];
  for (const entry of packages.flatMap((p) => p.entries)) {
    const file = program.getSourceFile(entry.source);
    const moduleSymbol = file && checker.getSymbolAtLocation(file);
    for (const s of moduleSymbol ? checker.getExportsOfModule(moduleSymbol) : []) {
      const target = s.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(s) : s;
      exported.add(target);
      if (!isTypeOnlyExport(checker, s)) valueExported.add(target);
      roots.push({ via: `${entry.specifier} ${s.getName()}`, symbol: target, typeOnly: isTypeOnlyExport(checker, s) });
    }
  }
  const ours = (d) => d.getSourceFile().fileName.startsWith(join(root, 'packages')) && !d.getSourceFile().fileName.includes('node_modules');
  const isPrivate = (node) =>
    (node.name && ts.isPrivateIdentifier(node.name)) || (ts.canHaveModifiers(node) && ts.getModifiers(node)?.some((m) => m.kind === ts.SyntaxKind.PrivateKeyword || m.kind === ts.SyntaxKind.ProtectedKeyword));
  const isStatic = (node) => ts.canHaveModifiers(node) && ts.getModifiers(node)?.some((m) => m.kind === ts.SyntaxKind.StaticKeyword);
  const found = new Map();
  const seen = new Set();
  const visit = (declaration, via, typeOnly) => {
    if (seen.has(declaration)) return;
    seen.add(declaration);
    const walk = (node) => {
      if (ts.isBlock(node) || isPrivate(node)) return;
      if (typeOnly && ts.isClassElement(node) && (ts.isConstructorDeclaration(node) || isStatic(node))) return;
      if (ts.isVariableDeclaration(node) && !node.type) return;
      // `typeof schema` inside a type alias is how the alias is computed, not a name a host needs.
      if (ts.isTypeQueryNode(node)) return;
      if (ts.isTypeReferenceNode(node) || ts.isExpressionWithTypeArguments(node)) {
        const name = ts.isTypeReferenceNode(node) ? node.typeName : node.expression;
        let symbol = checker.getSymbolAtLocation(ts.isQualifiedName(name) ? name.right : name);
        if (symbol && symbol.flags & ts.SymbolFlags.Alias) symbol = checker.getAliasedSymbol(symbol);
        const first = symbol?.declarations?.[0];
        if (first && ours(first) && !ts.isTypeParameterDeclaration(first)) {
          if (!exported.has(symbol)) found.set(symbol.getName(), [...new Set([...(found.get(symbol.getName()) ?? []), via])]);
          for (const d of symbol.declarations) visit(d, via, !valueExported.has(symbol));
        }
      }
      ts.forEachChild(node, walk);
    };
    walk(declaration);
  };
  for (const { via, symbol, typeOnly } of roots) for (const d of symbol.declarations ?? []) if (ours(d)) visit(d, via, typeOnly);
  return new Map([...found].sort(([a], [b]) => (a < b ? -1 : 1)));
}

function main(argv) {
  if (argv.includes('--unexported')) {
    for (const [name, via] of unexportedReferences()) console.log(`${name}  ← ${via.slice(0, 3).join(', ')}${via.length > 3 ? ', …' : ''}`);
    return 0;
  }
  const reports = apiReports();
  if (argv.includes('--update')) {
    mkdirSync(join(root, 'api'), { recursive: true });
    for (const { file, text } of apiReportDrift(reports)) {
      if (text === null) rmSync(join(root, file));
      else {
        mkdirSync(dirname(join(root, file)), { recursive: true });
        writeFileSync(join(root, file), text);
      }
      console.log(`${text === null ? 'removed' : 'wrote'} ${file}`);
    }
    return 0;
  }
  const drift = apiReportDrift(reports);
  if (!drift.length) {
    console.log(`API reports up to date (${reports.size} packages)`);
    return 0;
  }
  console.error(`The public API differs from the committed API report:\n\n${drift.map(describeDrift).join('\n')}\n\nIf the change is deliberate, run \`${UPDATE_COMMAND}\` and commit api/.`);
  return 1;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) process.exitCode = main(process.argv.slice(2));
