/**
 * A room too big to write to in one go. Sending one message to 4,000 sockets is
 * one long synchronous loop, and while it runs the server reads nothing: not the
 * presenter's next click, not Redis' replies to the click before. So a room's
 * members are dealt into a few shards as they join, and, once the room is big, a
 * message goes out shard by shard, one per turn of the event loop: the same writes, with the server's
 * I/O served between them. Every member is in exactly one shard, so each gets
 * every message; a caller that waits for one message's last shard before sending
 * the next keeps them in order. Nothing here is per member at send time.
 *
 * It writes to this instance's sockets only (`io.local`): a caller that wants
 * other instances to hear of it relays the message once, not once per shard.
 */
import type { Server, Socket } from 'socket.io';

/**
 * Enough to keep each slice short for a few thousand members (about 250 at 4,000):
 * a request that arrives mid-message waits for at most one slice per Redis round trip.
 */
export const SHARDS = 16;
/**
 * Up to this many members here, the whole room at once: one loop of about 10 ms on
 * a 2-core box, shorter than the turns slicing would add (bench:audience at 1,000).
 */
export const SHARD_ABOVE = 1000;

export const shardRoom = (room: string, shard: number) => `${room}#${shard}`;

export class ShardedRooms {
  private dealt = 0;
  /** Per room, the sending in progress (a big room's slices); the next message goes after it. */
  private readonly sending = new Map<string, Promise<void>>();

  constructor(
    private readonly io: Server,
    private readonly shardAbove = SHARD_ABOVE,
  ) {}

  /** Joins `room` (for membership) and one shard of it; a second join of the same room changes nothing. */
  async join(socket: Socket, room: string): Promise<void> {
    if (socket.rooms.has(room)) return;
    await socket.join([room, shardRoom(room, this.dealt++ % SHARDS)]);
  }

  /** Resolves when `room` has no message on its way; null when it has none now. */
  whenIdle(room: string): Promise<void> | null {
    return this.sending.get(room) ?? null;
  }

  /**
   * Sends to every member of `room`: at once when the room is small, else shard by
   * shard. Messages to one room go out in the order they were given.
   */
  emit(room: string, event: string, ...args: unknown[]): void {
    const before = this.sending.get(room);
    if (!before && (this.io.of('/').adapter.rooms.get(room)?.size ?? 0) <= this.shardAbove) {
      this.io.local.to(room).emit(event, ...args);
      return;
    }
    const sent = (before ?? Promise.resolve()).then(() => this.slices(room, event, args));
    this.sending.set(room, sent);
    void sent.then(() => {
      if (this.sending.get(room) === sent) this.sending.delete(room);
    });
  }

  private slices(room: string, event: string, args: unknown[]): Promise<void> {
    return new Promise((resolve) => {
      const send = (shard: number) => {
        this.io.local.to(shardRoom(room, shard)).emit(event, ...args);
        if (shard + 1 < SHARDS) setImmediate(() => send(shard + 1));
        else resolve();
      };
      send(0);
    });
  }
}
