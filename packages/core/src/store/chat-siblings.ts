import type { ChatSiblingInfo } from './chat-repositories';

/**
 * Sibling positions of the asked messages, from each one's parent and every message under
 * those parents in seq order (shared by both stores). Ids without a parent entry (not in
 * the user's session) are left out; the rest keep the order asked.
 */
export function siblingInfo(
  messageIds: readonly string[],
  parentOf: ReadonlyMap<string, string | null>,
  family: ReadonlyArray<{ id: string; parentId: string | null }>,
): ChatSiblingInfo[] {
  const byParent = new Map<string | null, string[]>();
  for (const m of family) {
    const list = byParent.get(m.parentId);
    if (list) list.push(m.id);
    else byParent.set(m.parentId, [m.id]);
  }
  const out: ChatSiblingInfo[] = [];
  for (const id of messageIds) {
    if (!parentOf.has(id)) continue;
    const siblingIds = byParent.get(parentOf.get(id)!) ?? [id];
    out.push({ messageId: id, count: siblingIds.length, index: siblingIds.indexOf(id), siblingIds: [...siblingIds] });
  }
  return out;
}
