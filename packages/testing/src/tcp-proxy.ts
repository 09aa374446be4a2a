// A loopback TCP proxy for fault tests: put it between a client and a database (or any
// server), then cut it — every open connection dropped, new ones refused, as when the
// server restarts or the network goes away — and restore it on the same port.
import { connect, createServer, type Server, type Socket } from 'node:net';

/** A TCP proxy started by {@link startTcpProxy}. */
export interface TcpProxy {
  /** The loopback port clients connect to (the same after {@link TcpProxy.restore}). */
  readonly port: number;
  /** Drops every open connection and refuses new ones until {@link TcpProxy.restore}. */
  cut(): Promise<void>;
  /** Listens again on the same port. */
  restore(): Promise<void>;
  /** Stops the proxy (as {@link TcpProxy.cut}). */
  close(): Promise<void>;
}

/**
 * Starts a proxy on a free 127.0.0.1 port that forwards every connection to `targetHost:targetPort`.
 *
 * @example
 * const proxy = await startTcpProxy(5432);
 * const url = new URL('postgres://postgres@127.0.0.1:5432/test');
 * url.port = String(proxy.port); // the client under test connects to url.toString()
 * await proxy.cut(); // the database "restarts"
 * await proxy.restore();
 */
export async function startTcpProxy(targetPort: number, targetHost = '127.0.0.1'): Promise<TcpProxy> {
  const sockets = new Set<Socket>();
  let server: Server | null = null;
  let port = 0;
  const forward = (client: Socket) => {
    const upstream = connect({ host: targetHost, port: targetPort });
    sockets.add(client).add(upstream);
    const drop = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
    client.pipe(upstream);
    upstream.pipe(client);
  };
  const listen = () =>
    new Promise<void>((resolve, reject) => {
      if (server) return resolve();
      const s = createServer(forward);
      s.once('error', reject);
      s.listen(port, '127.0.0.1', () => {
        port = (s.address() as { port: number }).port;
        server = s;
        resolve();
      });
    });
  const stop = () =>
    new Promise<void>((resolve) => {
      for (const socket of sockets) socket.destroy();
      sockets.clear();
      if (!server) return resolve();
      server.close(() => resolve());
      server = null;
    });
  await listen();
  return {
    get port() {
      return port;
    },
    cut: stop,
    restore: listen,
    close: stop,
  };
}
