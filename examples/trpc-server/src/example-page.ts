import type { OfflineServices } from './offline-services';

const escape = (text: string): string =>
  text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

/**
 * The example's landing page: which mode it runs in (offline says so plainly), where
 * the tRPC endpoint and byok's HTTP routes are, and how to sign in.
 *
 * @example
 * examplePage({ mode: 'google', offline: null }); // '<!doctype html>…'
 */
export function examplePage(input: { mode: 'offline' | 'google'; offline: OfflineServices | null }): string {
  const signIn = input.mode === 'offline' ? '/api/auth/login/dev?returnTo=/' : '/api/auth/login/google?returnTo=/';
  const offline = input.offline
    ? `<p role="status"><strong>Offline mode</strong>: development sign-in, a Gemini stand-in and a generated master key. Not for production.</p>
<p>Sign in as ${input.offline.issuer.users.map((u) => `<code>${escape(u.sub)}</code>`).join(' or ')}; the Gemini stand-in accepts keys starting with <code>AIza</code>, such as <code>${escape(input.offline.sampleKey)}</code>.</p>`
    : '<p>Signed in with Google; keys are checked with the real Gemini API.</p>';
  return `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>byok tRPC example</title></head>
<body style="font-family: system-ui, sans-serif; max-width: 40rem; margin: 2rem auto; padding: 0 1rem">
<h1>byok tRPC example</h1>
${offline}
<ul>
<li><a href="${signIn}">Sign in</a></li>
<li>tRPC endpoint: <code>/trpc</code> (procedures such as <code>user.setApiKey</code>, <code>chat.messages.send</code>, <code>chat.stream.resume</code>)</li>
<li>byok's HTTP routes: <code>/api</code> (<a href="/api/openapi.json">OpenAPI</a>, <a href="/api/.well-known/jwks.json">JWKS</a>)</li>
</ul>
</body>
</html>
`;
}
