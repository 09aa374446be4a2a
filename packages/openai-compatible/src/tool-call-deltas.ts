/** A streamed `delta.tool_calls[]` entry. OpenAI always sends `index`; not every server does. */
export interface ToolCallDelta {
  index?: number;
  id?: string;
  function?: { name?: string; arguments?: string };
}

interface PendingCall {
  id?: string;
  name: string;
  args: string;
}

/**
 * Puts streamed tool-call fragments back together. With an `index` (OpenAI) fragments of
 * one index are one call. Without one (Gemini's OpenAI-compatible endpoint, some proxies)
 * a fragment joins the call with its `id`; a new id starts a new call; a fragment with
 * neither continues the last call.
 */
export class ToolCallDeltas {
  private readonly calls: PendingCall[] = [];
  private readonly byIndex = new Map<number, PendingCall>();
  private readonly byId = new Map<string, PendingCall>();

  add(delta: ToolCallDelta): void {
    const id = typeof delta.id === 'string' && delta.id !== '' ? delta.id : undefined;
    let call: PendingCall | undefined;
    if (typeof delta.index === 'number') call = this.byIndex.get(delta.index);
    else if (id !== undefined) call = this.byId.get(id);
    else call = this.calls.at(-1);
    if (!call) {
      call = { name: '', args: '' };
      this.calls.push(call);
      if (typeof delta.index === 'number') this.byIndex.set(delta.index, call);
    }
    if (id !== undefined && call.id === undefined) {
      call.id = id;
      this.byId.set(id, call);
    }
    if (delta.function?.name) call.name += delta.function.name;
    if (delta.function?.arguments) call.args += delta.function.arguments;
  }

  get size(): number {
    return this.calls.length;
  }

  /** The calls in the order they started; a call the server gave no id gets `call_<n>`. */
  finish(): Array<{ id: string; name: string; args: string }> {
    return this.calls.map((call, n) => ({ id: call.id ?? `call_${n}`, name: call.name, args: call.args }));
  }
}
