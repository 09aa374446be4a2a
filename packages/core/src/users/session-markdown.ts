import type { ExportedChatMessage, ExportedChatSession } from './user-data-export';

/** What {@link renderSessionMarkdown} renders: a session and the messages of one path. */
export interface SessionMarkdownInput {
  session: Omit<ExportedChatSession, 'messages'>;
  /** The path to render, oldest first (the active branch). */
  messages: readonly ExportedChatMessage[];
  exportedAt: number;
}

const ROLE_HEADINGS: Record<ExportedChatMessage['role'], string> = {
  user: 'User',
  assistant: 'Assistant',
  system: 'System',
  tool: 'Tool',
};

const STATUS_NOTES: Partial<Record<ExportedChatMessage['status'], (m: ExportedChatMessage) => string>> = {
  streaming: () => '_(This reply was still being written when the session was exported.)_',
  incomplete: () => '_(This reply was stopped before it finished.)_',
  error: (m) => `_(This reply failed${m.errorCode ? `: \`${m.errorCode}\`` : ''}.)_`,
};

/**
 * A chat session as a Markdown document: a heading with its title, its provider, model
 * and dates, the system prompt, then each message of the path under its role, text as
 * written (it is Markdown already), reasoning folded in `<details>`, tool calls and
 * results as fenced JSON.
 *
 * @example
 * const markdown = renderSessionMarkdown({ session, messages, exportedAt: Date.now() });
 */
export function renderSessionMarkdown(input: SessionMarkdownInput): string {
  const { session } = input;
  const out: string[] = [];
  out.push(`# ${oneLine(session.title ?? '') || 'Untitled chat'}`, '');
  out.push(`- Model: ${oneLine(session.provider)} / ${oneLine(session.model)}`);
  out.push(`- Started: ${iso(session.createdAt)}`);
  out.push(`- Last activity: ${iso(session.updatedAt)}`);
  out.push(`- Exported: ${iso(input.exportedAt)}`, '');
  if (session.systemPrompt) out.push('## System prompt', '', session.systemPrompt.trim(), '');
  for (const message of input.messages) {
    out.push('---', '', `## ${ROLE_HEADINGS[message.role]}`, '');
    const body = messageBody(message);
    if (body !== '') out.push(body, '');
    const note = STATUS_NOTES[message.status]?.(message);
    if (note) out.push(note, '');
  }
  return `${out.join('\n').trimEnd()}\n`;
}

function messageBody(message: ExportedChatMessage): string {
  const blocks: string[] = [];
  let text = '';
  const flushText = () => {
    if (text.trim() !== '') blocks.push(text.trim());
    text = '';
  };
  const parts = message.parts.length > 0 ? message.parts : [{ type: 'text', text: message.text }];
  for (const part of parts) {
    if (part.type === 'text' && typeof part.text === 'string') {
      text += part.text;
      continue;
    }
    flushText();
    if (part.type === 'reasoning' && typeof part.text === 'string' && part.text.trim() !== '') {
      blocks.push(`<details>\n<summary>Reasoning</summary>\n\n${part.text.trim()}\n\n</details>`);
    } else if (part.type === 'tool-call') {
      blocks.push(`**Tool call** \`${oneLine(String(part.toolName ?? 'tool'))}\`\n\n${fencedJson(part.args ?? {})}`);
    } else if (part.type === 'tool-result') {
      const label = part.isError === true ? '**Tool error**' : '**Tool result**';
      blocks.push(`${label} \`${oneLine(String(part.toolName ?? 'tool'))}\`\n\n${fencedJson(part.result ?? null)}`);
    }
  }
  flushText();
  return blocks.join('\n\n');
}

/** A JSON code block whose fence is longer than any run of backticks inside it. */
function fencedJson(value: unknown): string {
  const json = JSON.stringify(value, null, 2) ?? 'null';
  const longest = Math.max(0, ...Array.from(json.matchAll(/`+/g), (m) => m[0].length));
  const fence = '`'.repeat(Math.max(3, longest + 1));
  return `${fence}json\n${json}\n${fence}`;
}

function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}
