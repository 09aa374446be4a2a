import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { LoadCommand, LoadReply, RpsResult } from './load-protocol';

/** The http group's second process (load-client.ts), started once and driven one command at a time. */
export interface LoadProcess {
  rps(command: Omit<Extract<LoadCommand, { kind: 'rps' }>, 'kind'>): Promise<RpsResult>;
  firstBytes(command: Omit<Extract<LoadCommand, { kind: 'first-byte' }>, 'kind'>): Promise<number[]>;
  pings(command: Omit<Extract<LoadCommand, { kind: 'ping' }>, 'kind'>): Promise<number[]>;
  close(): Promise<void>;
}

/**
 * Forks the load client with this process's loader flags (tsx's), so it runs the
 * TypeScript source as the bench does.
 */
export async function startLoadProcess(): Promise<LoadProcess> {
  const child: ChildProcess = fork(fileURLToPath(new URL('./load-client.ts', import.meta.url)), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const waiting = new Map<number, { resolve(value: unknown): void; reject(error: Error): void }>();
  let nextId = 1;
  let exited: Error | undefined;
  const ready = new Promise<void>((resolve, reject) => {
    waiting.set(0, { resolve: () => resolve(), reject });
  });
  child.on('message', (message: LoadReply) => {
    const entry = waiting.get(message.id);
    if (!entry) return;
    waiting.delete(message.id);
    if (message.error !== undefined) entry.reject(new Error(`load process: ${message.error}`));
    else entry.resolve(message.result);
  });
  child.on('exit', (code, signal) => {
    exited = new Error(`load process exited (${code ?? signal})`);
    for (const entry of waiting.values()) entry.reject(exited);
    waiting.clear();
  });
  await ready;

  const send = <T>(command: LoadCommand): Promise<T> => {
    if (exited) return Promise.reject(exited);
    const id = nextId++;
    return new Promise<T>((resolve, reject) => {
      waiting.set(id, { resolve: resolve as (value: unknown) => void, reject });
      child.send({ id, command });
    });
  };

  return {
    rps: (command) => send<RpsResult>({ kind: 'rps', ...command }),
    firstBytes: (command) => send<number[]>({ kind: 'first-byte', ...command }),
    pings: (command) => send<number[]>({ kind: 'ping', ...command }),
    close: () =>
      new Promise<void>((resolve) => {
        if (exited || child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill();
      }),
  };
}
