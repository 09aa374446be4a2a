import { handleNodeRequest, type ByokHandler } from '@byok/core/http';
import { Router, type NextFunction, type Request, type Response } from 'express';

export interface ByokRouterOptions {
  /** Largest JSON body read when no body parser ran before the router. Default 1 MiB. */
  bodyLimitBytes?: number;
  /** Pass requests for paths byok does not serve to the next handler (default true). */
  fallthrough?: boolean;
}

interface ByokHttpHost {
  http: ByokHandler & { routes(url: string): boolean };
}

/**
 * Mounts byok's HTTP surface into an Express 5 app. It only hands the request to core's
 * Node lifecycle; everything else (auth, CSRF, rate limits, validation) happens in core.
 *
 * @example
 * import express from 'express';
 * import { byokRouter } from '@byok/express';
 * const app = express();
 * app.use('/api', byokRouter(byok));
 */
export function byokRouter(byok: ByokHttpHost, options: ByokRouterOptions = {}): Router {
  const router = Router();
  router.use((req: Request, res: Response, next: NextFunction) => {
    if ((options.fallthrough ?? true) && !byok.http.routes(req.url)) return next();
    // A host's express.json() may have parsed the body already (it leaves `{}` when there was
    // none). Only a JSON body is taken: a form that express.urlencoded() parsed is not JSON
    // input, and core answers it by its content type as if no parser had run.
    const json = /^application\/(?:[\w.+-]+\+)?json\s*(?:;|$)/i.test(req.headers['content-type'] ?? '');
    const parsedBody = json && req.body !== undefined && Object.keys(req.body ?? {}).length > 0 ? req.body : undefined;
    void handleNodeRequest(byok.http, req, res, {
      url: req.url,
      ...(parsedBody !== undefined ? { parsedBody } : {}),
      ...(options.bodyLimitBytes !== undefined ? { bodyLimitBytes: options.bodyLimitBytes } : {}),
    }).catch(next);
  });
  return router;
}
