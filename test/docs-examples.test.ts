import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { CONTEXT_DECLARATIONS, compileVirtualModules, compilerOptions, diagnosticsOf } from './jsdoc-examples';
import { root, workspacePackages } from './workspace';

// Every ```ts block in docs/**/*.md compiles against the packages. Each block is its own
// module, placed (in memory) in the first workspace package whose dependencies resolve
// all of its imports, so `express`, `@nestjs/common` or `hono` resolve as in a host.
// A block may use the names below without declaring them (a page's later blocks use the
// `byok` its first block made); a block that declares one itself keeps its own.
// A block that cannot compile on purpose says so in its fence: ```ts nocheck: <reason>.
// A block that goes on from the one before (a test of the driver the previous block
// wrote) says ```ts continues: it compiles in one module after the page's previous
// checked block, and only its own lines' errors are its.

const DOCS_CONTEXT: Record<string, string> = {
  ...CONTEXT_DECLARATIONS,
  client: "declare const client: import('@byok/client').ByokClient;",
  sessionId: 'declare const sessionId: string;',
};

interface DocBlock {
  /** `docs/guides/quickstart-express.md:42`, the line of the opening fence. */
  where: string;
  code: string;
  /** Why the block is not compiled, when its fence says `nocheck`. */
  nocheck: string | null;
  lang: string;
  /** The fence says `continues`: the block compiles after the page's previous checked block, in one module. */
  continues: boolean;
}

function markdownFiles(dir: string): string[] {
  return readdirSync(dir)
    .sort()
    .flatMap((name) => {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) return markdownFiles(path);
      return name.endsWith('.md') ? [path] : [];
    });
}

const FENCE = /^\s*```(\S*)\s*(.*)$/;
const CHECKED_LANGS = new Set(['ts', 'typescript', 'tsx']);

function docBlocks(): DocBlock[] {
  const blocks: DocBlock[] = [];
  for (const file of markdownFiles(join(root, 'docs'))) {
    const lines = readFileSync(file, 'utf8').split('\n');
    for (let i = 0; i < lines.length; i++) {
      const open = FENCE.exec(lines[i]!);
      if (!open) continue;
      const start = i;
      const body: string[] = [];
      for (i++; i < lines.length && !/^\s*```\s*$/.test(lines[i]!); i++) body.push(lines[i]!);
      const lang = open[1]!.toLowerCase();
      if (!CHECKED_LANGS.has(lang)) continue;
      const info = open[2]!.trim();
      const nocheck = /^nocheck\b/.test(info) ? info.replace(/^nocheck\s*:?\s*/, '') : null;
      const indent = /^\s*/.exec(lines[start]!)![0].length;
      const code = body.map((l) => l.slice(Math.min(indent, /^\s*/.exec(l)![0].length))).join('\n');
      blocks.push({ where: `${relative(root, file)}:${start + 1}`, code, nocheck, lang, continues: /^continues\b/.test(info) });
    }
  }
  return blocks;
}

/** Names a module declares at its top level (imports included). */
function topLevelNames(file: ts.SourceFile): Set<string> {
  const names = new Set<string>();
  const bind = (name: ts.BindingName) => {
    if (ts.isIdentifier(name)) names.add(name.text);
    else for (const element of name.elements) if (!ts.isOmittedExpression(element)) bind(element.name);
  };
  for (const statement of file.statements) {
    if (ts.isVariableStatement(statement)) for (const d of statement.declarationList.declarations) bind(d.name);
    else if ((ts.isFunctionDeclaration(statement) || ts.isClassDeclaration(statement) || ts.isEnumDeclaration(statement)) && statement.name) names.add(statement.name.text);
    else if (ts.isImportDeclaration(statement)) {
      const clause = statement.importClause;
      if (clause?.name) names.add(clause.name.text);
      const bindings = clause?.namedBindings;
      if (bindings && ts.isNamespaceImport(bindings)) names.add(bindings.name.text);
      if (bindings && ts.isNamedImports(bindings)) for (const e of bindings.elements) names.add(e.name.text);
    }
  }
  return names;
}

/** Bare specifiers a module imports, other than byok's own (tsconfig paths) and Node's. */
function externalImports(file: ts.SourceFile): string[] {
  const out: string[] = [];
  const visit = (node: ts.Node) => {
    if ((ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) out.push(node.moduleSpecifier.text);
    if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument) && ts.isStringLiteral(node.argument.literal)) out.push(node.argument.literal.text);
    ts.forEachChild(node, visit);
  };
  visit(file);
  return out.filter((s) => !s.startsWith('@byok/') && !s.startsWith('node:') && !s.startsWith('.'));
}

interface DocModule {
  block: DocBlock;
  path: string;
  text: string;
  offset: number;
  /** Set when no workspace package resolves the block's imports. */
  unresolved: string | null;
}

function docModules(blocks: DocBlock[]): DocModule[] {
  const options = compilerOptions();
  // core first: it has most hosts' libraries (express, hono, ioredis, pg) as dev dependencies.
  const dirs = workspacePackages()
    .map((p) => p.dir)
    .sort((a, b) => Number(b.endsWith('/packages/core')) - Number(a.endsWith('/packages/core')) || a.localeCompare(b));
  const sources: string[] = [];
  return blocks.map((block, n) => {
    const ext = block.lang === 'tsx' ? 'tsx' : 'ts';
    const file = block.where.replace(/:\d+$/, '');
    const previous = n > 0 && blocks[n - 1]!.where.startsWith(`${file}:`) ? sources[n - 1]! : null;
    if (block.continues && previous === null) throw new Error(`${block.where}: \`continues\` with no checked block before it on the page`);
    const before = block.continues ? `${previous}\n` : '';
    const source = `${before}${block.code}`;
    sources.push(source);
    const parsed = ts.createSourceFile(`block.${ext}`, source, ts.ScriptTarget.Latest, true);
    const declared = topLevelNames(parsed);
    const prelude = Object.entries(DOCS_CONTEXT)
      .filter(([name]) => !declared.has(name))
      .map(([, line]) => line);
    const imports = externalImports(parsed);
    const dir = dirs.find((d) => imports.every((s) => ts.resolveModuleName(s, join(d, 'index.ts'), options, ts.sys).resolvedModule));
    return {
      block,
      path: join(dir ?? root, `__docs_example_${n}.${ext}`),
      // `export {}` keeps a block without imports a module, so blocks never share globals.
      text: `${prelude.map((line) => `${line}\n`).join('')}${source}\nexport {};\n`,
      offset: prelude.length + (before === '' ? 0 : before.split('\n').length - 1),
      unresolved: dir ? null : `no workspace package resolves ${imports.join(', ')}`,
    };
  });
}

const blocks = docBlocks();
const checked = docModules(blocks.filter((b) => b.nocheck === null));
const skipped = blocks.filter((b) => b.nocheck !== null);
let program: ts.Program | undefined;

function errorsOf(module: DocModule): string[] {
  if (module.unresolved) return [module.unresolved];
  program ??= compileVirtualModules(checked.map((m) => ({ path: m.path, text: m.text })));
  const file = program.getSourceFile(module.path)!;
  return diagnosticsOf(program, module.path).flatMap((d) => {
    const line = d.start !== undefined ? file.getLineAndCharacterOfPosition(d.start).line - module.offset + 1 : 0;
    // A line of the block this one continues is that block's error, reported there.
    if (module.block.continues && line < 1 && d.start !== undefined) return [];
    return [`block line ${line}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`];
  });
}

describe('docs code blocks', () => {
  it(`are found (${checked.length} checked, ${skipped.length} marked nocheck)`, () => {
    expect(checked.length).toBeGreaterThan(20);
    expect(checked.map((m) => m.block.where)).toEqual(expect.arrayContaining([expect.stringMatching(/^docs\/guides\/quickstart-express\.md:\d+$/)]));
  });

  it('a block left unchecked says why, and such blocks stay rare', () => {
    for (const block of skipped) expect(block.nocheck, `${block.where}: write \`\`\`ts nocheck: <reason>`).not.toBe('');
    console.log(`docs code blocks not compiled (${skipped.length}):\n${skipped.map((b) => `  ${b.where}: ${b.nocheck}`).join('\n')}`);
    expect(skipped.length).toBeLessThanOrEqual(Math.ceil(checked.length / 10));
  });

  it.each(checked.map((m) => [m.block.where, m] as const))('%s compiles', (_where, module) => {
    expect(errorsOf(module), `\n${module.block.code}\n`).toEqual([]);
  }, 120_000);
});
