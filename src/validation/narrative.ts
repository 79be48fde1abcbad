import type { Issue } from '../errors.js';

const XHTML_NS = 'http://www.w3.org/1999/xhtml';

/**
 * FHIR's XHTML subset (http://hl7.org/fhir/R4/narrative.html#xhtml, txt-1): the formatting
 * elements of HTML 4.0 chapters 7 to 11 and 12, links, images and style attributes; no scripts,
 * forms, frames, objects or event handlers. The lists are the ones the HL7 validator applies.
 */
const ELEMENTS = new Set([
  'p', 'br', 'div', 'h1', 'h2', 'h3', 'h4', 'h5', 'h6', 'a', 'span', 'b', 'em', 'i', 'strong', 'small', 'big', 'tt',
  'dfn', 'q', 'var', 'abbr', 'acronym', 'cite', 'blockquote', 'hr', 'address', 'bdo', 'kbd', 'sub', 'sup', 'ul', 'ol',
  'li', 'dl', 'dt', 'dd', 'pre', 'table', 'caption', 'colgroup', 'col', 'thead', 'tr', 'tfoot', 'tbody', 'th', 'td',
  'code', 'samp', 'img', 'map', 'area',
]);

const ANY_ELEMENT_ATTRIBUTES = new Set([
  'title', 'style', 'class', 'id', 'lang', 'xml:lang', 'xml:space', 'dir', 'accesskey', 'tabindex', 'xmlns',
  // tables (HTML 4.0 chapter 11)
  'span', 'width', 'align', 'valign', 'char', 'charoff', 'abbr', 'axis', 'headers', 'scope', 'rowspan', 'colspan',
]);

const ELEMENT_ATTRIBUTES: Record<string, Set<string>> = {
  a: new Set(['href', 'name', 'type', 'rel', 'rev', 'hreflang', 'charset', 'shape', 'coords']),
  img: new Set(['src', 'alt', 'border', 'height', 'longdesc', 'usemap', 'ismap', 'hspace', 'vspace']),
  blockquote: new Set(['cite']),
  q: new Set(['cite']),
  table: new Set(['summary', 'border', 'frame', 'rules', 'cellspacing', 'cellpadding', 'bgcolor']),
  td: new Set(['nowrap', 'bgcolor', 'height']),
  th: new Set(['nowrap', 'bgcolor', 'height']),
  tr: new Set(['bgcolor']),
  ol: new Set(['type', 'start', 'compact']),
  ul: new Set(['type', 'compact']),
  li: new Set(['type', 'value']),
  map: new Set(['name']),
  area: new Set(['shape', 'coords', 'href', 'nohref', 'alt']),
  br: new Set(['clear']),
  hr: new Set(['noshade', 'size']),
  pre: new Set(['xml:space']),
};

const NAME = /[A-Za-z_][A-Za-z0-9_.-]*(?::[A-Za-z_][A-Za-z0-9_.-]*)?/y;
const SPACES = /\s*/y;
const END_TAG_CLOSE = /\s*>/y;
const EQUALS_QUOTE = /\s*=\s*(["'])/y;
const sticky = (re: RegExp, text: string, at: number): RegExpExecArray | null => {
  re.lastIndex = at;
  return re.exec(text);
};
/** XML's five named entities only: a narrative is XML, where `&nbsp;` is undefined (write `&#160;`). */
const ENTITY = /&(?:lt|gt|amp|quot|apos|#[0-9]{1,7}|#x[0-9A-Fa-f]{1,6});/y;

/**
 * Checks a narrative's `div`: well-formed XML, one root `div` in the XHTML namespace, only the
 * elements and attributes of FHIR's subset, no script URLs (txt-1), and some text or an image
 * (txt-2). Returns the first problem found, or undefined.
 */
export function narrativeProblem(div: string, containedIds: ReadonlySet<string> = new Set()): string | undefined {
  const stack: string[] = [];
  let pos = 0;
  let root = 0;
  let content = false;
  const anchors = new Set<string>();
  const localLinks: string[] = [];
  const fail = (what: string) => `${what} (at character ${pos})`;
  while (pos < div.length) {
    const lt = div.indexOf('<', pos);
    const text = div.slice(pos, lt === -1 ? div.length : lt);
    if (text.trim()) {
      if (!stack.length) return fail('Text outside the root div');
      const amp = checkEntities(text);
      if (amp !== undefined) return fail(`Malformed character reference '${text.slice(amp, amp + 12)}'`);
      content = true;
    }
    if (lt === -1) break;
    pos = lt;
    if (div.startsWith('<!--', pos)) {
      const end = div.indexOf('-->', pos + 4);
      if (end === -1) return fail('Unterminated comment');
      pos = end + 3;
      continue;
    }
    if (div.startsWith('<![CDATA[', pos)) {
      const end = div.indexOf(']]>', pos);
      if (end === -1 || !stack.length) return fail('Misplaced CDATA section');
      if (div.slice(pos + 9, end).trim()) content = true;
      pos = end + 3;
      continue;
    }
    if (div.startsWith('<!', pos) || div.startsWith('<?', pos)) return fail('Declarations and processing instructions are not allowed in a narrative');
    if (div.startsWith('</', pos)) {
      NAME.lastIndex = pos + 2;
      const m = NAME.exec(div);
      const close = m ? sticky(END_TAG_CLOSE, div, NAME.lastIndex) : null;
      if (!m || !close) return fail('Malformed end tag');
      if (stack.pop() !== m[0]) return fail(`End tag </${m[0]}> does not match its start tag`);
      pos = NAME.lastIndex + close[0].length;
      continue;
    }
    NAME.lastIndex = pos + 1;
    const m = NAME.exec(div);
    if (!m) return fail("A '<' that starts no tag (write &lt;)");
    const name = m[0];
    pos = NAME.lastIndex;
    if (!ELEMENTS.has(name)) return `Element <${name}> is not allowed in a narrative (txt-1: FHIR's XHTML subset)`;
    if (!stack.length) {
      if (root++ > 0 || name !== 'div') return 'A narrative is one <div> element';
    }
    const attrs = new Map<string, string>();
    for (;;) {
      const ws = sticky(SPACES, div, pos)![0];
      pos += ws.length;
      if (div.startsWith('/>', pos) || div.startsWith('>', pos)) break;
      if (!ws) return fail(`Malformed start tag <${name}>`);
      NAME.lastIndex = pos;
      const a = NAME.exec(div);
      if (!a) return fail(`Malformed attribute in <${name}>`);
      pos = NAME.lastIndex;
      const eq = sticky(EQUALS_QUOTE, div, pos);
      if (!eq) return fail(`Attribute '${a[0]}' of <${name}> has no quoted value`);
      pos += eq[0].length;
      const end = div.indexOf(eq[1]!, pos);
      if (end === -1) return fail(`Unterminated value of attribute '${a[0]}'`);
      const value = div.slice(pos, end);
      pos = end + 1;
      if (value.includes('<') || checkEntities(value) !== undefined) return fail(`Malformed value of attribute '${a[0]}'`);
      if (attrs.has(a[0])) return fail(`Attribute '${a[0]}' repeated in <${name}>`);
      attrs.set(a[0], value);
      if (!ANY_ELEMENT_ATTRIBUTES.has(a[0]) && !ELEMENT_ATTRIBUTES[name]?.has(a[0])) {
        return `Attribute '${a[0]}' of <${name}> is not allowed in a narrative (txt-1: FHIR's XHTML subset)`;
      }
      if ((a[0] === 'href' || a[0] === 'src' || a[0] === 'cite') && /^\s*(javascript|vbscript|data\s*:\s*text\/html)/i.test(decode(value))) {
        return `Attribute '${a[0]}' of <${name}> holds a script URL, not allowed in a narrative (txt-1)`;
      }
    }
    for (const anchor of [attrs.get('id'), name === 'a' ? attrs.get('name') : undefined]) if (anchor) anchors.add(anchor);
    const href = name === 'a' ? attrs.get('href') : undefined;
    if (href?.startsWith('#')) localLinks.push(href);
    const xmlns = attrs.get('xmlns');
    if (!stack.length && xmlns !== XHTML_NS) return `The narrative's <div> must declare the XHTML namespace: xmlns="${XHTML_NS}"`;
    if (xmlns !== undefined && xmlns !== XHTML_NS) return `Element <${name}> is in namespace '${xmlns}', not XHTML`;
    if (name === 'img') {
      content = true;
      // An image inside the resource is a contained resource (a Binary): its id must exist.
      const src = attrs.get('src');
      if (src?.startsWith('#') && !containedIds.has(src.slice(1))) return `Image source '${src}' matches no contained resource`;
    }
    if (div.startsWith('/>', pos)) pos += 2;
    else {
      pos += 1;
      stack.push(name);
    }
    if (stack.length > 64) return 'Narrative elements nested deeper than 64 levels';
  }
  if (stack.length) return `Element <${stack.at(-1)}> is not closed`;
  if (!root) return 'A narrative is one <div> element';
  if (!content) return 'The narrative has no content: it needs some text or an image (txt-2)';
  // A local link goes to an anchor of the narrative or to a contained resource.
  const broken = localLinks.find((h) => h !== '#' && !anchors.has(h.slice(1)) && !containedIds.has(h.slice(1)));
  if (broken) return `Link '${broken}' matches no anchor of the narrative and no contained resource`;
  return undefined;
}

/** Index of the first '&' that starts no character or entity reference, if any. */
function checkEntities(text: string): number | undefined {
  for (let i = text.indexOf('&'); i !== -1; i = text.indexOf('&', i + 1)) {
    ENTITY.lastIndex = i;
    if (!ENTITY.test(text)) return i;
  }
  return undefined;
}

/** Enough decoding to see through `&#106;avascript:`. */
function decode(value: string): string {
  return value
    .replace(/&#x([0-9a-f]+);/gi, (_, h: string) => String.fromCodePoint(Math.min(parseInt(h, 16), 0x10ffff)))
    .replace(/&#([0-9]+);/g, (_, d: string) => String.fromCodePoint(Math.min(parseInt(d, 10), 0x10ffff)))
    .replace(/[\u0000-\u0020]/g, '');
}

/** The narrative issue of one resource, if its `text.div` is outside FHIR's rules; `container` holds the contained resources. */
export function narrativeIssue(resource: Record<string, any>, expression: string, container: Record<string, any>): Issue | undefined {
  const div = resource.text?.div;
  if (typeof div !== 'string' || div === '') return undefined;
  const contained: unknown[] = Array.isArray(container.contained) ? container.contained : [];
  const ids = new Set(contained.map((c) => (c as { id?: unknown } | null)?.id).filter((id): id is string => typeof id === 'string'));
  const problem = narrativeProblem(div, ids);
  return problem === undefined ? undefined : { severity: 'error', code: 'invalid', diagnostics: problem, expression: [`${expression}.text.div`] };
}
