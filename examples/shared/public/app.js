// The example page: a plain ES module, no framework, no build step. Every call goes through
// @byok/client (its browser ESM build, served by the example under /vendor/) to byok under
// /api with the browser's session cookies; the client refreshes on 401 and parses the chat
// reply's UI message stream. Model text is rendered by ./markdown.js, which builds DOM
// nodes and never parses HTML.
import { createByokClient, isByokClientError } from '@byok/client';
import { renderMarkdown } from './markdown.js';

const $ = (id) => /** @type {HTMLElement} */ (document.getElementById(id));

const byok = createByokClient({ baseUrl: '/api', onSessionEnded: () => showSignedOut() });

/** @type {{ mode: string, host: string, issuer: string, providers: { id: string, label: string, models: string[], sampleKey: string | null }[], offline: any }} */
let config;
/** Providers the server takes keys for, with the page's labels and models. */
let providers = [];
let keys = [];
let sessions = [];
/** The open chat: its session and the messages of its active path. */
let current = { session: null, messages: [] };
/** The reply streaming now: { sessionId, controller, stopping }. */
let live = null;

// ---------------------------------------------------------------------------- helpers

function el(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = text;
  if (className) node.className = className;
  return node;
}

function button(text, className, onClick, label) {
  const b = el('button', text, className);
  b.type = 'button';
  if (label) b.setAttribute('aria-label', label);
  b.addEventListener('click', onClick);
  return b;
}

function when(ms) {
  return ms ? new Date(ms).toLocaleString() : '—';
}

function describeError(error) {
  if (isByokClientError(error)) return `${error.message} (${error.code})`;
  return error instanceof Error ? error.message : String(error);
}

function toast(text) {
  $('toast').textContent = text;
}

function setStatus(node, text, ok) {
  node.textContent = text;
  node.className = `status ${ok === undefined ? '' : ok ? 'ok' : 'bad'}`;
}

function applyTheme(theme) {
  document.documentElement.dataset.theme = theme;
}

function providerLabel(id) {
  return providers.find((p) => p.id === id)?.label ?? id;
}

function tokens(usage) {
  if (!usage) return '';
  const parts = [`${usage.inputTokens} in`, `${usage.outputTokens} out`];
  if (usage.reasoningTokens) parts.push(`${usage.reasoningTokens} reasoning`);
  if (usage.cachedInputTokens) parts.push(`${usage.cachedInputTokens} cached`);
  return `${parts.join(' · ')} tokens`;
}

function fillSelect(select, options, value) {
  select.replaceChildren(...options.map(([v, text]) => Object.assign(el('option', text), { value: v })));
  if (value !== undefined && options.some(([v]) => v === value)) select.value = value;
}

function chatIdFromHash() {
  const m = /^#chat=([\w-]{1,64})$/.exec(location.hash);
  return m ? m[1] : null;
}

// ---------------------------------------------------------------------------- signed out / in

function showSignedOut() {
  $('signed-in').hidden = true;
  $('sign-out').hidden = true;
  $('whoami').textContent = '';
  $('signed-out').hidden = false;
  document.body.dataset.state = 'signed-out';
}

function showConfig() {
  const badge = $('mode-badge');
  badge.hidden = false;
  badge.textContent = config.mode === 'offline' ? 'offline mode' : 'Google sign-in';
  $('host-name').textContent = `(${config.host})`;
  $('sign-in').setAttribute('href', byok.loginUrl(config.issuer, { returnTo: '/' }));
  $('sign-in').textContent = config.mode === 'offline' ? 'Sign in (development issuer)' : 'Sign in with Google';
  if (config.offline) {
    $('offline-banner').hidden = false;
    $('offline-users').textContent = `sign in as ${config.offline.users.map((u) => `${u.sub} (${u.name})`).join(' or ')}`;
  }
}

// ---------------------------------------------------------------------------- keys

async function loadKeys() {
  ({ items: keys } = await byok.call('keys.list'));
  const tbody = $('keys-body');
  tbody.replaceChildren(
    ...providers.map((p) => {
      const key = keys.find((k) => k.provider === p.id);
      const tr = el('tr');
      tr.dataset.provider = p.id;
      const status = el('td');
      status.append(el('span', key ? key.status : 'no key', `pill ${key ? key.status : 'none'}`));
      const last4 = el('td');
      if (key) last4.append(el('code', `••••${key.last4}`));
      const actions = el('td', undefined, 'actions');
      const buttons = el('div', undefined, 'row');
      actions.append(buttons);
      if (key) {
        buttons.append(
          button('Test', 'secondary', () => void testStoredKey(p.id), `Test the ${p.label} key`),
          button('Remove', 'danger', () => void removeKey(p.id), `Remove the ${p.label} key`),
        );
      }
      tr.append(el('td', p.label), status, last4, el('td', key ? when(key.validatedAt) : '—'), actions);
      return tr;
    }),
  );
}

async function testStoredKey(provider) {
  setStatus($('key-status'), `Testing the ${providerLabel(provider)} key…`);
  try {
    const result = await byok.call('keys.test', { provider });
    setStatus($('key-status'), `The ${providerLabel(provider)} key is ${result.status}${result.reason ? ` (${result.reason})` : ''}`, result.status === 'valid');
  } catch (error) {
    setStatus($('key-status'), describeError(error), false);
  }
  await Promise.all([loadKeys(), loadAudit()]);
}

async function removeKey(provider) {
  if (!confirm(`Remove your ${providerLabel(provider)} key?`)) return;
  try {
    await byok.call('keys.remove', { provider });
    setStatus($('key-status'), `Removed the ${providerLabel(provider)} key`, true);
  } catch (error) {
    setStatus($('key-status'), describeError(error), false);
  }
  await Promise.all([loadKeys(), loadAudit()]);
}

function wireKeys() {
  const input = /** @type {HTMLInputElement} */ ($('api-key'));
  const select = /** @type {HTMLSelectElement} */ ($('key-provider'));
  const syncSample = () => {
    $('use-sample-key').hidden = !providers.find((p) => p.id === select.value)?.sampleKey;
  };
  select.addEventListener('change', syncSample);
  syncSample();
  $('use-sample-key').addEventListener('click', () => {
    input.value = providers.find((p) => p.id === select.value)?.sampleKey ?? '';
    input.focus();
  });
  $('key-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    const provider = select.value;
    const save = /** @type {HTMLButtonElement} */ ($('key-save'));
    save.disabled = true;
    setStatus($('key-status'), 'Checking the key with the provider…');
    try {
      const apiKey = input.value.trim();
      input.value = '';
      const key = await byok.call('keys.set', { provider, apiKey });
      setStatus($('key-status'), `Stored the ${providerLabel(key.provider)} key ending in ${key.last4}: ${key.status}`, key.status !== 'invalid');
    } catch (error) {
      setStatus($('key-status'), describeError(error), false);
    } finally {
      save.disabled = false;
      await Promise.all([loadKeys(), loadAudit()]);
    }
  });
  $('key-test-new').addEventListener('click', async () => {
    const provider = select.value;
    const apiKey = input.value.trim();
    if (!apiKey) return setStatus($('key-status'), 'Type a key to test first', false);
    setStatus($('key-status'), 'Checking the key with the provider…');
    try {
      const result = await byok.call('keys.test', { provider, apiKey });
      setStatus($('key-status'), `That ${providerLabel(provider)} key is ${result.status}${result.reason ? ` (${result.reason})` : ''}; not saved`, result.status === 'valid');
    } catch (error) {
      setStatus($('key-status'), describeError(error), false);
    }
    await loadAudit();
  });
}

// ---------------------------------------------------------------------------- sessions

async function loadSessions() {
  ({ items: sessions } = await byok.call('chat.sessions.list', { limit: 100 }));
  $('sessions-empty').hidden = sessions.length > 0;
  $('session-list').replaceChildren(
    ...sessions.map((s) => {
      const li = el('li');
      li.dataset.sessionId = s.id;
      const open = button('', 'session-link', () => void openSession(s.id));
      open.append(el('span', s.title ?? 'Untitled chat', 'title'), el('span', `${providerLabel(s.provider)} · ${s.model}`, 'muted small'));
      if (current.session?.id === s.id) open.setAttribute('aria-current', 'true');
      li.append(open);
      return li;
    }),
  );
}

function modelOptions() {
  return providers.flatMap((p) => p.models.map((m) => [`${p.id}|${m}`, `${p.label} — ${m}`]));
}

async function openSession(id, { resume = true } = {}) {
  if (live && live.sessionId !== id) live.controller.abort();
  location.hash = `chat=${id}`;
  try {
    current.session = await byok.call('chat.sessions.get', { sessionId: id });
  } catch (error) {
    if (isByokClientError(error) && error.code === 'not_found') {
      current = { session: null, messages: [] };
      history.replaceState(null, '', location.pathname);
      renderChat();
      return;
    }
    throw error;
  }
  await loadMessages();
  renderChat();
  await loadSessions();
  const last = current.messages.at(-1);
  if (resume && !live && last?.role === 'assistant' && last.status === 'streaming') await resumeReply();
}

async function loadMessages() {
  const { items } = await byok.call('chat.messages.list', { sessionId: current.session.id, limit: 100 });
  current.messages = items;
}

async function loadSessionUsage() {
  if (!current.session) return;
  const usage = await byok.call('chat.sessions.usage', { sessionId: current.session.id });
  $('session-usage').textContent = usage.replies > 0 ? `This chat: ${usage.replies} ${usage.replies === 1 ? 'reply' : 'replies'}, ${tokens(usage)}` : 'This chat: no replies yet';
}

async function loadTotalUsage() {
  const usage = await byok.call('chat.usage', {});
  $('total-usage').textContent = `All your chats: ${usage.replies} ${usage.replies === 1 ? 'reply' : 'replies'}, ${tokens(usage)}`;
}

function renderChat() {
  const s = current.session;
  $('chat-title').textContent = s ? (s.title ?? 'Untitled chat') : 'Chat';
  $('chat-empty').hidden = Boolean(s);
  for (const id of ['composer', 'session-model', 'rename-session', 'delete-session']) $(id).hidden = !s;
  $('rename-form').hidden = true;
  if (s) fillSelect($('session-model-select'), modelOptions(), `${s.provider}|${s.model}`);
  renderMessages();
  void loadSessionUsage().catch(() => undefined);
}

function renderMessages() {
  $('messages').replaceChildren(...current.messages.map((m) => messageItem(m)));
}

function messageItem(m) {
  const li = el('li', undefined, `msg ${m.role}`);
  li.dataset.id = m.id;
  li.dataset.role = m.role;
  li.dataset.status = m.status;
  const meta = el('div', undefined, 'meta');
  meta.append(el('span', m.role === 'user' ? 'You' : m.role === 'assistant' ? 'Assistant' : 'System', 'who'));
  if (m.status === 'incomplete') meta.append(el('span', m.errorCode === 'cancelled' ? 'incomplete — stopped' : 'incomplete', 'pill incomplete'));
  if (m.status === 'error') meta.append(el('span', `error${m.errorCode ? `: ${m.errorCode}` : ''}`, 'pill invalid'));
  if (m.status === 'streaming') meta.append(el('span', 'streaming', 'pill streaming'));
  if (m.siblings && m.siblings.count > 1) meta.append(branchSwitcher(m));
  const body = el('div', undefined, 'body');
  renderBody(body, m.role, m.text);
  li.append(meta, body);
  const foot = el('div', undefined, 'foot');
  if (m.role === 'assistant' && m.usage) foot.append(el('span', tokens(m.usage), 'usage muted'));
  if (!live && current.session) {
    if (m.role === 'user') foot.append(button('Edit', 'secondary small', () => startEdit(li, m), 'Edit this message'));
    if (m.role === 'assistant' && m.status !== 'streaming') foot.append(button('Regenerate', 'secondary small', () => void regenerate(m), 'Regenerate this reply'));
  }
  li.append(foot);
  return li;
}

function renderBody(body, role, text) {
  if (role === 'assistant') body.replaceChildren(renderMarkdown(text));
  else body.replaceChildren(...text.split('\n').flatMap((line, i) => (i > 0 ? [el('br'), document.createTextNode(line)] : [document.createTextNode(line)])));
}

function branchSwitcher(m) {
  const group = el('span', undefined, 'branches');
  group.setAttribute('role', 'group');
  group.setAttribute('aria-label', `Branches of this ${m.role === 'user' ? 'message' : 'reply'}`);
  const { index, count, ids } = m.siblings;
  const go = (to) => async () => {
    try {
      await byok.call('chat.branch.switch', { sessionId: current.session.id, messageId: ids[to] });
      await openSession(current.session.id);
    } catch (error) {
      toast(describeError(error));
    }
  };
  const prev = button('‹', 'secondary small', go(index - 1), 'Previous branch');
  prev.disabled = index === 0 || Boolean(live);
  const next = button('›', 'secondary small', go(index + 1), 'Next branch');
  next.disabled = index === count - 1 || Boolean(live);
  group.append(prev, el('span', `${index + 1} / ${count}`, 'branch-pos'), next);
  return group;
}

function startEdit(li, m) {
  const form = el('form', undefined, 'edit stack');
  const id = `edit-${m.id}`;
  const label = el('label', 'Edit message');
  label.htmlFor = id;
  const area = /** @type {HTMLTextAreaElement} */ (el('textarea'));
  area.id = id;
  area.rows = 3;
  area.value = m.text;
  area.required = true;
  const save = el('button', 'Save and regenerate');
  save.type = 'submit';
  const row = el('div', undefined, 'row');
  row.append(save, button('Cancel', 'secondary', () => renderMessages()));
  form.append(label, area, row);
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const text = area.value.trim();
    if (!text) return;
    const at = current.messages.findIndex((x) => x.id === m.id);
    current.messages = current.messages.slice(0, at + 1).map((x) => (x.id === m.id ? { ...x, text, siblings: { count: 1, index: 0, ids: [] } } : x));
    void streamTurn((signal) => byok.stream('chat.messages.edit', { sessionId: current.session.id, messageId: m.id, text }, { signal }));
  });
  area.addEventListener('keydown', (event) => {
    if (event.key === 'Escape') renderMessages();
  });
  li.querySelector('.body').replaceChildren(form);
  area.focus();
}

function regenerate(m) {
  const at = current.messages.findIndex((x) => x.id === m.id);
  current.messages = current.messages.slice(0, at);
  return streamTurn((signal) => byok.stream('chat.messages.regenerate', { sessionId: current.session.id, messageId: m.id }, { signal }));
}

// ---------------------------------------------------------------------------- streaming

/** Shows a reply being written at the end of the list; returns its body element. */
function appendLiveReply() {
  const li = messageItem({ id: 'live', role: 'assistant', text: '', status: 'streaming', siblings: null, usage: null });
  li.dataset.live = 'true';
  $('messages').append(li);
  return li;
}

function setLive(on) {
  /** @type {HTMLButtonElement} */ ($('stop')).disabled = !on;
  /** @type {HTMLButtonElement} */ ($('send')).disabled = on;
  $('stream-status').textContent = on ? 'The reply is streaming…' : '';
  document.body.dataset.streaming = on ? 'true' : 'false';
}

/**
 * Runs one streamed reply: `open` starts it (send, edit, regenerate or resume) and
 * resolves with the UI message stream, or null when nothing streams. Text deltas are
 * rendered as they come; at the end the stored messages are read again.
 */
async function streamTurn(open, { before } = {}) {
  const sessionId = current.session.id;
  const controller = new AbortController();
  live = { sessionId, controller, stopping: false };
  renderMessages();
  before?.();
  let li = appendLiveReply();
  setLive(true);
  let failure = null;
  try {
    const stream = await open(controller.signal);
    if (stream) {
      const body = li.querySelector('.body');
      let text = '';
      const reader = stream.getReader();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        if (value.type === 'text-delta') {
          text += value.delta;
          renderBody(body, 'assistant', text);
        } else if (value.type === 'error') {
          failure = value.errorText;
        }
      }
    }
  } catch (error) {
    if (!(error instanceof DOMException && error.name === 'AbortError') && !controller.signal.aborted) failure = describeError(error);
  } finally {
    const stopped = live?.stopping;
    live = null;
    setLive(false);
    if (failure) toast(`The reply failed: ${failure}`);
    else if (stopped) toast('Stopped: the reply is kept as incomplete');
    if (current.session?.id === sessionId) {
      try {
        await openSession(sessionId, { resume: false });
      } catch (error) {
        toast(describeError(error));
      }
    }
    await Promise.all([loadTotalUsage(), loadAudit()]).catch(() => undefined);
  }
}

async function sendMessage(text) {
  const sessionId = current.session.id;
  const pending = { id: 'pending', role: 'user', text, status: 'complete', siblings: null, usage: null };
  current.messages = [...current.messages, pending];
  await streamTurn((signal) => byok.stream('chat.messages.send', { sessionId, text }, { signal }));
}

async function resumeReply() {
  const sessionId = current.session.id;
  // The stored reply is partial: the resumed stream starts from its beginning and replaces it.
  current.messages = current.messages.slice(0, -1);
  await streamTurn((signal) => byok.resume({ sessionId }, { signal }));
}

async function stopReply() {
  if (!live) return;
  live.stopping = true;
  /** @type {HTMLButtonElement} */ ($('stop')).disabled = true;
  try {
    await byok.call('chat.stop', { sessionId: live.sessionId });
  } catch (error) {
    toast(describeError(error));
  }
  live?.controller.abort();
}

// ---------------------------------------------------------------------------- chat wiring

function wireChat() {
  const provider = /** @type {HTMLSelectElement} */ ($('new-provider'));
  const model = /** @type {HTMLSelectElement} */ ($('new-model'));
  const syncModels = () => fillSelect(model, (providers.find((p) => p.id === provider.value)?.models ?? []).map((m) => [m, m]));
  fillSelect(provider, providers.map((p) => [p.id, p.label]));
  provider.addEventListener('change', syncModels);
  syncModels();

  $('new-chat').addEventListener('submit', async (event) => {
    event.preventDefault();
    try {
      const session = await byok.call('chat.sessions.create', { provider: provider.value, model: model.value });
      await openSession(session.id);
      $('composer-text').focus();
    } catch (error) {
      toast(describeError(error));
    }
  });

  const composer = /** @type {HTMLTextAreaElement} */ ($('composer-text'));
  $('composer').addEventListener('submit', (event) => {
    event.preventDefault();
    const text = composer.value.trim();
    if (!text || live || !current.session) return;
    composer.value = '';
    void sendMessage(text);
  });
  composer.addEventListener('keydown', (event) => {
    if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      $('composer').requestSubmit();
    } else if (event.key === 'Escape' && live) {
      event.preventDefault();
      void stopReply();
    }
  });
  $('stop').addEventListener('click', () => void stopReply());

  $('session-model').addEventListener('submit', async (event) => {
    event.preventDefault();
    const [p, m] = /** @type {HTMLSelectElement} */ ($('session-model-select')).value.split('|');
    try {
      current.session = await byok.call('chat.sessions.update', { sessionId: current.session.id, provider: p, model: m });
      toast(`This chat now answers with ${providerLabel(p)} — ${m}`);
      await loadSessions();
    } catch (error) {
      toast(describeError(error));
    }
  });

  $('rename-session').addEventListener('click', () => {
    $('rename-form').hidden = false;
    const input = /** @type {HTMLInputElement} */ ($('rename-input'));
    input.value = current.session?.title ?? '';
    input.focus();
  });
  $('rename-cancel').addEventListener('click', () => {
    $('rename-form').hidden = true;
    $('rename-session').focus();
  });
  $('rename-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    const title = /** @type {HTMLInputElement} */ ($('rename-input')).value.trim();
    try {
      current.session = await byok.call('chat.sessions.update', { sessionId: current.session.id, title });
      renderChat();
      await loadSessions();
      toast(`Renamed to “${title}”`);
    } catch (error) {
      toast(describeError(error));
    }
  });

  $('delete-session').addEventListener('click', async () => {
    const s = current.session;
    if (!s || !confirm(`Delete “${s.title ?? 'Untitled chat'}” and all its messages?`)) return;
    try {
      live?.controller.abort();
      await byok.call('chat.sessions.delete', { sessionId: s.id });
      current = { session: null, messages: [] };
      history.replaceState(null, '', location.pathname);
      renderChat();
      await Promise.all([loadSessions(), loadAudit(), loadTotalUsage()]);
      toast('Chat deleted');
    } catch (error) {
      toast(describeError(error));
    }
  });
}

// ---------------------------------------------------------------------------- preferences, audit, export

async function loadPreferences() {
  const prefs = await byok.call('me.preferences.get');
  /** @type {HTMLSelectElement} */ ($('theme')).value = prefs.theme;
  applyTheme(prefs.theme);
}

async function loadAudit() {
  const { items } = await byok.call('me.audit.list', { limit: 20 });
  const tbody = $('audit-body');
  if (items.length === 0) {
    const td = el('td', 'Nothing recorded yet.', 'empty');
    td.colSpan = 3;
    const tr = el('tr');
    tr.append(td);
    return tbody.replaceChildren(tr);
  }
  tbody.replaceChildren(
    ...items.map((row) => {
      const tr = el('tr');
      const action = el('td');
      action.append(el('code', row.action));
      const outcome = el('td');
      outcome.append(el('span', row.outcome, `pill ${row.outcome}`));
      tr.append(el('td', when(row.at)), action, outcome);
      return tr;
    }),
  );
}

function wireAccount() {
  $('prefs-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    const theme = /** @type {HTMLSelectElement} */ ($('theme')).value;
    try {
      const prefs = await byok.call('me.preferences.update', { theme });
      applyTheme(prefs.theme);
      setStatus($('prefs-status'), `Saved: theme ${prefs.theme}`, true);
      await loadAudit();
    } catch (error) {
      setStatus($('prefs-status'), describeError(error), false);
    }
  });
  $('audit-refresh').addEventListener('click', () => void loadAudit());
  $('export').addEventListener('click', async () => {
    try {
      const data = await byok.call('me.export');
      const link = /** @type {HTMLAnchorElement} */ ($('export-link'));
      if (link.href.startsWith('blob:')) URL.revokeObjectURL(link.href);
      link.href = URL.createObjectURL(new Blob([JSON.stringify(data, null, 2)], { type: 'application/json' }));
      link.download = `byok-export-${new Date().toISOString().slice(0, 10)}.json`;
      link.hidden = false;
      link.click();
      toast('Your data is exported (a JSON file)');
      await loadAudit();
    } catch (error) {
      toast(describeError(error));
    }
  });
  $('sign-out').addEventListener('click', async () => {
    live?.controller.abort();
    try {
      await byok.signOut();
    } finally {
      history.replaceState(null, '', '/');
      location.assign('/');
    }
  });
}

// ---------------------------------------------------------------------------- start

async function main() {
  try {
    config = await (await fetch('/example/config.json')).json();
    showConfig();
    let me;
    try {
      me = await byok.call('me.get');
    } catch (error) {
      if (isByokClientError(error) && error.status === 401) return showSignedOut();
      throw error;
    }
    const { providers: serverProviders } = await byok.call('providers.list');
    providers = config.providers.filter((p) => serverProviders.includes(p.id));
    fillSelect($('key-provider'), providers.map((p) => [p.id, p.label]));
    $('whoami').textContent = `Signed in as ${me.name ?? me.email ?? me.id}`;
    $('sign-out').hidden = false;
    $('signed-in').hidden = false;
    wireKeys();
    wireChat();
    wireAccount();
    await Promise.all([loadPreferences(), loadKeys(), loadSessions(), loadAudit(), loadTotalUsage()]);
    renderChat();
    document.body.dataset.state = 'signed-in';
    const open = chatIdFromHash();
    if (open) await openSession(open);
  } catch (error) {
    const box = $('load-error');
    box.hidden = false;
    box.textContent = `The page could not load: ${describeError(error)}`;
    document.body.dataset.state = 'error';
  }
}

void main();
