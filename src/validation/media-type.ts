/**
 * A media type as RFC 9110 (section 8.3.1) writes it: type "/" subtype, each a token, then
 * parameters `; name=value`, the value a token or a quoted string. What FHIR's `contentType`
 * elements hold (Attachment.contentType, Binary.contentType: BCP 13), and what carnet sends back
 * as the Content-Type of a Binary's bytes, so a value HTTP cannot carry is refused on write.
 * Only ASCII: RFC 9110 keeps obs-text (bytes 0x80 to 0xFF) in quoted strings for old senders only.
 */
const TOKEN = "[!#$%&'*+\\-.^_`|~0-9A-Za-z]+";
const QUOTED = '"(?:[\\t !#-\\[\\]-~]|\\\\[\\t -~])*"';
const MEDIA_TYPE = new RegExp(`^${TOKEN}/${TOKEN}(?:[ \\t]*;[ \\t]*(?:${TOKEN}=(?:${TOKEN}|${QUOTED}))?)*$`);

export function isMediaType(value: string): boolean {
  return MEDIA_TYPE.test(value);
}
