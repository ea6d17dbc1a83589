/**
 * A big room written to shard by shard: every member gets every message, once and
 * in order, even when messages are given faster than the slices go out; and the
 * server answers a request between two slices of one message.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Server } from 'socket.io';
import { io as connect, type Socket } from 'socket.io-client';
import { SHARDS, ShardedRooms } from '../../server/sockets/shardedRoom.ts';

const MEMBERS = 24;
const DEADLINE_MS = 10_000;

let server: Server;
let url: string;
let rooms: ShardedRooms;
const clients: Socket[] = [];

before(async () => {
  const httpServer = createServer();
  server = new Server(httpServer);
  // Shard from 4 members on, so 24 clients exercise the sliced path.
  rooms = new ShardedRooms(server, 4);
  server.on('connection', (socket) => {
    socket.on('watch', async (ack: () => void) => {
      await rooms.join(socket, 'hall');
      await rooms.join(socket, 'hall'); // twice: still one shard, no duplicates
      ack();
    });
    socket.on('ping-me', (ack: (at: number) => void) => ack(Date.now()));
  });
  await new Promise<void>((resolve) => httpServer.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(httpServer.address() as AddressInfo).port}`;
  for (let i = 0; i < MEMBERS; i++) {
    const client = connect(url, { transports: ['websocket'], forceNew: true, reconnection: false });
    clients.push(client);
    await client.timeout(DEADLINE_MS).emitWithAck('watch');
  }
});

after(async () => {
  for (const client of clients) client.disconnect();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

test('every member gets every message once, in order, though messages come faster than slices', async () => {
  const received = clients.map(() => [] as number[]);
  const done = clients.map(
    (client, i) =>
      new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`member ${i} got ${received[i]!.join(',')}`)), DEADLINE_MS);
        client.on('news', (n: number) => {
          received[i]!.push(n);
          if (n === 9) {
            clearTimeout(timer);
            resolve();
          }
        });
      }),
  );
  for (let n = 0; n < 10; n++) rooms.emit('hall', 'news', n);
  assert.ok(rooms.whenIdle('hall'), 'a big room is still being written to after emit returns');
  await Promise.all(done);
  await rooms.whenIdle('hall');
  for (const got of received) assert.deepEqual(got, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  assert.equal(server.of('/').adapter.rooms.get('hall')?.size, MEMBERS);
  const perShard = Array.from({ length: SHARDS }, (_, k) => server.of('/').adapter.rooms.get(`hall#${k}`)?.size ?? 0);
  assert.equal(perShard.reduce((a, b) => a + b, 0), MEMBERS, 'each member in exactly one shard');
});

test('a small room is written to at once', async () => {
  const small = new ShardedRooms(server, 1000);
  const got = new Promise<number>((resolve) => clients[0]!.once('small', resolve));
  small.emit('hall', 'small', 1);
  assert.equal(small.whenIdle('hall'), null);
  assert.equal(await got, 1);
});
