import { STATUS_CODES } from 'node:http';
import { type ApiResponse, railsError } from './api.ts';

export interface FaultMatcher {
  /** HTTP method, case-insensitive. */
  method?: string;
  /** Tested against the path without the query string. */
  path?: RegExp;
}

interface FaultCommon {
  /** How many matching requests this fault applies to. @default 1 */
  times?: number;
  match?: FaultMatcher;
  /**
   * Process the request first (a message IS stored and delivered), then fail the response.
   * This is the ambiguous case a client cannot tell apart from a failure before the write.
   * @default false
   */
  afterStore?: boolean;
}

export type FaultSpec =
  | (FaultCommon & {
      type: 'status';
      /** 500 answers like Rails (`{"status":500,"error":"Internal Server Error"}`); 502/503/504 like nginx (HTML). */
      status: number;
      body?: string;
      contentType?: string;
    })
  | (FaultCommon & { type: 'reset' })
  | (FaultCommon & {
      type: 'stall';
      /** Hold the response this long, then carry on. Omitted: hold until the fake closes. */
      ms?: number;
    });

export interface FaultHandle {
  /** Matching requests still to be hit. */
  readonly remaining: number;
  /** Requests this fault has been applied to. */
  readonly hits: number;
  cancel(): void;
}

interface ActiveFault {
  spec: FaultSpec;
  remaining: number;
  hits: number;
}

const NGINX_TITLES: Readonly<Record<number, string>> = {
  500: '500 Internal Server Error',
  502: '502 Bad Gateway',
  503: '503 Service Temporarily Unavailable',
  504: '504 Gateway Time-out',
};

export class FaultQueue {
  private readonly faults: ActiveFault[] = [];

  add(spec: FaultSpec): FaultHandle {
    const times = spec.times ?? 1;
    if (!Number.isInteger(times) || times < 1)
      throw new TypeError(`Expected \`times\` to be an integer ≥ 1, got ${times}`);
    if (spec.type === 'status' && spec.body === undefined && STATUS_CODES[spec.status] === undefined) {
      throw new TypeError(`Expected \`status\` to be a known HTTP status, got ${spec.status}`);
    }
    const fault: ActiveFault = { spec, remaining: times, hits: 0 };
    this.faults.push(fault);
    return {
      get remaining() {
        return fault.remaining;
      },
      get hits() {
        return fault.hits;
      },
      cancel: () => {
        fault.remaining = 0;
        this.prune();
      },
    };
  }

  clear(): void {
    for (const fault of this.faults) fault.remaining = 0;
    this.faults.length = 0;
  }

  /** The first fault matching this request, consumed by one. */
  take(method: string, path: string): FaultSpec | undefined {
    const fault = this.faults.find(
      (f) =>
        f.remaining > 0 &&
        (f.spec.match?.method === undefined || f.spec.match.method.toUpperCase() === method) &&
        (f.spec.match?.path === undefined || testPath(f.spec.match.path, path)),
    );
    if (!fault) return undefined;
    fault.remaining -= 1;
    fault.hits += 1;
    this.prune();
    return fault.spec;
  }

  private prune(): void {
    for (let i = this.faults.length - 1; i >= 0; i -= 1) {
      if ((this.faults[i]?.remaining ?? 0) <= 0) this.faults.splice(i, 1);
    }
  }
}

function testPath(pattern: RegExp, path: string): boolean {
  pattern.lastIndex = 0;
  return pattern.test(path);
}

/** The body a proxy (nginx) or Rails sends for an injected status. */
export function faultResponse(spec: Extract<FaultSpec, { type: 'status' }>): ApiResponse {
  if (spec.body !== undefined) {
    return { status: spec.status, headers: { 'content-type': spec.contentType ?? 'text/plain' }, body: spec.body };
  }
  const nginxTitle = spec.status === 500 ? undefined : NGINX_TITLES[spec.status];
  if (nginxTitle) {
    return {
      status: spec.status,
      headers: { 'content-type': 'text/html', server: 'nginx' },
      body: `<html>\r\n<head><title>${nginxTitle}</title></head>\r\n<body>\r\n<center><h1>${nginxTitle}</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n`,
    };
  }
  return railsError(spec.status);
}
