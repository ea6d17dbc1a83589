/**
 * The baseline: a bare socket.io 4.8 server that speaks the pool channel's
 * protocol (same events, a snapshot of the same shape and size) with the pool in
 * memory and no Redis. It acknowledges an action, then fans out one
 * `pool:changed` per change per tick. What it costs is socket.io's own floor.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Server } from 'socket.io';
import { onConductor, send } from './ipc.ts';
import { probeServer } from './serverProbe.ts';
import { deckFiles, servePoolInMemory } from './memoryPool.ts';

const httpServer = createServer(process.env.BENCH_DECK === '1' ? deckFiles() : undefined);
const io = new Server(httpServer, { maxHttpBufferSize: 16 * 1024, serveClient: false });
const probe = probeServer(io, 'pool:main', 'bare');
servePoolInMemory(io);

await new Promise<void>((resolve) => httpServer.listen(0, '127.0.0.1', resolve));
const { port } = httpServer.address() as AddressInfo;

onConductor((message) => {
  if (message.type === 'measure') probe.start();
  else if (message.type === 'report') send({ type: 'usage', usage: probe.stop() });
});
const stop = () => io.close(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('disconnect', stop);
send({ type: 'ready', url: `http://127.0.0.1:${port}` });
