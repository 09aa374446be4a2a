/**
 * Whether OpenAI serves `model` as a reasoning model: the o-series (`o1`, `o3-mini`,
 * `o4-mini`, ...) and the gpt-5 family (`gpt-5`, `gpt-5-mini`, `gpt-5.1`, ...), but not
 * its `-chat` variants. The API refuses `max_tokens` (it wants `max_completion_tokens`)
 * and any `temperature` but the default for these models.
 *
 * @example
 * isOpenAiReasoningModel('o3-mini') // true
 * isOpenAiReasoningModel('gpt-5-chat-latest') // false
 * isOpenAiReasoningModel('gpt-4o') // false
 */
export function isOpenAiReasoningModel(model: string): boolean {
  const id = model.toLowerCase();
  return /^o\d/.test(id) || (/^gpt-5/.test(id) && !/^gpt-5(\.\d+)?-chat/.test(id));
}
