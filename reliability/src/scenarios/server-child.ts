// A scenario server as its own process (the crash and load scenarios): configured by the
// BYOK_REL_SERVER JSON, prints "listening <port>" once byok serves, stops on SIGTERM.
import { startScenarioServer, type ServerConfig } from './server-app';

const config = JSON.parse(process.env.BYOK_REL_SERVER ?? '{}') as ServerConfig;
// byok's (sanitised) log on stderr, one JSON line per entry, for the parent to read.
const line = (level: string) => (obj: object, msg?: string) =>
  void process.stderr.write(`${JSON.stringify({ level, msg, obj }, (_k, v: unknown) => (v instanceof Error ? { name: v.name, message: v.message } : v))}\n`);
const server = await startScenarioServer(config, { logger: { info: () => undefined, warn: line('warn'), error: line('error') } });
process.stdout.write(`listening ${server.port}\n`);
process.once('SIGTERM', () => {
  void server.close().then(() => process.exit(0));
});
