// A small Markdown renderer for model replies. It never parses HTML: every piece of text
// becomes a text node (textContent), so `<img onerror=…>` in a reply is just characters on
// screen. Links are kept only for http:, https: and mailto: URLs; any other scheme
// (javascript:, data:, vbscript:, …) renders as plain text. Images render as their alt text.
//
// Supported: paragraphs, # headings, - * + and 1. lists, > quotes, ``` fenced code,
// `inline code`, **bold**, *italic* / _italic_, [text](url), and line breaks.

const SAFE_SCHEMES = new Set(['http:', 'https:', 'mailto:']);

/**
 * The href to use for a Markdown link target, or null when it must not become a link.
 * @param {string} target
 * @returns {string | null}
 */
export function safeHref(target) {
  const trimmed = target.trim();
  // Browsers drop control characters and whitespace inside schemes ("java\tscript:"): check what a browser would see.
  const squashed = trimmed.replace(/[\u0000-\u0020\u007f-\u009f]/g, '');
  let url;
  try {
    url = new URL(squashed, 'https://relative.invalid/');
  } catch {
    return null;
  }
  if (!SAFE_SCHEMES.has(url.protocol)) return null;
  if (url.origin === 'https://relative.invalid') return null; // only absolute links
  return url.href;
}

/**
 * Renders Markdown text into a DocumentFragment of elements and text nodes.
 * @param {string} source
 * @param {Document} [doc]
 * @returns {DocumentFragment}
 */
export function renderMarkdown(source, doc = document) {
  const fragment = doc.createDocumentFragment();
  const lines = String(source).replace(/\r\n?/g, '\n').split('\n');
  let i = 0;
  while (i < lines.length) {
    const line = lines[i];
    if (/^\s*$/.test(line)) {
      i++;
      continue;
    }
    const fence = /^\s*(```|~~~)\s*([\w+-]*)\s*$/.exec(line);
    if (fence) {
      const body = [];
      i++;
      while (i < lines.length && !new RegExp(`^\\s*${fence[1]}\\s*$`).test(lines[i])) body.push(lines[i++]);
      i++; // the closing fence (or the end)
      const pre = doc.createElement('pre');
      const code = doc.createElement('code');
      if (fence[2]) code.dataset.lang = fence[2];
      code.textContent = body.join('\n');
      pre.append(code);
      fragment.append(pre);
      continue;
    }
    const heading = /^(#{1,6})\s+(.*)$/.exec(line);
    if (heading) {
      // Reply headings sit below the page's own (h1, h2): h3 to h6.
      const level = Math.min(6, heading[1].length + 2);
      const h = doc.createElement(`h${level}`);
      appendInline(h, heading[2].replace(/\s+#+\s*$/, ''), doc);
      fragment.append(h);
      i++;
      continue;
    }
    if (/^\s*>/.test(line)) {
      const quoted = [];
      while (i < lines.length && /^\s*>/.test(lines[i])) quoted.push(lines[i++].replace(/^\s*>\s?/, ''));
      const blockquote = doc.createElement('blockquote');
      blockquote.append(renderMarkdown(quoted.join('\n'), doc));
      fragment.append(blockquote);
      continue;
    }
    const bullet = /^\s*([-*+]|\d{1,9}[.)])\s+/.exec(line);
    if (bullet) {
      const ordered = /\d/.test(bullet[1]);
      const list = doc.createElement(ordered ? 'ol' : 'ul');
      const itemPattern = ordered ? /^\s*\d{1,9}[.)]\s+(.*)$/ : /^\s*[-*+]\s+(.*)$/;
      while (i < lines.length) {
        const item = itemPattern.exec(lines[i]);
        if (!item) break;
        const li = doc.createElement('li');
        appendInline(li, item[1], doc);
        list.append(li);
        i++;
      }
      fragment.append(list);
      continue;
    }
    // A paragraph: consecutive lines up to a blank line or another block.
    const para = [];
    while (i < lines.length && !/^\s*$/.test(lines[i]) && !/^\s*(```|~~~|#{1,6}\s|>|[-*+]\s|\d{1,9}[.)]\s)/.test(lines[i])) para.push(lines[i++]);
    if (para.length === 0) para.push(lines[i++]); // a line no other rule took
    const p = doc.createElement('p');
    para.forEach((text, index) => {
      if (index > 0) p.append(doc.createElement('br'));
      appendInline(p, text, doc);
    });
    fragment.append(p);
  }
  return fragment;
}

/**
 * Appends the inline Markdown of one line to `parent`.
 * @param {Node} parent
 * @param {string} text
 * @param {Document} doc
 */
function appendInline(parent, text, doc) {
  // Earliest match wins; each rule's content is rendered recursively (except code).
  const rules = [
    { re: /`([^`]+)`/, make: (m) => el(doc, 'code', m[1]) },
    { re: /!\[([^\]]*)\]\(((?:[^()\s]|\([^()\s]*\))*)(?:\s+"[^"]*")?\)/, make: (m) => doc.createTextNode(m[1] ? `[image: ${m[1]}]` : '[image]') },
    {
      // The target may hold one level of balanced parentheses, as in `javascript:alert(1)`.
      re: /\[([^\]]+)\]\(((?:[^()\s]|\([^()\s]*\))*)(?:\s+"[^"]*")?\)/,
      make: (m) => {
        const href = safeHref(m[2]);
        if (href === null) return doc.createTextNode(m[1]);
        const a = doc.createElement('a');
        a.href = href;
        a.rel = 'noopener noreferrer nofollow';
        a.target = '_blank';
        appendInline(a, m[1], doc);
        return a;
      },
    },
    { re: /\*\*([^*]+)\*\*|__([^_]+)__/, make: (m) => wrap(doc, 'strong', m[1] ?? m[2]) },
    { re: /\*([^*\s][^*]*)\*|\b_([^_\s][^_]*)_\b/, make: (m) => wrap(doc, 'em', m[1] ?? m[2]) },
  ];
  let rest = text;
  while (rest.length > 0) {
    let best = null;
    for (const rule of rules) {
      const m = rule.re.exec(rest);
      if (m && (best === null || m.index < best.m.index)) best = { m, rule };
    }
    if (!best) {
      parent.append(doc.createTextNode(rest));
      return;
    }
    if (best.m.index > 0) parent.append(doc.createTextNode(rest.slice(0, best.m.index)));
    parent.append(best.rule.make(best.m));
    rest = rest.slice(best.m.index + best.m[0].length);
  }

  function wrap(d, tag, inner) {
    const node = d.createElement(tag);
    appendInline(node, inner, d);
    return node;
  }
}

function el(doc, tag, text) {
  const node = doc.createElement(tag);
  node.textContent = text;
  return node;
}
