// The supply-chain check: the production dependency tree of the published packages
// (packages/*, as `pnpm list --prod` resolves it from the lockfile) goes to the registry's
// bulk advisory endpoint (the one `npm audit` and `pnpm audit` use); any high or critical
// advisory that covers an installed version fails the check. An endpoint that cannot be
// reached, or answers anything but advisories, fails it too: no answer is not a clean bill.
import { execFileSync } from 'node:child_process';
import semver from 'semver';

export type Severity = 'info' | 'low' | 'moderate' | 'high' | 'critical';

/** One advisory as the bulk endpoint answers it (only the fields read here). */
export interface Advisory {
  id: number | string;
  url?: string;
  title?: string;
  severity: Severity;
  vulnerable_versions: string;
}

/** The bulk endpoint's answer: advisories by package name. */
export type BulkAdvisories = Record<string, Advisory[]>;

export interface Finding {
  name: string;
  version: string;
  severity: Severity;
  id: number | string;
  title: string;
  url: string;
}

export class AuditUnavailableError extends Error {
  override readonly name = 'AuditUnavailableError';
}

/** Every package (name → installed versions) the published packages depend on in production, workspace packages left out. */
export function productionDependencies(root: string): Record<string, string[]> {
  const out = execFileSync('pnpm', ['list', '--prod', '--json', '--depth', 'Infinity', '--filter', './packages/*'], { cwd: root, encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
  const projects = JSON.parse(out) as Array<{ name: string; dependencies?: Record<string, Node>; optionalDependencies?: Record<string, Node> }>;
  interface Node {
    version: string;
    dependencies?: Record<string, Node>;
    optionalDependencies?: Record<string, Node>;
  }
  const found = new Map<string, Set<string>>();
  const walk = (deps: Record<string, Node> | undefined) => {
    for (const [name, node] of Object.entries(deps ?? {})) {
      if (!node?.version || node.version.startsWith('link:') || node.version.startsWith('file:')) continue;
      const versions = found.get(name) ?? new Set<string>();
      if (versions.has(node.version)) continue;
      versions.add(node.version);
      found.set(name, versions);
      walk(node.dependencies);
      walk(node.optionalDependencies);
    }
  };
  for (const project of projects) {
    walk(project.dependencies);
    walk(project.optionalDependencies);
  }
  return Object.fromEntries([...found].map(([name, versions]) => [name, [...versions].sort()]));
}

/** The registry the project installs from (`pnpm config get registry`), unless BYOK_AUDIT_REGISTRY names another. */
export function configuredRegistry(root: string): string {
  const given = process.env.BYOK_AUDIT_REGISTRY?.trim();
  if (given) return given;
  return execFileSync('pnpm', ['config', 'get', 'registry'], { cwd: root, encoding: 'utf8' }).trim() || 'https://registry.npmjs.org/';
}

/** Asks the registry's bulk advisory endpoint; throws {@link AuditUnavailableError} when there is no usable answer. */
export async function fetchAdvisories(registry: string, dependencies: Record<string, string[]>, timeoutMs = 30_000): Promise<BulkAdvisories> {
  const url = new URL('-/npm/v1/security/advisories/bulk', registry.endsWith('/') ? registry : `${registry}/`);
  let res: Response;
  try {
    res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json' }, body: JSON.stringify(dependencies), signal: AbortSignal.timeout(timeoutMs) });
  } catch (error) {
    throw new AuditUnavailableError(`The advisory endpoint ${url} could not be reached (${(error as Error).message}); the supply-chain check cannot pass without it`);
  }
  const text = await res.text();
  if (res.status !== 200) throw new AuditUnavailableError(`The advisory endpoint ${url} answered ${res.status}${text ? `: ${text.slice(0, 200)}` : ''}; the supply-chain check cannot pass without it`);
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new AuditUnavailableError(`The advisory endpoint ${url} answered something that is not JSON: ${text.slice(0, 200)}`);
  }
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw new AuditUnavailableError(`The advisory endpoint ${url} answered JSON that is not advisories by package`);
  for (const [name, list] of Object.entries(body)) {
    if (!Array.isArray(list) || list.some((a) => typeof a?.severity !== 'string' || typeof a?.vulnerable_versions !== 'string')) {
      throw new AuditUnavailableError(`The advisory endpoint ${url} answered an unreadable entry for ${name}`);
    }
  }
  return body as BulkAdvisories;
}

const BLOCKING: ReadonlySet<Severity> = new Set(['high', 'critical']);

/** The high and critical advisories that cover an installed version. */
export function blockingFindings(dependencies: Record<string, string[]>, advisories: BulkAdvisories): Finding[] {
  const findings: Finding[] = [];
  for (const [name, list] of Object.entries(advisories)) {
    for (const version of dependencies[name] ?? []) {
      for (const advisory of list) {
        if (!BLOCKING.has(advisory.severity)) continue;
        if (!semver.satisfies(version, advisory.vulnerable_versions, { includePrerelease: true })) continue;
        findings.push({ name, version, severity: advisory.severity, id: advisory.id, title: advisory.title ?? '', url: advisory.url ?? '' });
      }
    }
  }
  return findings;
}

export function formatFinding(f: Finding): string {
  return `${f.severity}: ${f.name}@${f.version} — ${f.title} (${f.id}${f.url ? `, ${f.url}` : ''})`;
}
