import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { root, workspacePackages, type WorkspacePackage } from './workspace';

// Installs the packages the way a consumer gets them: `pnpm pack` each published package
// into a temporary directory, then `pnpm install` the tarballs there with the consumer's
// own copies of the peers — outside the workspace, so nothing resolves to the sources.

export interface PackedPackage extends WorkspacePackage {
  tarball: string;
  manifest: {
    name: string;
    exports?: Record<string, unknown>;
    peerDependencies?: Record<string, string>;
    peerDependenciesMeta?: Record<string, { optional?: boolean }>;
  };
  /** Every import specifier of the package: `@byok/core`, `@byok/core/http`, … */
  specifiers: string[];
}

export const published = (): WorkspacePackage[] => workspacePackages().filter((p) => !p.private && p.hasSource);

/** Builds what is not built yet, then packs every published package into `dir`. */
export function packAll(dir: string): PackedPackage[] {
  const packages = published();
  if (packages.some((p) => !existsSync(join(p.dir, 'dist')))) {
    execFileSync('pnpm', ['-r', '--filter', './packages/*', 'run', 'build'], { cwd: root, stdio: 'ignore' });
  }
  mkdirSync(dir, { recursive: true });
  return packages.map((pkg) => {
    const before = new Set(readdirSync(dir));
    execFileSync('pnpm', ['pack', '--pack-destination', dir], { cwd: pkg.dir, stdio: 'ignore' });
    const tarball = readdirSync(dir).find((f) => !before.has(f) && f.endsWith('.tgz'));
    if (!tarball) throw new Error(`pnpm pack wrote no tarball for ${pkg.name}`);
    const manifest = JSON.parse(readFileSync(join(pkg.dir, 'package.json'), 'utf8')) as PackedPackage['manifest'];
    const specifiers = Object.keys(manifest.exports ?? { '.': null })
      .filter((k) => k !== './package.json')
      .map((k) => (k === '.' ? manifest.name : `${manifest.name}/${k.slice(2)}`));
    return { ...pkg, tarball: join(dir, tarball), manifest, specifiers };
  });
}

/** The version of a dependency installed in the workspace (the one the tests ran against). */
export function workspaceVersion(name: string): string {
  const dirs = [join(root, 'node_modules'), ...readdirSync(join(root, 'packages')).map((d) => join(root, 'packages', d, 'node_modules'))];
  for (const dir of dirs) {
    const file = join(dir, name, 'package.json');
    if (existsSync(file)) return (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version;
  }
  throw new Error(`${name} is not installed in the workspace`);
}

/** The peers a package requires (not the optional ones), byok's own excluded. */
export function requiredPeers(pkg: PackedPackage): string[] {
  return Object.keys(pkg.manifest.peerDependencies ?? {}).filter((n) => !n.startsWith('@byok/') && !pkg.manifest.peerDependenciesMeta?.[n]?.optional);
}

export interface Consumer {
  dir: string;
  /** Runs `node <args>` in the consumer. */
  node(args: string[], options?: { input?: string }): { status: number | null; stdout: string; stderr: string };
  /** Whether a package is installed anywhere in the consumer (pnpm's virtual store included). */
  hasInstalled(name: string): boolean;
}

/**
 * A fresh project in the system temp directory that depends on the given tarballs and on
 * `dependencies` (name → version), installed by pnpm. `--prefer-offline` uses the pnpm
 * store the workspace filled and asks the registry only for what it lacks.
 */
export function installConsumer(label: string, tarballs: PackedPackage[], dependencies: Record<string, string>, type: 'module' | 'commonjs'): Consumer {
  const dir = mkdtempSync(join(tmpdir(), `byok-consumer-${label}-`));
  const deps: Record<string, string> = { ...dependencies };
  for (const pkg of tarballs) deps[pkg.manifest.name] = `file:${pkg.tarball}`;
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: `consumer-${label}`, version: '0.0.0', private: true, type, dependencies: deps }, null, 2));
  // A consumer approves no install scripts; none of these packages needs one to load.
  writeFileSync(join(dir, 'pnpm-workspace.yaml'), 'dangerouslyAllowAllBuilds: false\nstrictDepBuilds: false\n');
  const install = spawnSync('pnpm', ['install', '--prefer-offline', '--config.confirmModulesPurge=false'], { cwd: dir, encoding: 'utf8', env: { ...process.env, CI: '1' } });
  if (install.status !== 0) throw new Error(`pnpm install in ${dir} failed:\n${install.stdout}\n${install.stderr}`);
  return {
    dir,
    node(args, options = {}) {
      const result = spawnSync(process.execPath, args, { cwd: dir, encoding: 'utf8', input: options.input, env: { ...process.env, NODE_OPTIONS: '' } });
      return { status: result.status, stdout: result.stdout, stderr: result.stderr };
    },
    hasInstalled(name) {
      const flat = name.replace('/', '+');
      return existsSync(join(dir, 'node_modules', name)) || readdirSync(join(dir, 'node_modules/.pnpm')).some((d) => d.startsWith(`${flat}@`));
    },
  };
}

/** The value exports (not types) each entry point lists in the committed API report. */
export function reportedValues(pkgDir: string): Map<string, string[]> {
  const file = join(root, 'api', `${pkgDir}.api.md`);
  if (!existsSync(file)) throw new Error(`No api/${pkgDir}.api.md: run \`node scripts/api-report.mjs --update\``);
  const out = new Map<string, string[]>();
  let entry = '';
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const heading = /^## `(.+)`$/.exec(line);
    if (heading) {
      entry = heading[1]!;
      out.set(entry, []);
      continue;
    }
    const row = /^\| `(.+)` \| (.+) \|$/.exec(line);
    if (row && /^(class|function|const|let|enum)\b/.test(row[2]!) && !row[2]!.includes('type only')) out.get(entry)!.push(row[1]!);
  }
  return out;
}
