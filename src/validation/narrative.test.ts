import { describe, expect, it } from 'vitest';
import { narrativeProblem } from './narrative.js';

const NS = 'xmlns="http://www.w3.org/1999/xhtml"';

describe('narrative: FHIR XHTML subset (txt-1, txt-2)', () => {
  it.each([
    `<div ${NS}>texte</div>`,
    `<div ${NS}><!-- note --><p>a &lt; b &amp;&amp; c &gt; d &#160; &#xA0; &quot;&apos;</p></div>`,
    `<div ${NS}><table border="1"><tbody><tr><th scope="col">x</th><td colspan="2" style="x">y</td></tr></tbody></table></div>`,
    `<div ${NS}><img src="https://example.org/photo.png" alt=""/></div>`,
    `<div ${NS}>\n  <a name="top"></a><a href='https://example.org/?a=1&amp;b=2'>lien</a>\n</div>`,
    `<div ${NS}><p><![CDATA[ a < b ]]></p></div>`,
    `<div ${NS}><ul><li><span xml:lang="fr" lang="fr">é</span></li></ul><br/><hr /></div>`,
  ])('accepts %s', (div) => {
    expect(narrativeProblem(div)).toBeUndefined();
  });

  it.each([
    [`<div ${NS}><script>x()</script></div>`, /<script>/],
    [`<div ${NS}><SCRIPT>x()</SCRIPT></div>`, /<SCRIPT>/],
    [`<div ${NS}><style>p{}</style>x</div>`, /<style>/],
    [`<div ${NS}><object data="x"></object></div>`, /<object>/],
    [`<div ${NS}><p onmouseover="x()">a</p></div>`, /onmouseover/],
    [`<div ${NS}><a href="&#106;avascript:x()">a</a></div>`, /script URL/],
    [`<div ${NS}><a href=" JavaScript:x()">a</a></div>`, /script URL/],
    [`<div ${NS}><img src="data:text/html,x"/></div>`, /script URL/],
    [`<div ${NS}><svg:svg/></div>`, /<svg:svg>/],
    [`<div ${NS}><p xmlns="http://www.w3.org/2000/svg">a</p></div>`, /namespace/],
    ['<div xmlns="http://www.w3.org/1999/xhtml/">a</div>', /namespace/],
    [`<p ${NS}>a</p>`, /one <div>/],
    [`<div ${NS}>a</div><div ${NS}>b</div>`, /one <div>/],
    [`x<div ${NS}>a</div>`, /outside the root/],
    [`<div ${NS}><p>a</div>`, /does not match/],
    [`<div ${NS}><p>a`, /not closed/],
    [`<div ${NS}>a & b</div>`, /character reference/],
    [`<div ${NS}>a < b</div>`, /starts no tag/],
    [`<div ${NS}><p class=x>a</p></div>`, /quoted value/],
    [`<div ${NS}><p class="a" class="b">a</p></div>`, /repeated/],
    [`<div ${NS}><!DOCTYPE html>a</div>`, /Declarations/],
    [`<div ${NS}><?php x ?>a</div>`, /processing instructions/],
    [`<div ${NS}> <br/> </div>`, /txt-2/],
    [`<div ${NS}><img src="#nowhere"/></div>`, /matches no contained resource/],
    [`<div ${NS}><a href="#nowhere">x</a></div>`, /matches no anchor/],
    [`<div ${NS}>a&nbsp;b</div>`, /character reference/],
  ])('refuses %s', (div, message) => {
    expect(narrativeProblem(div)).toMatch(message);
  });

  it('accepts an image that is a contained resource, and links to anchors or contained resources', () => {
    expect(narrativeProblem(`<div ${NS}><img src="#photo"/></div>`, new Set(['photo']))).toBeUndefined();
    expect(narrativeProblem(`<div ${NS}><a href="#o">o</a><a href="#s2">2</a><p id="s2">x</p><a name="top"/><a href="#top">^</a></div>`, new Set(['o']))).toBeUndefined();
  });
});
