// Real rows for every user, made over HTTP: sessions, messages with replies (and their SSE
// ids), a branch, preferences. The fuzzer aims other users' real ids at byok; the
// isolation test checks that they stay invisible.
import { UserApi, type StreamResult } from './user-api';
import type { SignedInUser } from './world';

export interface UserRows {
  user: SignedInUser;
  sessionIds: string[];
  messageIds: string[];
  /** SSE ids byok sent (`<reply id>:<position>:<offset>`). */
  eventIds: string[];
  authSessionIds: string[];
}

/** Gives the user two conversations with a reply each (one of them edited into a branch) and collects their ids. */
export async function makeUserRows(user: SignedInUser, base: string): Promise<UserRows> {
  const api = new UserApi(user, base);
  const rows: UserRows = { user, sessionIds: [], messageIds: [], eventIds: [], authSessionIds: [] };
  for (let i = 0; i < 2; i++) {
    const session = (await api.createSession(`${user.login} talk ${i}`)).json as { id: string };
    rows.sessionIds.push(session.id);
    const sent: StreamResult = await api.sendMessage(session.id, `hello from ${user.login} ${i}`);
    rows.eventIds.push(...sent.eventIds);
    rows.messageIds.push(...sent.replyIds);
  }
  await refreshUserRows(api, rows);
  const firstUser = await api.ok('GET', `/chat/sessions/${rows.sessionIds[0]}/messages`);
  const userMessage = (firstUser.json.items as Array<{ id: string; role: string }>).find((m) => m.role === 'user');
  if (userMessage) {
    const edited = await api.ok('POST', `/chat/sessions/${rows.sessionIds[0]}/messages/${userMessage.id}/edit`, { text: `edited by ${user.login}` });
    rows.eventIds.push(...[...edited.text.matchAll(/^id: ?(.+)$/gm)].map((m) => m[1]!.trim()));
  }
  await api.ok('PATCH', '/me/preferences', { theme: `${user.login}-theme` }, [200, 204, 400]);
  return refreshUserRows(api, rows);
}

/** Re-reads the user's ids (messages, auth sessions) from byok. */
export async function refreshUserRows(api: UserApi, rows: UserRows): Promise<UserRows> {
  const sessions = await api.ok('GET', '/chat/sessions?limit=100');
  rows.sessionIds = (sessions.json.items as Array<{ id: string }>).map((s) => s.id);
  const messageIds = new Set<string>();
  for (const id of rows.sessionIds) {
    const page = await api.ok('GET', `/chat/sessions/${id}/messages?limit=100`);
    for (const m of page.json.items as Array<{ id: string }>) messageIds.add(m.id);
  }
  rows.messageIds = [...messageIds];
  const auth = await api.ok('GET', '/auth/sessions');
  const list = (Array.isArray(auth.json) ? auth.json : (auth.json.items ?? auth.json.sessions ?? [])) as Array<{ id: string }>;
  rows.authSessionIds = list.map((s) => s.id);
  return rows;
}
