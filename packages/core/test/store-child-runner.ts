import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const script = fileURLToPath(new URL('./store-child.ts', import.meta.url));

export interface StoreChild<T> {
  ready: Promise<void>;
  done: Promise<T>;
  go(): void;
}

/** Starts store-child.ts in its own Node process (through tsx). */
export function startStoreChild<T>(args: string[]): StoreChild<T> {
  const proc = spawn(process.execPath, ['--import', 'tsx', script, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  let markReady: () => void = () => undefined;
  const ready = new Promise<void>((resolve) => (markReady = resolve));
  proc.stdout.on('data', (d: Buffer) => {
    out += d.toString();
    if (out.startsWith('ready\n')) markReady();
  });
  proc.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const done = new Promise<T>((resolve, reject) => {
    proc.on('error', reject);
    proc.on('exit', (code) => {
      if (code === 0) resolve(JSON.parse(out.trim().split('\n').pop()!) as T);
      else reject(new Error(`store child exited with ${code}: ${err.slice(-2000)}`));
    });
  });
  return { ready: Promise.race([ready, done.then(() => undefined)]), done, go: () => proc.stdin.write('go\n') };
}

/** Starts children, waits until every one is connected, then releases them together. */
export async function raceStoreChildren<T>(argsList: string[][]): Promise<T[]> {
  const children = argsList.map((args) => startStoreChild<T>(args));
  await Promise.all(children.map((c) => c.ready));
  for (const c of children) c.go();
  return Promise.all(children.map((c) => c.done));
}
