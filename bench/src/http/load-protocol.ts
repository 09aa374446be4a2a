/** What the http group asks its load process to do. */
export type LoadCommand =
  | {
      kind: 'rps';
      url: string;
      headers: Record<string, string>;
      connections: number;
      durationSec: number;
    }
  | {
      kind: 'first-byte';
      /** Where byok's routes start (`http://127.0.0.1:port/api`). */
      base: string;
      token: string;
      /** One turn per session, in order. */
      sessionIds: string[];
      text: string;
    }
  | {
      /** `count` sequential GETs of `url`: each one's time to the first byte of its body. */
      kind: 'ping';
      url: string;
      count: number;
    };

/** One autocannon run's outcome. */
export interface RpsResult {
  /** 2xx responses per second of the run. */
  rps: number;
  ok: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  p50Ms: number;
  p99Ms: number;
}

export type LoadReply = { id: number; result: RpsResult | number[] | 'ready'; error?: undefined } | { id: number; error: string; result?: undefined };
