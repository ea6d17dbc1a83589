/**
 * A room too big to write to in one go. Sending one message to 4,000 sockets is
 * one long synchronous loop, and while it runs the server reads nothing: not the
 * presenter's next click, not Redis' replies to the click before. So a room's
 * members are dealt into a few shards as they join, and a message goes out shard
 * by shard, one per turn of the event loop: the same writes, with the server's
 * I/O served between them. Every member is in exactly one shard, so each gets
 * every message; a caller that waits for one message's last shard before sending
 * the next keeps them in order. Nothing here is per member at send time.
 */
import type { Server, Socket } from 'socket.io';

/** Enough to keep each slice short for a few thousand members; few enough that a small room costs nothing extra. */
export const SHARDS = 8;

export const shardRoom = (room: string, shard: number) => `${room}#${shard}`;

export class ShardedRooms {
  private dealt = 0;

  constructor(private readonly io: Server) {}

  /** Joins `room` (for membership) and one shard of it; a second join of the same room changes nothing. */
  async join(socket: Socket, room: string): Promise<void> {
    if (socket.rooms.has(room)) return;
    await socket.join([room, shardRoom(room, this.dealt++ % SHARDS)]);
  }

  /** Sends to every member of `room`, shard by shard; resolves when the last shard is sent. */
  emit(room: string, event: string, ...args: unknown[]): Promise<void> {
    return new Promise((resolve) => {
      const send = (shard: number) => {
        this.io.to(shardRoom(room, shard)).emit(event, ...args);
        if (shard + 1 < SHARDS) setImmediate(() => send(shard + 1));
        else resolve();
      };
      send(0);
    });
  }
}
