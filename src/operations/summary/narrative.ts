import type { Resource } from '../../fhir/resource-types.js';

const XHTML = 'http://www.w3.org/1999/xhtml';

function escape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

type Concept = { text?: string; coding?: Array<{ display?: string; code?: string }> } | undefined;

function conceptText(c: Concept): string | undefined {
  return c?.text ?? c?.coding?.find((x) => x.display)?.display ?? c?.coding?.find((x) => x.code)?.code;
}

function when(r: Resource): string | undefined {
  for (const key of ['effectiveDateTime', 'onsetDateTime', 'occurrenceDateTime', 'recordedDate', 'dateTime', 'date', 'issued']) {
    if (typeof r[key] === 'string') return r[key] as string;
  }
  const period = (r.effectivePeriod ?? r.onsetPeriod) as { start?: string } | undefined;
  return period?.start;
}

function value(r: Resource): string | undefined {
  const q = r.valueQuantity as { value?: number; unit?: string; code?: string } | undefined;
  if (q?.value !== undefined) return `${q.value} ${q.unit ?? q.code ?? ''}`.trim();
  if (typeof r.valueString === 'string') return r.valueString;
  return conceptText(r.valueCodeableConcept as Concept);
}

/** One line of a section's narrative: what, its value, when. */
export function describe(r: Resource): string {
  const what = conceptText((r.code ?? r.vaccineCode ?? (r.category as Concept[] | undefined)?.[0]) as Concept) ?? r.resourceType;
  return [what, value(r), when(r)].filter(Boolean).join(' — ');
}

/** A generated narrative (FHIR's XHTML subset): a paragraph, or a list of lines. */
export function div(lines: string[], intro?: string): string {
  const head = intro !== undefined ? `<p>${escape(intro)}</p>` : '';
  const list = lines.length > 0 ? `<ul>${lines.map((l) => `<li>${escape(l)}</li>`).join('')}</ul>` : '';
  return `<div xmlns="${XHTML}">${head}${list}</div>`;
}
