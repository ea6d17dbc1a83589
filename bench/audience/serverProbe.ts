/**
 * What a server under test reports about itself: how many broadcasts it sent to
 * the watched room (counted where socket.io hands a packet to its adapter, once
 * per broadcast whatever the number of viewers), and its CPU and memory.
 * With BENCH_CPU_PROF=<dir>, it also writes a V8 CPU profile of the measured
 * window there (<server>-<pid>.cpuprofile; open it in Chrome's DevTools).
 */
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { Server } from 'socket.io';
import type { ServerUsage } from './ipc.ts';

export interface ServerProbe {
  start(): void;
  stop(redisCpuMs?: number | null): ServerUsage;
}

/** Profiles the measured window only, not the thousands of connections before it. */
function windowProfiler(name: string): { start(): void; stop(): void } {
  const dir = process.env.BENCH_CPU_PROF;
  if (!dir) return { start() {}, stop() {} };
  const session = new Session();
  session.connect();
  return {
    start() {
      void session.post('Profiler.enable').then(() => session.post('Profiler.start'));
    },
    stop() {
      void session.post('Profiler.stop').then(({ profile }) => writeFileSync(`${dir}/${name}-${process.pid}.cpuprofile`, JSON.stringify(profile)));
    },
  };
}

export function probeServer(io: Server, room: string, name: string): ServerProbe {
  const profiler = windowProfiler(name);
  const adapter = io.of('/').adapter as unknown as { broadcast(packet: { data: unknown[] }, opts: { rooms: Set<string> }): void };
  const broadcast = adapter.broadcast.bind(adapter);
  let counting = false;
  let broadcasts: Record<string, number> = {};
  adapter.broadcast = (packet, opts) => {
    // A room sent to shard by shard (see server/sockets/shardedRoom.ts) counts once, at its first shard.
    if (counting && (opts.rooms.has(room) || opts.rooms.has(`${room}#0`))) {
      const event = String(packet.data[0]);
      broadcasts[event] = (broadcasts[event] ?? 0) + 1;
    }
    broadcast(packet, opts);
  };
  let cpuAt = process.cpuUsage();
  let startedAt = Date.now();
  let rssMax = 0;
  const lag = monitorEventLoopDelay({ resolution: 10 });
  const sampler = setInterval(() => (rssMax = Math.max(rssMax, process.memoryUsage.rss())), 200);
  sampler.unref();
  return {
    start() {
      counting = true;
      broadcasts = {};
      cpuAt = process.cpuUsage();
      startedAt = Date.now();
      rssMax = process.memoryUsage.rss();
      lag.reset();
      lag.enable();
      profiler.start();
    },
    stop(redisCpuMs = null) {
      counting = false;
      lag.disable();
      profiler.stop();
      const cpu = process.cpuUsage(cpuAt);
      return {
        broadcasts,
        cpuMs: (cpu.user + cpu.system) / 1000,
        redisCpuMs,
        rssMaxMb: Math.max(rssMax, process.memoryUsage.rss()) / 2 ** 20,
        heapUsedMb: process.memoryUsage().heapUsed / 2 ** 20,
        windowMs: Date.now() - startedAt,
        loopLagP99Ms: lag.percentile(99) / 1e6,
      };
    },
  };
}
