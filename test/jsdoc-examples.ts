import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import ts from 'typescript';
import { root } from './workspace';

// Every `@example` in the public JSDoc, compiled. An example belongs to a declaration an
// entry point exports (a function, class, interface, constant) or to a member of an
// exported class or interface. Each becomes a virtual module beside the source it
// documents (so its package's dependencies resolve): the example's own imports are
// hoisted, the rest runs inside an async function, and a prelude declares what examples
// take for granted — `byok`, `app`, a user id, an API key — and imports, by name, what the
// documenting package's entry points export and the example did not import itself.

export interface JsDocExample {
  /** `packages/core/src/byok.ts:107 createByok`, for the test name. */
  where: string;
  /** The source file the example documents. */
  file: string;
  code: string;
  /** The virtual module it compiles as. */
  virtualPath: string;
  virtualText: string;
  /** Lines of the virtual module before the example's body, to map diagnostics back. */
  bodyOffset: number;
}

/**
 * What a snippet may use without declaring it: the host's objects around it. `byok` has
 * sign-in configured; `app` is an Express-like app; `request` is the ByokRequest an
 * adapter built from the incoming request, `meta` its client IP and user agent.
 */
export const CONTEXT_DECLARATIONS: Record<string, string> = {
  byok: "declare const byok: import('@byok/core').Byok<import('@byok/core').AuthService>;",
  app: 'declare const app: { use(...handlers: unknown[]): unknown; get(path: string, ...handlers: unknown[]): unknown; listen(port: number): unknown };',
  userId: 'declare const userId: string;',
  apiKey: 'declare const apiKey: string;',
  signal: 'declare const signal: AbortSignal;',
  request: "declare const request: import('@byok/core/http').ByokRequest;",
  meta: "declare const meta: import('@byok/core').RequestMeta;",
};
const CONTEXT = Object.keys(CONTEXT_DECLARATIONS);
const PRELUDE = `\n${Object.values(CONTEXT_DECLARATIONS).join('\n')}\n`;

interface EntryPoint {
  specifier: string;
  source: string;
  packageDir: string;
}

function entryPoints(): EntryPoint[] {
  const out: EntryPoint[] = [];
  for (const dir of readdirSync(join(root, 'packages')).sort()) {
    const file = join(root, 'packages', dir, 'package.json');
    if (!existsSync(file) || !existsSync(join(root, 'packages', dir, 'src/index.ts'))) continue;
    const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name: string; private?: boolean; exports?: Record<string, unknown> };
    if (pkg.private) continue;
    for (const subpath of Object.keys(pkg.exports ?? { '.': null }).filter((k) => k !== './package.json')) {
      out.push({
        specifier: subpath === '.' ? pkg.name : `${pkg.name}/${subpath.slice(2)}`,
        source: join(root, 'packages', dir, subpath === '.' ? 'src/index.ts' : `src/${subpath.slice(2)}/index.ts`),
        packageDir: join(root, 'packages', dir),
      });
    }
  }
  return out;
}

export function compilerOptions(): ts.CompilerOptions {
  const configPath = join(root, 'tsconfig.base.json');
  const config = ts.readConfigFile(configPath, ts.sys.readFile);
  const parsed = ts.parseJsonConfigFileContent(config.config, ts.sys, root, { noEmit: true, noUnusedLocals: false, noUnusedParameters: false }, configPath);
  return parsed.options;
}

/** Whether an export goes through `export type { … }` on its way to the declaration. */
function isTypeOnlyExport(checker: ts.TypeChecker, symbol: ts.Symbol): boolean {
  let current: ts.Symbol | undefined = symbol;
  for (let hops = 0; current && current.flags & ts.SymbolFlags.Alias && hops < 20; hops++) {
    for (const d of current.declarations ?? []) {
      if ((ts.isExportSpecifier(d) || ts.isImportSpecifier(d)) && (d.isTypeOnly || d.parent.parent.isTypeOnly)) return true;
    }
    current = checker.getImmediateAliasedSymbol(current);
  }
  return false;
}

function exampleTags(node: ts.Node): string[] {
  return ts
    .getJSDocTags(node)
    .filter((tag) => tag.tagName.text === 'example')
    .map((tag) => ts.getTextOfJSDocComment(tag.comment) ?? '')
    .map((text) => text.replace(/^\s*```\w*\n?|\n?```\s*$/g, ''))
    .filter((text) => text.trim() !== '');
}

function declarationName(node: ts.Declaration): string {
  const name = ts.getNameOfDeclaration(node);
  return name ? name.getText() : '(anonymous)';
}

/** Splits an example into its import declarations and the statements after them. */
function splitImports(code: string): { imports: string; body: string; importedNames: Set<string> } {
  const file = ts.createSourceFile('example.ts', code, ts.ScriptTarget.Latest, true);
  const importedNames = new Set<string>();
  const imports: string[] = [];
  let end = 0;
  for (const statement of file.statements) {
    if (!ts.isImportDeclaration(statement)) continue;
    imports.push(statement.getText(file));
    end = statement.getEnd();
    const clause = statement.importClause;
    if (clause?.name) importedNames.add(clause.name.text);
    const bindings = clause?.namedBindings;
    if (bindings && ts.isNamespaceImport(bindings)) importedNames.add(bindings.name.text);
    if (bindings && ts.isNamedImports(bindings)) for (const element of bindings.elements) importedNames.add(element.name.text);
  }
  return { imports: imports.join('\n'), body: code.slice(end).replace(/^\n+/, ''), importedNames };
}

/** Every example of every public declaration, as a virtual module ready to compile. */
export function collectExamples(): JsDocExample[] {
  const entries = entryPoints();
  const program = ts.createProgram({ rootNames: entries.map((e) => e.source), options: compilerOptions() });
  const checker = program.getTypeChecker();
  const exportsByPackage = new Map<string, Map<string, { specifier: string; typeOnly: boolean }>>();
  const documented = new Map<ts.Node, { entry: EntryPoint }>();
  // A class exported only as a type (a service byok builds) documents its instance
  // members; its constructor and statics are not public.
  const typeOnlyClasses = new Set<ts.Node>();
  const valueClasses = new Set<ts.Node>();
  for (const entry of entries) {
    const file = program.getSourceFile(entry.source);
    const moduleSymbol = file && checker.getSymbolAtLocation(file);
    if (!moduleSymbol) continue;
    const names = exportsByPackage.get(entry.packageDir) ?? new Map<string, { specifier: string; typeOnly: boolean }>();
    exportsByPackage.set(entry.packageDir, names);
    for (const exported of checker.getExportsOfModule(moduleSymbol)) {
      const symbol = exported.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(exported) : exported;
      const typeOnly = isTypeOnlyExport(checker, exported);
      // Auto-import a name from where it is a value, if anywhere.
      if (!names.has(exported.name) || (!typeOnly && names.get(exported.name)!.typeOnly)) names.set(exported.name, { specifier: entry.specifier, typeOnly });
      for (const declaration of symbol.declarations ?? []) {
        if (!documented.has(declaration)) documented.set(declaration, { entry });
        if (ts.isClassDeclaration(declaration)) (typeOnly ? typeOnlyClasses : valueClasses).add(declaration);
        if (ts.isClassDeclaration(declaration) || ts.isInterfaceDeclaration(declaration)) {
          for (const member of declaration.members) if (!documented.has(member)) documented.set(member, { entry });
        }
      }
    }
  }
  const examples: JsDocExample[] = [];
  let n = 0;
  for (const [node, { entry }] of documented) {
    const sourceFile = node.getSourceFile();
    if (sourceFile.isDeclarationFile || !sourceFile.fileName.startsWith(join(root, 'packages'))) continue;
    const internalMember =
      ts.isClassElement(node) &&
      typeOnlyClasses.has(node.parent) &&
      !valueClasses.has(node.parent) &&
      (ts.isConstructorDeclaration(node) || (ts.canHaveModifiers(node) && ts.getModifiers(node)?.some((m) => m.kind === ts.SyntaxKind.StaticKeyword)));
    if (internalMember) continue;
    const owner = ts.isClassElement(node) || ts.isTypeElement(node) ? `${declarationName(node.parent as ts.Declaration)}.${declarationName(node as ts.Declaration)}` : declarationName(node as ts.Declaration);
    const tags = exampleTags(node);
    for (const [index, code] of tags.entries()) {
      const { imports, body, importedNames } = splitImports(code);
      const autoImports = new Map<string, string[]>();
      for (const [name, { specifier }] of exportsByPackage.get(entry.packageDir) ?? []) {
        if (importedNames.has(name) || CONTEXT.includes(name)) continue;
        autoImports.set(specifier, [...(autoImports.get(specifier) ?? []), name]);
      }
      const head = [
        imports,
        ...[...autoImports].map(([specifier, names]) => `import { ${names.join(', ')} } from '${specifier}';`),
        PRELUDE,
        'export async function example(): Promise<void> {',
      ].join('\n');
      const line = sourceFile.getLineAndCharacterOfPosition(node.getStart(sourceFile)).line + 1;
      const virtualPath = join(dirname(sourceFile.fileName), `__jsdoc_example_${n++}.ts`);
      examples.push({
        where: `${relative(root, sourceFile.fileName)}:${line} ${owner}${tags.length > 1 ? ` #${index + 1}` : ''}`,
        file: sourceFile.fileName,
        code,
        virtualPath,
        virtualText: `${head}\n${body}\n}\n`,
        bodyOffset: head.split('\n').length,
      });
    }
  }
  return examples.sort((a, b) => a.where.localeCompare(b.where));
}

/** A module that exists only in memory, compiled as if it were at `path`. */
export interface VirtualModule {
  path: string;
  text: string;
}

/**
 * Compiles virtual modules in one program (so their imports resolve from where they
 * pretend to live) and returns the program, for each caller to read the diagnostics it
 * cares about.
 */
export function compileVirtualModules(modules: VirtualModule[]): ts.Program {
  const options = compilerOptions();
  const virtual = new Map(modules.map((m) => [m.path, m.text]));
  const host = ts.createCompilerHost(options);
  const getSourceFile = host.getSourceFile.bind(host);
  host.getSourceFile = (fileName, languageVersion, onError, shouldCreate) => {
    const text = virtual.get(fileName);
    return text !== undefined ? ts.createSourceFile(fileName, text, languageVersion, true) : getSourceFile(fileName, languageVersion, onError, shouldCreate);
  };
  const fileExists = host.fileExists.bind(host);
  host.fileExists = (fileName) => virtual.has(fileName) || fileExists(fileName);
  const readFile = host.readFile.bind(host);
  host.readFile = (fileName) => virtual.get(fileName) ?? readFile(fileName);
  return ts.createProgram({ rootNames: [...virtual.keys()], options, host });
}

/** A virtual module's syntax and type errors. */
export function diagnosticsOf(program: ts.Program, path: string): ts.Diagnostic[] {
  const file = program.getSourceFile(path)!;
  return [...program.getSyntacticDiagnostics(file), ...program.getSemanticDiagnostics(file)];
}

/** Compiles every example at once; returns each one's errors, mapped to its own lines. */
export function compileExamples(examples: JsDocExample[]): Map<string, string[]> {
  const program = compileVirtualModules(examples.map((e) => ({ path: e.virtualPath, text: e.virtualText })));
  const errors = new Map<string, string[]>(examples.map((e) => [e.where, []]));
  // A doc comment that ends early (a `*/` inside an example) leaves the rest of the
  // example as code in the documented file itself: report that file's syntax errors too.
  for (const example of examples) {
    const documented = program.getSourceFile(example.file);
    for (const d of documented ? program.getSyntacticDiagnostics(documented) : []) {
      const { line } = documented!.getLineAndCharacterOfPosition(d.start ?? 0);
      errors.get(example.where)!.push(`${relative(root, example.file)}:${line + 1}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`);
    }
  }
  for (const example of examples) {
    const file = program.getSourceFile(example.virtualPath)!;
    for (const d of diagnosticsOf(program, example.virtualPath)) {
      const { line } = d.start !== undefined ? file.getLineAndCharacterOfPosition(d.start) : { line: -1 };
      const where = line >= example.bodyOffset ? `example line ${line - example.bodyOffset + 1}` : 'example imports';
      errors.get(example.where)!.push(`${where}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`);
    }
  }
  return errors;
}
