import type { PGlite } from '@electric-sql/pglite';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';

const SSL_REQUEST = 80877103;
const CANCEL_REQUEST = 80877102;
const PROTOCOL_3 = 196608;
/** Frontend messages that end a unit of work: Sync, simple Query, Flush, Terminate, Copy done/fail. */
const BATCH_END = new Set(['S', 'Q', 'H', 'X', 'c', 'f']);

interface Batch {
  conn: number;
  messages: Buffer[];
  socket: Socket;
}

/**
 * Serves one PGlite instance to many `pg` connections on loopback.
 *
 * PGlite is a single Postgres session, so the server must never interleave two connections' work inside
 * one unit: a connection's extended-protocol messages (Parse, Bind, Describe, Execute) run together up to
 * their Sync, and while a connection has a transaction open only that connection runs. pglite-socket's
 * server queues single messages and lets another connection's Parse land between a Bind and an Execute
 * ("portal does not exist") under concurrency; this server queues whole units instead.
 */
export class EmbeddedSocketServer {
  private server?: Server;
  private readonly queue: Batch[] = [];
  private owner: number | null = null;
  private running = false;
  private nextId = 1;
  private readonly sockets = new Map<number, Socket>();

  constructor(private readonly db: PGlite) {}

  async listen(port: number, host = '127.0.0.1'): Promise<AddressInfo> {
    const server = createServer((socket) => this.accept(socket));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve());
    });
    return server.address() as AddressInfo;
  }

  async close(): Promise<void> {
    for (const socket of this.sockets.values()) socket.destroy();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  private accept(socket: Socket): void {
    const conn = this.nextId++;
    this.sockets.set(conn, socket);
    socket.setNoDelay(true);
    let buffer: Buffer = Buffer.alloc(0);
    let started = false;
    let pending: Buffer[] = [];
    socket.on('data', (data: Buffer) => {
      buffer = buffer.length ? Buffer.concat([buffer, data]) : data;
      for (;;) {
        if (!started) {
          if (buffer.length < 8) return;
          const length = buffer.readInt32BE(0);
          if (buffer.length < length) return;
          const code = buffer.readInt32BE(4);
          const message = buffer.subarray(0, length);
          buffer = buffer.subarray(length);
          if (code === SSL_REQUEST) {
            socket.write('N');
            continue;
          }
          if (code === CANCEL_REQUEST) {
            socket.end();
            return;
          }
          if (code !== PROTOCOL_3) {
            socket.destroy();
            return;
          }
          started = true;
          this.enqueue(conn, [Buffer.from(message)], socket);
          continue;
        }
        if (buffer.length < 5) return;
        const length = 1 + buffer.readInt32BE(1);
        if (buffer.length < length) return;
        const type = String.fromCharCode(buffer[0]);
        pending.push(Buffer.from(buffer.subarray(0, length)));
        buffer = buffer.subarray(length);
        if (type === 'X') {
          socket.end();
          return;
        }
        if (BATCH_END.has(type)) {
          this.enqueue(conn, pending, socket);
          pending = [];
        }
      }
    });
    const cleanup = (): void => {
      if (!this.sockets.delete(conn)) return;
      for (let i = this.queue.length - 1; i >= 0; i--) if (this.queue[i].conn === conn) this.queue.splice(i, 1);
      if (this.owner === conn) void this.abandonTransaction();
    };
    socket.on('close', cleanup);
    socket.on('error', cleanup);
  }

  private enqueue(conn: number, messages: Buffer[], socket: Socket): void {
    this.queue.push({ conn, messages, socket });
    void this.drain();
  }

  /** A connection vanished inside its transaction: roll it back so the others can go on. */
  private async abandonTransaction(): Promise<void> {
    await this.db.runExclusive(async () => {
      if (this.db.isInTransaction()) await this.db.exec('ROLLBACK');
    });
    this.owner = null;
    void this.drain();
  }

  private async drain(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      for (;;) {
        const index = this.owner === null ? 0 : this.queue.findIndex((b) => b.conn === this.owner);
        if (index < 0 || index >= this.queue.length) return;
        const batch = this.queue.splice(index, 1)[0];
        try {
          await this.db.runExclusive(async () => {
            for (const message of batch.messages) {
              await this.db.execProtocolRawStream(new Uint8Array(message), {
                onRawData: (chunk) => {
                  if (!batch.socket.destroyed) batch.socket.write(Buffer.from(chunk));
                },
              });
            }
          });
          this.owner = this.db.isInTransaction() ? batch.conn : null;
        } catch {
          batch.socket.destroy();
          this.owner = this.db.isInTransaction() ? batch.conn : null;
        }
      }
    } finally {
      this.running = false;
    }
  }
}
