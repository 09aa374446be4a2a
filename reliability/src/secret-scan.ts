// The leak scan: every secret the run handed to byok or got from it (provider keys,
// refresh tokens, OAuth codes, token signing keys, the KMS master key, the cookie secret)
// must appear nowhere in what byok keeps or says: every table of the database (and the
// SQLite file's raw bytes, freed pages included), the logs, the responses, the audit trail.
import { existsSync, readFileSync } from 'node:fs';
import { UserApi } from './user-api';
import type { Secrets, World } from './world';

/** A place to search: a name and its text. */
export interface Haystack {
  where: string;
  text: string;
}

/** The forms a secret may take when written down: as given, base64, base64url, hex, URL-encoded. */
export function secretForms(secret: string): string[] {
  const bytes = Buffer.from(secret, 'utf8');
  const forms = new Set([secret, bytes.toString('base64'), bytes.toString('base64url'), bytes.toString('hex'), encodeURIComponent(secret)]);
  // Secrets that are themselves base64 (keys, JWK members): their bytes in other encodings too.
  if (/^[A-Za-z0-9+/_-]+={0,2}$/.test(secret) && secret.length >= 16) {
    const encoding = secret.includes('+') || secret.includes('/') ? 'base64' : 'base64url';
    const raw = Buffer.from(secret, encoding);
    // Only a secret that really is base64 (it round-trips): otherwise the decoded bytes are noise.
    if (raw.length >= 12 && raw.toString(encoding).replace(/=+$/, '') === secret.replace(/=+$/, '')) for (const f of [raw.toString('hex'), raw.toString('base64'), raw.toString('base64url'), raw.toString('latin1')]) forms.add(f);
  }
  if (/^[0-9a-f]+$/i.test(secret) && secret.length % 2 === 0 && secret.length >= 32) {
    const raw = Buffer.from(secret, 'hex');
    for (const f of [raw.toString('base64'), raw.toString('base64url'), raw.toString('latin1')]) forms.add(f);
  }
  // A base64 form padded at the end: match without the padding.
  return [...forms].map((f) => f.replace(/=+$/, '')).filter((f) => f.length >= 12);
}

/** Every (kind, place) where a secret shows up; the secret itself is never printed. */
export function findSecrets(secrets: Secrets, haystacks: readonly Haystack[]): string[] {
  const leaks: string[] = [];
  for (const [kind, values] of Object.entries(secrets) as Array<[keyof Secrets, string[]]>) {
    for (const value of values) {
      const forms = secretForms(value);
      for (const hay of haystacks) {
        const form = forms.find((f) => hay.text.includes(f));
        if (form) leaks.push(`${kind} (${value.slice(0, 4)}…, ${value.length} chars) found in ${hay.where}`);
      }
    }
  }
  return leaks;
}

/** Every row of every table, one haystack per table (binary columns as hex, base64 and text). */
export async function dumpDatabase(world: World): Promise<{ haystacks: Haystack[]; rows: number; tables: number }> {
  const haystacks: Haystack[] = [];
  let rows = 0;
  const cell = (value: unknown): string => {
    if (Buffer.isBuffer(value) || value instanceof Uint8Array) {
      const b = Buffer.from(value);
      return `${b.toString('hex')} ${b.toString('base64')} ${b.toString('latin1')}`;
    }
    return typeof value === 'string' ? value : JSON.stringify(value);
  };
  const config = world.db.config as { sqlite?: string; postgres?: string; mysql?: string };
  if (config.sqlite) {
    const { default: Database } = await import('better-sqlite3');
    const db = new Database(config.sqlite, { readonly: true, fileMustExist: true });
    try {
      const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as Array<{ name: string }>;
      for (const { name } of tables) {
        const all = db.prepare(`SELECT * FROM "${name.replace(/"/g, '""')}"`).all() as Array<Record<string, unknown>>;
        rows += all.length;
        haystacks.push({ where: `database table ${name}`, text: all.map((r) => Object.values(r).map(cell).join('\t')).join('\n') });
      }
      // The file's bytes too: a secret in a freed page or the WAL is still on disk.
      for (const suffix of ['', '-wal']) {
        if (existsSync(config.sqlite + suffix)) haystacks.push({ where: `the SQLite file${suffix}`, text: readFileSync(config.sqlite + suffix).toString('latin1') });
      }
      return { haystacks, rows, tables: tables.length };
    } finally {
      db.close();
    }
  }
  if (config.postgres) {
    const { default: pg } = await import('pg');
    const client = new pg.Client({ connectionString: config.postgres });
    await client.connect();
    try {
      const tables = await client.query<{ schemaname: string; tablename: string }>("SELECT schemaname, tablename FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')");
      for (const t of tables.rows) {
        const all = await client.query(`SELECT * FROM "${t.schemaname}"."${t.tablename}"`);
        rows += all.rowCount ?? 0;
        haystacks.push({ where: `database table ${t.schemaname}.${t.tablename}`, text: all.rows.map((r: Record<string, unknown>) => Object.values(r).map(cell).join('\t')).join('\n') });
      }
      return { haystacks, rows, tables: tables.rows.length };
    } finally {
      await client.end();
    }
  }
  if (config.mysql) {
    const mysql = await import('mysql2/promise');
    const connection = await mysql.createConnection(config.mysql);
    try {
      const [tables] = (await connection.query('SELECT table_name AS name FROM information_schema.tables WHERE table_schema = DATABASE()')) as unknown as [Array<{ name: string }>];
      for (const { name } of tables) {
        const [all] = (await connection.query(`SELECT * FROM \`${name.replace(/`/g, '``')}\``)) as unknown as [Array<Record<string, unknown>>];
        rows += all.length;
        haystacks.push({ where: `database table ${name}`, text: all.map((r) => Object.values(r).map(cell).join('\t')).join('\n') });
      }
      return { haystacks, rows, tables: tables.length };
    } finally {
      await connection.end();
    }
  }
  throw new Error('the leak scan knows SQLite, PostgreSQL and MariaDB databases');
}

export interface ScanResult {
  leaks: string[];
  figures: { secrets: Record<string, number>; tables: number; rows: number; logLines: number; responses: number; auditEvents: number };
}

/** Scans everything the world kept after a run. */
export async function scanForSecrets(world: World): Promise<ScanResult> {
  await world.collectSigningKeys();
  const db = await dumpDatabase(world);
  const audit: Haystack[] = [];
  let auditEvents = 0;
  for (const user of world.users) {
    const answer = await new UserApi(user, world.hosts.express.base).call('GET', '/me/audit?limit=100');
    if (answer.status === 200) {
      auditEvents += (answer.json?.items ?? []).length;
      audit.push({ where: `the audit trail of ${user.login} (GET /me/audit)`, text: answer.text });
    }
  }
  const haystacks: Haystack[] = [
    ...db.haystacks,
    { where: 'the logs', text: world.logs.join('\n') },
    ...world.responses.map((text, i) => ({ where: `response #${i} (${text.slice(0, 80).replace(/\n.*/s, '')})`, text })),
    ...audit,
  ];
  return {
    leaks: findSecrets(world.secrets, haystacks),
    figures: {
      secrets: Object.fromEntries(Object.entries(world.secrets).map(([k, v]) => [k, (v as string[]).length])),
      tables: db.tables,
      rows: db.rows,
      logLines: world.logs.length,
      responses: world.responses.length,
      auditEvents,
    },
  };
}
