import { readFileSync } from 'node:fs';
import * as newest from '@google/genai';
import * as floor from '@google/genai-floor';
import { gemini, type GeminiSdk } from '@byok/gemini';
import { llmProviderConformance, startGeminiStandIn } from '@byok/testing';

// The suite runs on the newest @google/genai this repo installs and on the lowest version
// the peer range allows (installed as `@google/genai-floor`), so a floor that handles
// stream errors worse than the newest fails here.
const version = (name: string): string =>
  (JSON.parse(readFileSync(new URL(`../node_modules/${name}/package.json`, import.meta.url), 'utf8')) as { version: string }).version;
const sdks: Array<[string, GeminiSdk]> = [
  [`@google/genai ${version('@google/genai')}`, newest],
  [`@google/genai ${version('@google/genai-floor')} (peer floor)`, floor],
];

for (const [label, sdk] of sdks) {
  llmProviderConformance({
    name: `gemini (${label} against the Gemini stand-in)`,
    startStandIn: startGeminiStandIn,
    makeProvider: (baseUrl, { timeoutMs }) => gemini({ baseUrl, timeoutMs, sdk }),
  });
}
