// A scenario server as its own process (the crash and load scenarios): configured by the
// BYOK_REL_SERVER JSON, prints "listening <port>" once byok serves, stops on SIGTERM.
import { startScenarioServer, type ServerConfig } from './server-app';

const config = JSON.parse(process.env.BYOK_REL_SERVER ?? '{}') as ServerConfig;
const server = await startScenarioServer(config);
process.stdout.write(`listening ${server.port}\n`);
process.once('SIGTERM', () => {
  void server.close().then(() => process.exit(0));
});
