// The example page: plain ES module, no framework. Every call goes to byok under /api with
// the session cookies the browser holds; fetch adds the Origin header byok's CSRF check wants.

const $ = (id) => /** @type {HTMLElement} */ (document.getElementById(id));

class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

let refreshing = null;

/** Renews the access token from the refresh cookie once; concurrent callers share the attempt. */
function refreshSession() {
  refreshing ??= fetch('/api/auth/refresh', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })
    .then((response) => response.ok)
    .catch(() => false)
    .finally(() => {
      refreshing = null;
    });
  return refreshing;
}

async function api(method, path, body) {
  const init = { method, headers: { accept: 'application/json' } };
  if (body !== undefined) {
    init.headers['content-type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let response = await fetch(`/api${path}`, init);
  if (response.status === 401 && (await refreshSession())) response = await fetch(`/api${path}`, init);
  const text = await response.text();
  const data = text ? JSON.parse(text) : null;
  if (!response.ok) {
    throw new ApiError(response.status, data?.error?.code ?? 'http_error', data?.error?.message ?? `HTTP ${response.status}`);
  }
  return data;
}

function el(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;
  if (className) node.className = className;
  return node;
}

function when(ms) {
  return ms ? new Date(ms).toLocaleString() : '—';
}

function setStatus(node, text, ok) {
  node.textContent = text;
  node.className = `status ${ok ? 'ok' : 'bad'}`;
}

function applyTheme(theme) {
  document.documentElement.dataset.theme = theme;
}

function emptyRow(tbody, columns, text) {
  const tr = el('tr');
  const td = el('td', text, 'empty');
  td.colSpan = columns;
  tr.append(td);
  tbody.replaceChildren(tr);
}

async function loadProfile() {
  const me = await api('GET', '/me');
  $('profile-name').textContent = me.name ?? '—';
  $('profile-email').textContent = me.email ? `${me.email}${me.emailVerified ? ' (verified)' : ' (unverified)'}` : '—';
  $('profile-id').textContent = me.id;
  $('profile-created').textContent = when(me.createdAt);
  return me;
}

async function loadPreferences() {
  const prefs = await api('GET', '/me/preferences');
  /** @type {HTMLSelectElement} */ ($('theme')).value = prefs.theme;
  applyTheme(prefs.theme);
}

async function loadProviders() {
  const { providers } = await api('GET', '/providers');
  $('key-provider').replaceChildren(...providers.map((id) => Object.assign(el('option', id), { value: id })));
}

async function loadKeys() {
  const { items } = await api('GET', '/keys');
  const tbody = $('keys-body');
  if (items.length === 0) return emptyRow(tbody, 5, 'No keys stored yet.');
  tbody.replaceChildren(
    ...items.map((key) => {
      const tr = el('tr');
      tr.dataset.provider = key.provider;
      const status = el('td');
      status.append(el('span', key.status, `pill ${key.status}`));
      const last4 = el('td');
      last4.append(el('code', `••••${key.last4}`));
      tr.append(el('td', key.provider), status, last4, el('td', key.fingerprint.slice(0, 16)), el('td', when(key.validatedAt)));
      return tr;
    }),
  );
}

async function loadSessions() {
  const { items } = await api('GET', '/auth/sessions');
  $('sessions').replaceChildren(
    ...items.map((s) => el('li', `${s.device}${s.current ? ' — this device' : ''} · ${s.ip ?? 'unknown address'} · last used ${when(s.lastUsedAt)}`)),
  );
}

async function loadAudit() {
  const { items } = await api('GET', '/me/audit?limit=20');
  const tbody = $('audit-body');
  if (items.length === 0) return emptyRow(tbody, 4, 'Nothing recorded yet.');
  tbody.replaceChildren(
    ...items.map((row) => {
      const tr = el('tr');
      const outcome = el('td');
      outcome.append(el('span', row.outcome, `pill ${row.outcome}`));
      const action = el('td');
      action.append(el('code', row.action));
      tr.append(el('td', when(row.at)), action, outcome, el('td', row.ip ?? '—'));
      return tr;
    }),
  );
}

function showConfig(config) {
  const badge = $('mode-badge');
  badge.hidden = false;
  badge.textContent = config.mode === 'offline' ? 'offline mode' : 'Google sign-in';
  $('sign-in').setAttribute('href', `/api/auth/login/${config.issuer}?returnTo=/`);
  $('sign-in').textContent = config.mode === 'offline' ? 'Sign in (development issuer)' : 'Sign in with Google';
  if (config.offline) {
    $('offline-banner').hidden = false;
    $('offline-users').textContent = `sign in as ${config.offline.users.map((u) => `${u.sub} (${u.name})`).join(' or ')}`;
    $('offline-gemini').textContent = config.offline.geminiUrl;
    $('sample-key-hint').hidden = false;
    $('sample-key').textContent = config.offline.sampleKey;
  }
}

function wireForms() {
  $('prefs-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    const theme = /** @type {HTMLSelectElement} */ ($('theme')).value;
    try {
      const prefs = await api('PATCH', '/me/preferences', { theme });
      applyTheme(prefs.theme);
      setStatus($('prefs-status'), `Saved: theme ${prefs.theme}`, true);
      await loadAudit();
    } catch (error) {
      setStatus($('prefs-status'), error.message, false);
    }
  });

  $('key-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    const provider = /** @type {HTMLSelectElement} */ ($('key-provider')).value;
    const input = /** @type {HTMLInputElement} */ ($('api-key'));
    const button = /** @type {HTMLButtonElement} */ (event.target.querySelector('button[type="submit"]'));
    button.disabled = true;
    $('key-status').textContent = 'Checking the key with the provider…';
    $('key-status').className = 'status';
    try {
      const key = await api('PUT', `/keys/${encodeURIComponent(provider)}`, { apiKey: input.value.trim() });
      input.value = '';
      setStatus($('key-status'), `Stored the ${key.provider} key ending in ${key.last4}: ${key.status}`, key.status !== 'invalid');
    } catch (error) {
      setStatus($('key-status'), `${error.message} (${error.code})`, false);
    } finally {
      button.disabled = false;
      await Promise.all([loadKeys(), loadAudit()]);
    }
  });

  $('use-sample-key').addEventListener('click', () => {
    /** @type {HTMLInputElement} */ ($('api-key')).value = $('sample-key').textContent ?? '';
  });

  $('audit-refresh').addEventListener('click', () => void loadAudit());

  $('sign-out').addEventListener('click', async () => {
    await fetch('/api/auth/logout', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    location.assign('/');
  });
}

async function main() {
  try {
    const config = await (await fetch('/example/config.json')).json();
    showConfig(config);
    wireForms();
    try {
      await loadProfile();
    } catch (error) {
      if (error instanceof ApiError && error.status === 401) {
        $('signed-out').hidden = false;
        document.body.dataset.state = 'signed-out';
        return;
      }
      throw error;
    }
    $('signed-in').hidden = false;
    await Promise.all([loadPreferences(), loadProviders(), loadKeys(), loadSessions(), loadAudit()]);
    document.body.dataset.state = 'signed-in';
  } catch (error) {
    const box = $('load-error');
    box.hidden = false;
    box.textContent = `The page could not load: ${error.message}`;
    document.body.dataset.state = 'error';
  }
}

void main();
