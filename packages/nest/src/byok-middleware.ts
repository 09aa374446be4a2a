import type { ServerResponse } from 'node:http';
import { ByokError, type Byok } from '@byok/core';
import { errorResponse, handleNodeRequest } from '@byok/core/http';
import type { NestHttpRequest } from './nest-request';

type Next = (error?: unknown) => void;

/** The route parameter that carries the rest of the path after byok's mount point. */
export const REST_PARAMETER = 'byokPath';
const REST = new RegExp(`/?(?:\\{\\*${REST_PARAMETER}\\}|\\*${REST_PARAMETER})$`);
const JSON_TYPE = /^application\/(?:[\w.+-]+\+)?json\b/i;

/**
 * The middleware that hands byok's routes to core's Node lifecycle. Nest mounts it on
 * `<global prefix><path>/*byokPath`; the matched route tells where byok begins, so the
 * global prefix, its exclusions and versioning are whatever Nest decided. A body Nest's
 * JSON parser already read is passed on as it is (the host keeps `rawBody`); one it did
 * not read is read by core.
 */
export function byokMiddleware(byok: Pick<Byok, 'http'>) {
  return (req: NestHttpRequest, res: ServerResponse, next: Next): void => {
    const url = req.url ?? '/';
    const routePath = typeof req.route?.path === 'string' ? req.route.path : '';
    const inner = url.slice(routePath.replace(REST, '').length) || '/';
    if (!byok.http.routes(inner)) return next();
    const json = JSON_TYPE.test(req.headers['content-type'] ?? '');
    // Another of the host's parsers (urlencoded, text) consumed a body byok would refuse.
    if (req.body !== undefined && !json && req.headers['content-length'] !== '0') {
      return refuse(req, res, next, new ByokError('bad_request', 'The request body must be application/json'));
    }
    void handleNodeRequest(byok.http, req, res, { url: inner, ...(json && req.body !== undefined ? { parsedBody: req.body } : {}) }).catch(next);
  };
}

/**
 * Answers the errors of the host's body parsers (`express.json()` under Nest) on byok's
 * routes the way byok answers them: `{ error: { code, message } }`, 413 or 400. Other
 * errors, and errors on the host's own routes, go on to Nest.
 */
export function byokBodyErrors(byok: Pick<Byok, 'http'>) {
  return (error: unknown, req: NestHttpRequest, res: ServerResponse, next: Next): void => {
    const failure = error as { type?: unknown; status?: unknown };
    const status = typeof failure?.status === 'number' ? failure.status : 0;
    if (typeof failure?.type !== 'string' || status < 400 || status >= 500 || !byok.http.routes(req.url ?? '/')) return next(error);
    const refusal =
      status === 413
        ? new ByokError('payload_too_large', 'The request body is too large')
        : new ByokError('bad_request', failure.type === 'entity.parse.failed' ? 'The request body is not valid JSON' : 'The request body could not be read');
    refuse(req, res, next, refusal);
  };
}

/**
 * Refuses a path under byok's mount that is not valid percent-encoding (`/chat/sessions/%zz`)
 * with byok's error body. Express's router would otherwise fail to decode it while matching
 * byok's route and answer with Nest's own 400, unlike every other host.
 */
export function byokPathCheck(byok: Pick<Byok, 'http'>) {
  return (req: NestHttpRequest, res: ServerResponse, next: Next): void => {
    const url = req.url ?? '/';
    const path = url.split('?', 1)[0]!;
    if (!path.includes('%') || !byok.http.routes(url)) return next();
    try {
      decodeURIComponent(path);
    } catch {
      return refuse(req, res, next, new ByokError('bad_request', 'The request path is not valid percent-encoding'));
    }
    next();
  };
}

function refuse(req: NestHttpRequest, res: ServerResponse, next: Next, error: ByokError): void {
  // Through the same writer as every byok response; `parsedBody: null` leaves the body unread.
  void handleNodeRequest({ handle: async () => errorResponse(error) }, req, res, { parsedBody: null }).catch(next);
}
