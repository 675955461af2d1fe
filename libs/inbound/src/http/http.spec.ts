import { BodyParseError, parseBody } from './body-parser';
import { flatHeaders, mediaType } from './request-headers';

describe('request headers', () => {
  it('flattens headers to lower-case names, joins repeated ones and drops missing ones', () => {
    expect(flatHeaders({ 'Content-Type': 'application/json', 'X-Tag': ['a', 'b'], 'X-None': undefined })).toEqual({
      'content-type': 'application/json',
      'x-tag': 'a, b',
    });
  });

  it('reads the media type without parameters, lower-case, or empty when there is none', () => {
    expect(mediaType({ 'content-type': 'Application/JSON; charset=utf-8' })).toBe('application/json');
    expect(mediaType({})).toBe('');
  });
});

describe('parseBody', () => {
  it('parses JSON, form fields and text by content type, and refuses malformed JSON', () => {
    expect(parseBody(Buffer.from('{"a":1}'), 'application/vnd.x+json; charset=utf-8')).toEqual({ a: 1 });
    expect(parseBody(Buffer.from('a=1&__proto__=x'), 'application/x-www-form-urlencoded')).toEqual({ a: '1' });
    expect(parseBody(Buffer.from('hello'), 'text/plain')).toBe('hello');
    expect(parseBody(Buffer.alloc(0), 'application/json')).toEqual({});
    expect(() => parseBody(Buffer.from('{'), 'application/json')).toThrow(BodyParseError);
  });
});
