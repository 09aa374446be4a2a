// The leak scan reads every table of every engine the reliability parts run on: a secret
// planted in a table of a fresh database is found there, in a text and in a binary column.
import { describe, expect, it } from 'vitest';
import { createTestDatabase, selectTestBackends, type TestDatabase } from '@byok/testing';
import { dumpDatabase, findSecrets } from '../src/secret-scan';
import type { Secrets, World } from '../src/world';

const secrets: Secrets = { providerKeys: ['AIzaSyREL-dump-canary-5566778899aabbccdd'], refreshTokens: [], oauthCodes: [], signingKeys: ['nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A'], masterSecrets: [] };

async function plant(db: TestDatabase): Promise<void> {
  const text = secrets.providerKeys[0]!;
  const bytes = Buffer.from(secrets.signingKeys[0]!, 'base64url');
  const config = db.config as { sqlite?: string; postgres?: string; mysql?: string };
  if (config.sqlite) {
    const { default: Database } = await import('better-sqlite3');
    const sqlite = new Database(config.sqlite);
    sqlite.exec('CREATE TABLE planted (note TEXT, blob BLOB)');
    sqlite.prepare('INSERT INTO planted VALUES (?, ?)').run(`key ${text}`, bytes);
    sqlite.close();
  } else if (config.postgres) {
    const { default: pg } = await import('pg');
    const client = new pg.Client({ connectionString: config.postgres });
    await client.connect();
    await client.query('CREATE TABLE planted (note text, blob bytea)');
    await client.query('INSERT INTO planted VALUES ($1, $2)', [`key ${text}`, bytes]);
    await client.end();
  } else {
    const mysql = await import('mysql2/promise');
    const connection = await mysql.createConnection(config.mysql!);
    await connection.query('CREATE TABLE planted (note text, `blob` blob)');
    await connection.query('INSERT INTO planted VALUES (?, ?)', [`key ${text}`, bytes]);
    await connection.end();
  }
}

describe.each(selectTestBackends(['sqlite', 'postgres', 'mysql'] as const))('the database dump of the leak scan on %s', (kind) => {
  it('finds a secret planted in a text column and one in a binary column', async () => {
    const db = await createTestDatabase(kind);
    try {
      await plant(db);
      const dump = await dumpDatabase({ db } as World);
      expect(dump.tables).toBeGreaterThanOrEqual(1);
      expect(dump.rows).toBeGreaterThanOrEqual(1);
      const leaks = findSecrets(secrets, dump.haystacks);
      expect(leaks).toEqual(expect.arrayContaining([expect.stringContaining('providerKeys ('), expect.stringContaining('signingKeys (')]));
      expect(leaks.some((l) => l.includes('planted'))).toBe(true);
    } finally {
      await db.drop();
    }
  });
});
