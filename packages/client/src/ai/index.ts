// @byok/client/ai — byok as a chat transport of the AI SDK (`ai` 5.x or 6.x, a peer).
export { ByokChatTransport } from './byok-chat-transport';
export type { ByokChatTransportOptions } from './byok-chat-transport';
