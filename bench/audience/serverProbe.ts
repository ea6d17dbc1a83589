/**
 * What a server under test reports about itself: how many broadcasts it sent to
 * the watched room (counted where socket.io hands a packet to its adapter, once
 * per broadcast whatever the number of viewers), and its CPU and memory.
 */
import type { Server } from 'socket.io';
import type { ServerUsage } from './ipc.ts';

export interface ServerProbe {
  start(): void;
  stop(redisCpuMs?: number | null): ServerUsage;
}

export function probeServer(io: Server, room: string): ServerProbe {
  const adapter = io.of('/').adapter as unknown as { broadcast(packet: { data: unknown[] }, opts: { rooms: Set<string> }): void };
  const broadcast = adapter.broadcast.bind(adapter);
  let counting = false;
  let broadcasts: Record<string, number> = {};
  adapter.broadcast = (packet, opts) => {
    if (counting && opts.rooms.has(room)) {
      const event = String(packet.data[0]);
      broadcasts[event] = (broadcasts[event] ?? 0) + 1;
    }
    broadcast(packet, opts);
  };
  let cpuAt = process.cpuUsage();
  let startedAt = Date.now();
  let rssMax = 0;
  const sampler = setInterval(() => (rssMax = Math.max(rssMax, process.memoryUsage.rss())), 200);
  sampler.unref();
  return {
    start() {
      counting = true;
      broadcasts = {};
      cpuAt = process.cpuUsage();
      startedAt = Date.now();
      rssMax = process.memoryUsage.rss();
    },
    stop(redisCpuMs = null) {
      counting = false;
      const cpu = process.cpuUsage(cpuAt);
      return {
        broadcasts,
        cpuMs: (cpu.user + cpu.system) / 1000,
        redisCpuMs,
        rssMaxMb: Math.max(rssMax, process.memoryUsage.rss()) / 2 ** 20,
        heapUsedMb: process.memoryUsage().heapUsed / 2 ** 20,
        windowMs: Date.now() - startedAt,
      };
    },
  };
}
