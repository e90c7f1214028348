/** An uploaded multipart file, as Rails hands it to a controller (`ActionDispatch::Http::UploadedFile`). */
export class UploadedFile {
  readonly filename: string;
  readonly contentType: string;
  readonly size: number;

  constructor(filename: string, contentType: string, size: number) {
    this.filename = filename;
    this.contentType = contentType;
    this.size = size;
  }
}

export type ParamValue = string | number | boolean | null | UploadedFile | ParamValue[] | ParamHash;
export interface ParamHash {
  [key: string]: ParamValue;
}

/** Rails answers a body it cannot parse with 400 before any controller runs. */
export class BadRequestBody extends Error {
  override name = 'BadRequestBody';
}

export function isParamHash(value: unknown): value is ParamHash {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof UploadedFile);
}

/** Rack's nested parameter naming: `a`, `a[]`, `a[b]`, `a[b][c]`, `a[][b]`. */
export function setNestedParam(target: ParamHash, name: string, value: ParamValue): void {
  const match = /^([^[\]]+)((?:\[[^\]]*\])*)$/.exec(name);
  if (!match?.[1]) {
    target[name] = value;
    return;
  }
  const keys = [match[1], ...[...(match[2] ?? '').matchAll(/\[([^\]]*)\]/g)].map((m) => m[1] ?? '')];
  assign(target, keys, value);
}

function assign(container: ParamHash, keys: string[], value: ParamValue): void {
  const [head, next, ...rest] = keys;
  if (head === undefined) return;
  if (next === undefined) {
    container[head] = value;
    return;
  }
  if (next === '') {
    const existing = container[head];
    const list: ParamValue[] = Array.isArray(existing) ? existing : [];
    container[head] = list;
    if (rest.length === 0) {
      list.push(value);
      return;
    }
    const last = list[list.length - 1];
    const childKey = rest[0] ?? '';
    if (isParamHash(last) && !(childKey in last)) {
      assign(last, rest, value);
    } else {
      const child: ParamHash = {};
      list.push(child);
      assign(child, rest, value);
    }
    return;
  }
  const existing = container[head];
  const child: ParamHash = isParamHash(existing) ? existing : {};
  container[head] = child;
  assign(child, [next, ...rest], value);
}

export function parseQueryString(search: string): ParamHash {
  const params: ParamHash = {};
  for (const [key, value] of new URLSearchParams(search)) setNestedParam(params, key, value);
  return params;
}

/** The query as a flat record (repeated keys become arrays), for request logs and contract checks. */
export function flatQuery(search: string): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [key, value] of new URLSearchParams(search)) {
    const existing = out[key];
    if (existing === undefined) out[key] = value;
    else if (Array.isArray(existing)) existing.push(value);
    else out[key] = [existing, value];
  }
  return out;
}

export interface ParsedBody {
  params: ParamHash;
  /** JSON-friendly view of the body for the request log: files become `{filename, contentType, size}`. */
  logged: unknown;
}

export function parseBody(contentTypeHeader: string | undefined, raw: Buffer): ParsedBody {
  if (raw.length === 0) return { params: {}, logged: undefined };
  const contentType = (contentTypeHeader ?? '').toLowerCase();
  const mime = contentType.split(';')[0]?.trim() ?? '';
  if (mime === 'application/json' || mime.endsWith('+json')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw.toString('utf8'));
    } catch {
      throw new BadRequestBody('Error occurred while parsing request parameters');
    }
    const params = isParamHash(parsed) ? (parsed as ParamHash) : { _json: parsed as ParamValue };
    return { params, logged: parsed };
  }
  if (mime === 'application/x-www-form-urlencoded') {
    const params = parseQueryString(raw.toString('utf8'));
    return { params, logged: loggable(params) };
  }
  if (mime === 'multipart/form-data') {
    const boundary = /boundary=(?:"([^"]+)"|([^;]+))/i.exec(contentTypeHeader ?? '');
    const value = boundary?.[1] ?? boundary?.[2];
    if (!value) throw new BadRequestBody('multipart boundary missing');
    const params = parseMultipart(raw, value.trim());
    return { params, logged: loggable(params) };
  }
  return { params: {}, logged: raw.toString('utf8') };
}

function parseMultipart(raw: Buffer, boundary: string): ParamHash {
  const params: ParamHash = {};
  const delimiter = Buffer.from(`--${boundary}`);
  let position = raw.indexOf(delimiter);
  if (position < 0) throw new BadRequestBody('multipart body without boundary');
  while (position >= 0) {
    let start = position + delimiter.length;
    if (raw.subarray(start, start + 2).toString() === '--') break;
    if (raw.subarray(start, start + 2).toString() === '\r\n') start += 2;
    const next = raw.indexOf(delimiter, start);
    if (next < 0) throw new BadRequestBody('unterminated multipart body');
    const part = raw.subarray(start, next - 2 >= start ? next - 2 : next);
    const headerEnd = part.indexOf('\r\n\r\n');
    if (headerEnd < 0) throw new BadRequestBody('multipart part without headers');
    const headers = part.subarray(0, headerEnd).toString('utf8');
    const data = part.subarray(headerEnd + 4);
    const disposition = /content-disposition:\s*form-data;([^\r\n]*)/i.exec(headers)?.[1] ?? '';
    const name = /\bname="([^"]*)"/i.exec(disposition)?.[1];
    const filename = /\bfilename="([^"]*)"/i.exec(disposition)?.[1];
    const partType = /content-type:\s*([^\r\n]+)/i.exec(headers)?.[1]?.trim();
    if (name !== undefined) {
      if (filename !== undefined) {
        setNestedParam(params, name, new UploadedFile(filename, partType ?? 'application/octet-stream', data.length));
      } else {
        setNestedParam(params, name, data.toString('utf8'));
      }
    }
    position = next;
  }
  return params;
}

function loggable(value: ParamValue): unknown {
  if (value instanceof UploadedFile) {
    return { filename: value.filename, contentType: value.contentType, size: value.size };
  }
  if (Array.isArray(value)) return value.map(loggable);
  if (isParamHash(value)) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, loggable(v)]));
  return value;
}
