import { errorResponse, readNodeRequest, writeNodeResponse, type ByokRequest, type ByokResponse } from '@byok/core';
import { Router, type NextFunction, type Request, type Response } from 'express';

export interface ByokRouterOptions {
  /** Largest JSON body read when no body parser ran before the router. Default 1 MiB. */
  bodyLimitBytes?: number;
  /** Pass requests for paths byok does not serve to the next handler (default true). */
  fallthrough?: boolean;
}

interface ByokHttpHost {
  http: { handle(request: ByokRequest): Promise<ByokResponse>; routes(url: string): boolean };
}

/**
 * Mounts byok's HTTP surface into an Express 5 app. It only converts requests and
 * responses; everything else (auth, CSRF, rate limits, validation) happens in core.
 *
 * @example
 * const app = express();
 * app.use('/api', byokRouter(byok));
 */
export function byokRouter(byok: ByokHttpHost, options: ByokRouterOptions = {}): Router {
  const router = Router();
  router.use(async (req: Request, res: Response, next: NextFunction) => {
    if ((options.fallthrough ?? true) && !byok.http.routes(req.url)) return next();
    let response: ByokResponse;
    try {
      const parsedBody = req.body !== undefined && Object.keys(req.body ?? {}).length > 0 ? req.body : undefined;
      const request = await readNodeRequest(req, {
        url: req.url,
        parsedBody,
        ...(options.bodyLimitBytes !== undefined ? { bodyLimitBytes: options.bodyLimitBytes } : {}),
      });
      response = await byok.http.handle(request);
    } catch (error) {
      response = errorResponse(error);
    }
    await writeNodeResponse(res, response);
  });
  return router;
}
