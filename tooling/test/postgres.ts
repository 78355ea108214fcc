/**
 * A throwaway PostgreSQL server for tests (and benchmarks): Debian's binaries (installed by
 * scripts/setup-postgres.sh when missing), a fresh cluster in a temporary folder, a unix socket in that
 * folder and a random loopback port (password login), fsync off. stop() kills it and removes the folder;
 * it also runs when the process exits, and servers left behind by killed processes are cleaned up by the
 * next start. PostgreSQL refuses to run as root: as root, the server runs as the `postgres` user.
 */
import { execFileSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';

export interface TestPostgres {
  /** `postgres://postgres:PASSWORD@127.0.0.1:PORT/postgres` (TCP, password). */
  url: string;
  /** The same server through its unix socket (trusted). */
  socketUrl: string;
  port: number;
  dir: string;
  /** Runs a server binary (pg_ctl, psql, ...) as the server's user. */
  run(tool: string, args: string[]): string;
  stop(): void;
}

const PREFIX = 'brop-pg-';

function osUser(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const id = (flag: string) => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }).trim());
  try {
    return { uid: id('-u'), gid: id('-g') };
  } catch {
    throw new Error('running as root, PostgreSQL needs an unprivileged user to run as, and there is no `postgres` user (install Debian\'s postgresql package)');
  }
}

function runner(bin: string, user: { uid: number; gid: number } | undefined) {
  return (tool: string, args: string[]): string => {
    const path = join(bin, tool);
    const [cmd, argv] = user ? ['runuser', ['-u', 'postgres', '--', path, ...args]] : [path, args];
    return execFileSync(cmd, argv, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], cwd: '/' });
  };
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

/** Servers whose test process died without stopping them (SIGKILL, say). */
function reap(run: (tool: string, args: string[]) => string): void {
  for (const name of readdirSync(tmpdir())) {
    const m = new RegExp(`^${PREFIX}(\\d+)-`).exec(name);
    if (!m) continue;
    try {
      process.kill(Number(m[1]), 0);
      continue; // its owner still runs
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ESRCH') continue;
    }
    const dir = join(tmpdir(), name);
    if (existsSync(join(dir, 'data', 'postmaster.pid'))) {
      try {
        run('pg_ctl', ['-D', join(dir, 'data'), '-m', 'immediate', '-w', 'stop']);
      } catch { /* already gone */ }
    }
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function startPostgres(): Promise<TestPostgres> {
  const setup = fileURLToPath(new URL('../../scripts/setup-postgres.sh', import.meta.url));
  const bin = execFileSync(setup, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim();
  const user = osUser();
  const run = runner(bin, user);
  reap(run);

  const dir = mkdtempSync(join(tmpdir(), `${PREFIX}${process.pid}-`));
  const data = join(dir, 'data');
  const log = join(dir, 'server.log');
  let stopped = false;
  const stop = () => {
    if (stopped) return;
    stopped = true;
    process.off('exit', stop);
    if (existsSync(join(data, 'postmaster.pid'))) {
      try {
        run('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']);
      } catch { /* already gone */ }
    }
    rmSync(dir, { recursive: true, force: true });
  };
  process.on('exit', stop);
  try {
    if (user) chownSync(dir, user.uid, user.gid);
    const password = randomBytes(12).toString('hex');
    const pwfile = join(dir, 'pwfile');
    writeFileSync(pwfile, `${password}\n`, { mode: 0o600 });
    if (user) chownSync(pwfile, user.uid, user.gid);
    run('initdb', ['-D', data, '-U', 'postgres', '--pwfile', pwfile, '--auth-local=trust', '--auth-host=scram-sha-256', '-E', 'UTF8', '--no-locale', '--no-sync']);
    rmSync(pwfile);
    // The port is free when chosen, not necessarily when the server binds it: try a few.
    let port = 0;
    for (let attempt = 1; ; attempt++) {
      port = await freePort();
      const settings = `-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c listen_addresses=127.0.0.1 -p ${port} -k ${dir}`;
      try {
        run('pg_ctl', ['-D', data, '-l', log, '-w', '-t', '60', '-o', settings, 'start']);
        break;
      } catch (e) {
        if (attempt >= 3) {
          const tail = existsSync(log) ? readFileSync(log, 'utf8').split('\n').slice(-15).join('\n') : '';
          throw new Error(`PostgreSQL did not start: ${(e as { stderr?: string }).stderr?.trim() || (e as Error).message}\n${tail}`);
        }
      }
    }
    return {
      url: `postgres://postgres:${password}@127.0.0.1:${port}/postgres`,
      socketUrl: `postgres://postgres@/postgres?host=${encodeURIComponent(dir)}&port=${port}`,
      port, dir, run, stop,
    };
  } catch (e) {
    stop();
    throw e;
  }
}
