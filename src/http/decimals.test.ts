import { describe, expect, it } from 'vitest';
import { DECIMALS_EXTENSION, keepDecimalText, stringifyWithDecimals } from './decimals.js';

const roundTrip = (text: string) => {
  const value = JSON.parse(text);
  keepDecimalText(text, value);
  return { value, text: stringifyWithDecimals(value) };
};

describe('decimals: the source text of numbers, kept and written back', () => {
  it.each([
    '{"resourceType":"Observation","valueQuantity":{"value":1.0}}',
    '{"resourceType":"Observation","a":[1.00,[2.50,{"b":-0.0}],3E+2],"c\\"d":1.10,"e":"1.0 in a string \\" 2.0","f":66.899999999999991}',
    '{"resourceType":"Observation","x":{},"y":[],"z":[{},[],1.0],"n":null,"t":true,"f":false,"s":1e-22}',
    '{"resourceType":"Patient","contained":[{"resourceType":"Organization","id":"o","extension":[{"url":"u","valueDecimal":2.0}]}]}',
    '{"resourceType":"Bundle","entry":[{"resource":{"resourceType":"Observation","v":1.0}},{"resource":{"resourceType":"Patient","meta":{"tag":[]},"w":[0.10]}}]}',
  ])('writes %s back as sent', (text) => {
    expect(roundTrip(text).text).toBe(text);
  });

  it('records nothing when every number is written as sent', () => {
    const { value } = roundTrip('{"resourceType":"Observation","a":1,"b":1.5,"c":-2,"d":"1.0"}');
    expect(value.meta).toBeUndefined();
  });

  it('gives each resource of a Bundle its own record, and a contained one to its container', () => {
    const { value } = roundTrip('{"resourceType":"Bundle","entry":[{"resource":{"resourceType":"Patient","contained":[{"resourceType":"Organization","v":1.0}]}}]}');
    expect(value.meta).toBeUndefined();
    const patient = value.entry[0].resource;
    expect(patient.meta.extension).toEqual([{ url: DECIMALS_EXTENSION, valueString: '[[["contained",0,"v"],"1.0"]]' }]);
    expect(patient.contained[0].meta).toBeUndefined();
  });

  it('uses a text only where the number still has its value, and only a decimal text', () => {
    const value = { resourceType: 'Observation', a: 2, b: 1, meta: { extension: [{ url: DECIMALS_EXTENSION, valueString: '[[["a"],"1.0"],[["b"],"1}"],[["b"],"1.000"],[["c"],"3.0"]]' }] } };
    expect(stringifyWithDecimals(value)).toBe('{"resourceType":"Observation","a":2,"b":1.000}');
  });
});
