import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Figure } from '../harness';

/**
 * The `http` group (issue 10 point 13; the measurements are in ../http/http-group.ts).
 * It runs in a process of its own because tsx applies the bench's tsconfig only to the
 * bench's files, and @byok/nest's sources need `experimentalDecorators`: the forked
 * process gets a tsconfig that covers the workspace packages too. That process is the
 * server side (every framework's server and `chat.send` in process); it forks the load
 * process (autocannon) in turn.
 */
export function run(): Promise<Figure[]> {
  const child = fork(fileURLToPath(new URL('../http/http-group.ts', import.meta.url)), [], {
    env: { ...process.env, BYOK_HTTP_GROUP_CHILD: '1', TSX_TSCONFIG_PATH: fileURLToPath(new URL('../http/tsconfig.decorators.json', import.meta.url)) },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  return new Promise<Figure[]>((resolve, reject) => {
    let settled = false;
    child.on('message', (message: { figures?: Figure[]; error?: string }) => {
      settled = true;
      if (message.figures) resolve(message.figures);
      else reject(new Error(`http group failed: ${message.error}`));
    });
    child.on('exit', (code, signal) => {
      if (!settled) reject(new Error(`http group process exited (${code ?? signal}) without figures`));
    });
  });
}
