import type { RequestMeta } from './types';

/** The request facts of a call made outside any HTTP request (host code, jobs, tests). */
export const NO_REQUEST_META: RequestMeta = Object.freeze({ ip: null, userAgent: null });

/** The longest User-Agent byok keeps (request meta, session rows, audit rows). */
export const MAX_USER_AGENT_LENGTH = 512;
