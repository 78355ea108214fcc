/**
 * Serves the public verification page (SPEC E6) from the middleware: the HTML and CSS as they are, and
 * the page's script bundled once per process with esbuild from middleware/site/page/app.ts (which
 * brings in the proof verifier, middleware/proofs). Public: no API key, but the server's rate limits.
 * The page talks JSON-RPC to this same server (queries, and the node reads it forwards).
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RpcServer } from '../../node/rpc/server.ts';

const PAGE = fileURLToPath(new URL('./page/', import.meta.url));

let bundle: Promise<string> | undefined;
/** The page's script, bundled on first use (about 0.3 s) and kept. */
function script(): Promise<string> {
  bundle ??= (async () => {
    const { build } = await import('esbuild');
    const r = await build({
      entryPoints: [`${PAGE}app.ts`], bundle: true, platform: 'browser', format: 'esm', target: 'es2022',
      minify: true, write: false, legalComments: 'none', logLevel: 'silent',
    });
    return r.outputFiles[0]!.text;
  })();
  bundle.catch(() => { bundle = undefined; }); // a failed build is tried again on the next request
  return bundle;
}

const FILES: Record<string, { file?: string; type: string }> = {
  '/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/index.html': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/site.css': { file: 'site.css', type: 'text/css; charset=utf-8' },
  '/app.js': { type: 'text/javascript; charset=utf-8' },
};

class SiteError extends Error {
  readonly code = 'SITE_NOT_FOUND';
}

export function serveSite(server: RpcServer): void {
  const handler = async (req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '/').split('?', 1)[0]!;
    const f = FILES[path];
    if (!f) throw new SiteError(`no page at ${path}`);
    const body = f.file ? readFileSync(`${PAGE}${f.file}`) : Buffer.from(await script());
    res.writeHead(200, {
      'Content-Type': f.type, 'Content-Length': body.length, 'Cache-Control': 'no-cache',
      // The page runs only its own script and talks only to this server.
      'Content-Security-Policy': "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'",
      'X-Content-Type-Options': 'nosniff', 'Referrer-Policy': 'no-referrer',
    });
    res.end(req.method === 'HEAD' ? undefined : body);
  };
  for (const p of ['/index.html', '/site.css', '/app.js']) server.route(p, ['GET', 'HEAD'], handler, { public: true });
  server.route('/', ['GET', 'HEAD'], (req, res) => {
    const path = (req.url ?? '/').split('?', 1)[0]!;
    if (path !== '/') throw new SiteError(`no page at ${path}`);
    return handler(req, res);
  }, { public: true });
}
