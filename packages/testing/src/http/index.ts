// @byok/testing/http — for adapter authors: one HTTP scenario suite that every host of
// byok's HTTP surface (Express, Nest, a fetch handler, node:http, a tRPC server's HTTP
// routes, a third party's) must pass with the same statuses and bodies.
export { httpScenarios, SCENARIO_APP_ORIGIN, SCENARIO_GEMINI_KEY, SCENARIO_BAD_GEMINI_KEY } from './http-scenarios';
export type { HttpScenariosOptions, HttpScenarioContext, HttpScenarioHost } from './http-scenarios';
export { ScenarioBrowser, sseEvents, uiChunks, streamedText, readUntil } from './scenario-browser';
export type { ScenarioRequest, ReceivedSseEvent } from './scenario-browser';
