import pg from 'pg';

/**
 * Counts database writes made through `pg` in this process: a transaction that wrote
 * counts once (at its COMMIT), a write statement outside a transaction once. Statements
 * are classified by their first keyword; reads (SELECT, and BEGIN/COMMIT/ROLLBACK
 * themselves) do not count. Every pool of the process goes through `Client.prototype.query`.
 */
export function countPgWrites(): { readonly writes: number; readonly statements: number; restore(): void } {
  const proto = pg.Client.prototype as unknown as { query: (...args: unknown[]) => unknown };
  const original = proto.query;
  const state = new WeakMap<object, { inTx: boolean; wrote: boolean }>();
  const counter = { writes: 0, statements: 0 };
  proto.query = function (this: object, ...args: unknown[]) {
    const first = args[0];
    const text = typeof first === 'string' ? first : typeof first === 'object' && first !== null ? String((first as { text?: unknown }).text ?? '') : '';
    const keyword = /^\s*(\w+)/.exec(text)?.[1]?.toLowerCase() ?? '';
    let s = state.get(this);
    if (!s) state.set(this, (s = { inTx: false, wrote: false }));
    counter.statements += 1;
    if (keyword === 'begin' || keyword === 'start') {
      s.inTx = true;
      s.wrote = false;
    } else if (keyword === 'commit' || keyword === 'end') {
      if (s.wrote) counter.writes += 1;
      s.inTx = false;
      s.wrote = false;
    } else if (keyword === 'rollback') {
      s.inTx = false;
      s.wrote = false;
    } else if (keyword === 'insert' || keyword === 'update' || keyword === 'delete' || (keyword === 'with' && /\b(insert|update|delete)\b/i.test(text))) {
      if (s.inTx) s.wrote = true;
      else counter.writes += 1;
    }
    return original.apply(this, args);
  };
  return {
    get writes() {
      return counter.writes;
    },
    get statements() {
      return counter.statements;
    },
    restore() {
      proto.query = original;
    },
  };
}
