import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Logger } from '../shared/logger.ts';

export interface Readiness {
  /** False only when the bridge cannot take work (store unusable, Slack not connected). */
  readonly ready: boolean;
  /** Everything else worth knowing, e.g. Chatwoot being down (the queue exists to ride that out). */
  readonly [detail: string]: unknown;
}

export interface HealthRoutes {
  readonly readiness: () => Promise<Readiness>;
}

/** GET /healthz: the process is alive. GET /readyz: 503 only when the bridge cannot take work. */
export function handleHealth(routes: HealthRoutes) {
  return async (request: IncomingMessage, response: ServerResponse): Promise<boolean> => {
    const path = (request.url ?? '/').split('?')[0];
    if (request.method !== 'GET' && request.method !== 'HEAD') return false;
    if (path === '/healthz') {
      send(response, 200, { status: 'ok' });
      return true;
    }
    if (path === '/readyz') {
      const readiness = await routes.readiness();
      send(response, readiness.ready ? 200 : 503, readiness);
      return true;
    }
    return false;
  };
}

function send(response: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  response.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  response.end(text);
}

export async function startHealthServer(
  routes: HealthRoutes,
  options: {
    port: number;
    host?: string;
    logger: Logger;
    /** Everything that is not a health check (Slack's requests in HTTP mode); returns false when not its path. */
    next?: (request: IncomingMessage, response: ServerResponse) => boolean;
  },
): Promise<Server> {
  const handle = handleHealth(routes);
  const server = createServer((request, response) => {
    handle(request, response).then(
      (handled) => {
        if (!handled && options.next?.(request, response) !== true) send(response, 404, { error: 'not found' });
      },
      (error: unknown) => {
        options.logger.error({ err: error }, 'health endpoint failed');
        if (!response.headersSent) send(response, 500, { error: 'internal error' });
      },
    );
  });
  await new Promise<void>((resolveListen, rejectListen) => {
    server.once('error', rejectListen);
    server.listen(options.port, options.host, () => {
      server.off('error', rejectListen);
      resolveListen();
    });
  });
  return server;
}
