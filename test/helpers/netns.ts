import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import type { Test } from 'tap';

/** A simulated worker host: its own network namespace, reaching the services through a veth link. */
export interface Host {
  name: string;
  /** The address of the services as this host sees them. */
  serviceIp: string;
  /** Command prefix that runs a program on this host. */
  prefix: string[];
}

const ip = (...args: string[]) => execFileSync('ip', args, { stdio: 'pipe' });

/**
 * Makes `n` hosts with `ip netns` and veth pairs, each forwarding the given local ports (PostgreSQL,
 * Redis) from its link address to 127.0.0.1. Returns null where the machine does not allow
 * network namespaces; the caller then runs its processes on loopback.
 */
export function makeHosts(t: Test, n: number, ports: number[]): Host[] | null {
  const tag = randomBytes(3).toString('hex');
  const subnet = randomInt(100, 250);
  const hosts: Host[] = [];
  const servers: net.Server[] = [];
  const cleanup = () => {
    for (const s of servers) s.close();
    for (const h of hosts) {
      try {
        ip('netns', 'del', h.name);
      } catch {
        /* gone */
      }
      try {
        ip('link', 'del', `lv${tag}${hosts.indexOf(h)}a`);
      } catch {
        /* removed with the namespace */
      }
    }
  };
  t.teardown(cleanup);
  try {
    for (let i = 0; i < n; i++) {
      const name = `lumina-${tag}-${i}`;
      const outer = `lv${tag}${i}a`;
      const inner = `lv${tag}${i}b`;
      const hostIp = `10.${subnet}.${i}.1`;
      ip('netns', 'add', name);
      hosts.push({ name, serviceIp: hostIp, prefix: ['ip', 'netns', 'exec', name] });
      ip('link', 'add', outer, 'type', 'veth', 'peer', 'name', inner);
      ip('link', 'set', inner, 'netns', name);
      ip('addr', 'add', `${hostIp}/24`, 'dev', outer);
      ip('link', 'set', outer, 'up');
      ip('netns', 'exec', name, 'ip', 'addr', 'add', `10.${subnet}.${i}.2/24`, 'dev', inner);
      ip('netns', 'exec', name, 'ip', 'link', 'set', inner, 'up');
      ip('netns', 'exec', name, 'ip', 'link', 'set', 'lo', 'up');
      for (const port of ports) servers.push(forward(hostIp, port));
    }
    return hosts;
  } catch {
    cleanup();
    hosts.length = 0;
    return null;
  }
}

/** A TCP forwarder: when either side goes (a Redis restart), both go, and the client reconnects. */
function forward(listenIp: string, port: number): net.Server {
  const server = net.createServer((client) => {
    const upstream = net.connect(port, '127.0.0.1');
    const close = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', close).on('close', close);
    upstream.on('error', close).on('close', close);
    client.pipe(upstream).pipe(client);
  });
  server.listen(port, listenIp);
  return server;
}

/** A Redis server of the test's own (it is restarted mid-job), persisting every write as Redis in production would. */
export async function ownRedis(t: Test, dir: string): Promise<{ port: number; url: string; kill(): Promise<void>; start(): Promise<void> }> {
  const port = await freePort();
  let proc: ChildProcess | null = null;
  const start = async () => {
    fs.mkdirSync(dir, { recursive: true });
    proc = spawn(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--appendonly', 'yes', '--appendfsync', 'always', '--save', '', '--logfile', path.join(dir, 'redis.log')],
      { stdio: 'ignore' },
    );
    const deadline = Date.now() + 10_000;
    for (;;) {
      const ok = await new Promise<boolean>((resolve) => {
        const s = net.connect(port, '127.0.0.1', () => {
          s.end();
          resolve(true);
        });
        s.on('error', () => resolve(false));
      });
      if (ok) return;
      if (Date.now() > deadline) throw new Error('redis-server did not start');
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  const kill = async () => {
    const p = proc;
    if (!p || p.exitCode !== null) return;
    const gone = new Promise((r) => p.once('exit', r));
    p.kill('SIGKILL');
    await gone;
  };
  await start();
  t.teardown(kill);
  return { port, url: `redis://127.0.0.1:${port}/0`, kill, start };
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}
