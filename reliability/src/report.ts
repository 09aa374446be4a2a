// docs/reliability.md from the figures the parts wrote. Each part has a section renderer;
// a part without one (a new one, e.g. crash safety or load) is listed with its raw figures,
// so adding a part needs only its test and, for a nicer table, a renderer here.
import type { FuzzReport } from './fuzz';
import type { IsolationReport } from './isolation';
import type { ScanResult } from './secret-scan';

export interface PartResult {
  part: string;
  full: boolean;
  at: string;
  figures: any;
}

export interface TestFileResult {
  file: string;
  tests: Array<{ title: string; status: string; failure?: string | undefined }>;
}

export interface ReportInput {
  date: string;
  durationMs: number;
  machine: string;
  exitCode: number;
  parts: PartResult[];
  files: TestFileResult[];
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

const RENDERERS: Record<string, (p: PartResult) => string[]> = {
  fuzz: (p) => {
    const r = p.figures as FuzzReport;
    const lines = [
      `Seed ${r.seed} (reproduce with \`BYOK_RELIABILITY_SEED=${r.seed}\`), database ${r.database}, ${r.operations.length} operations (every operation of the registry), ${seconds(r.durationMs)} in all.`,
      '',
      '| adapter | requests | duration | slowest | 2xx/3xx | 4xx | 5xx | no answer | failures |',
      '|---|---:|---:|---:|---:|---:|---:|---:|---:|',
    ];
    for (const a of r.perAdapter) {
      const count = (test: (s: number) => boolean) => Object.entries(a.byStatus).filter(([s]) => test(Number(s))).reduce((n, [, c]) => n + c, 0);
      lines.push(`| ${a.adapter} | ${a.requests} | ${seconds(a.durationMs)} | ${a.maxMs.toFixed(0)} ms | ${count((s) => s > 0 && s < 400)} | ${count((s) => s >= 400 && s < 500)} | ${count((s) => s >= 500)} | ${count((s) => s === 0)} | ${a.failures} |`);
    }
    const strategies = r.perAdapter[0]?.strategies ?? {};
    lines.push('', `Request kinds (first adapter): ${Object.entries(strategies).map(([k, v]) => `${k} ${v}`).join(', ')}.`);
    if (r.failures.length) {
      lines.push('', `**${r.failures.length} failures.** The first ones:`, '');
      const seen = new Set<string>();
      for (const f of r.failures) {
        const key = `${f.adapter} ${f.operation} ${f.problem.slice(0, 60)}`;
        if (seen.has(key) || seen.size >= 12) continue;
        seen.add(key);
        lines.push(`- ${f.adapter} · ${f.operation} · ${f.strategy}: ${f.problem.slice(0, 200).replace(/\|/g, '\\|')} — \`${f.request.method} ${new URL(f.request.url).pathname.slice(0, 120)}\``);
      }
    }
    return lines;
  },
  isolation: (p) => {
    const r = p.figures as IsolationReport;
    return [
      `Seed ${r.seed}: ${r.users} users, ${r.steps} random steps, ${r.probes} probes at other users' real ids, ${r.checks} list/export/audit checks, ${seconds(r.durationMs)}.`,
      '',
      `Actions: ${Object.entries(r.actions).map(([k, v]) => `${k} ${v}`).join(', ')}.`,
      '',
      r.failures.length ? `**${r.failures.length} violations**, first: ${r.failures.slice(0, 5).join('; ')}` : 'No violation: after every step, other users\' ids answered exactly like ids that never existed (404), lists, exports and audit trails held own rows only, and nobody else\'s data changed.',
    ];
  },
  'supply-chain': (p) => [
    `Registry ${p.figures.registry}: ${p.figures.packages} packages (${p.figures.versions} versions) in the production dependency tree of packages/*, ${p.figures.advisories} advisories, ${p.figures.blocking.length} high or critical.`,
    ...p.figures.blocking.map((b: string) => `- ${b}`),
  ],
};

const DATABASE_TITLES: Readonly<Record<string, string>> = { sqlite: 'SQLite', postgres: 'PostgreSQL', mysql: 'MariaDB' };

/** The renderer a part's figures go to: its own name, or the name before its database. */
function rendererOf(part: string): string | undefined {
  if (part.endsWith('leak-scan')) return undefined;
  if (Object.hasOwn(RENDERERS, part)) return part;
  const base = part.slice(0, part.lastIndexOf('-'));
  return Object.hasOwn(RENDERERS, base) && Object.hasOwn(DATABASE_TITLES, part.slice(base.length + 1)) ? base : undefined;
}

function leakScan(p: PartResult): string[] {
  const f = p.figures as ScanResult['figures'];
  return [`${p.part}: secrets ${Object.entries(f.secrets).map(([k, v]) => `${k} ${v}`).join(', ')}; scanned ${f.tables} tables (${f.rows} rows), ${f.logLines} log lines, ${f.responses} responses, ${f.auditEvents} audit events.`];
}

export function renderReport(input: ReportInput): string {
  const failed = input.files.flatMap((f) => f.tests.filter((t) => t.status !== 'passed').map((t) => ({ file: f.file, ...t })));
  const lines = [
    '# Reliability and security figures',
    '',
    `Written by \`pnpm test:reliability\` (reliability/src/run.ts) on ${input.date}; ${seconds(input.durationMs)} in all on ${input.machine}.`,
    '',
    `**Result: ${input.exitCode === 0 ? 'every part passed' : `${failed.length} test(s) failed`}.**`,
    '',
  ];
  const sections: Array<[string, string]> = [
    ['fuzz', 'Fuzzing (issue 11, point 1)'],
    ['isolation', 'Isolation property test (point 2)'],
    ['supply-chain', 'Supply chain (point 8)'],
  ];
  for (const [part, title] of sections) {
    // A part runs once per database (`fuzz-postgres`, `fuzz-mysql`) or once (`supply-chain`).
    const runs = input.parts.filter((p) => rendererOf(p.part) === part);
    lines.push(`## ${title}`, '');
    if (runs.length === 0) lines.push('No figures: the part did not finish (see the failures below).', '');
    for (const p of runs) {
      const database = p.part.slice(part.length + 1);
      if (database) lines.push(`### ${DATABASE_TITLES[database] ?? database}`, '');
      lines.push(...RENDERERS[part]!(p), '');
    }
  }
  const scans = input.parts.filter((p) => p.part.endsWith('leak-scan'));
  lines.push('## Secret-leak scan (point 7)', '', 'Canary provider keys, refresh tokens, OAuth codes, signing keys (private members), the KMS master key and the cookie secret, searched as given and base64/base64url/hex/URL-encoded in every table, the SQLite file bytes (when SQLite), the logs, every response (Set-Cookie aside) and each user\'s audit trail.', '');
  lines.push(...(scans.length ? scans.flatMap(leakScan).map((l) => `- ${l}`) : ['No figures.']));
  // The scenarios scan their own database, server logs, Redis and CLI output (figure `leakScan`).
  for (const p of input.parts) {
    const scan = (p.figures as { figures?: { leakScan?: unknown } } | null)?.figures?.leakScan;
    if (typeof scan === 'string') lines.push(`- ${p.part}: ${scan}.`);
  }
  lines.push('');
  const others = input.parts.filter((p) => !rendererOf(p.part) && !p.part.endsWith('leak-scan'));
  for (const p of others) lines.push(`## ${p.part}`, '', '```json', JSON.stringify(p.figures, null, 2).slice(0, 4000), '```', '');
  lines.push('## Tests', '', '| file | test | result |', '|---|---|---|');
  for (const f of input.files) for (const t of f.tests) lines.push(`| ${f.file} | ${t.title.replace(/\|/g, '\\|')} | ${t.status} |`);
  if (failed.length) {
    lines.push('', '### Failures', '');
    for (const t of failed) lines.push(`- ${t.file} › ${t.title}`, '', '  ```', ...(t.failure ?? '').split('\n').map((l) => `  ${l.slice(0, 300)}`), '  ```', '');
  }
  return `${lines.join('\n')}\n`;
}
