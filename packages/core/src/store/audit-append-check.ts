import { ByokError } from '../errors';
import type { AuditRow } from './store';

/**
 * Every store checks that the row `build()` returned extends the head it was given, so a
 * buggy builder can never write a row that breaks the chain.
 */
export function assertExtendsHead(chain: string, prev: { seq: number; hash: string }, row: AuditRow): void {
  if (row.chain !== chain || row.seq !== prev.seq + 1 || row.prevHash !== prev.hash) {
    throw new ByokError('internal', 'The audit row does not extend its chain head');
  }
}
