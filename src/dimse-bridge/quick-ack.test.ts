import { describe, it, expect } from 'vitest';
import net from 'node:net';
import { getsockopt } from 'sockopt';
import { quickAck, quickAckAvailable } from './quick-ack.js';

describe('quickAck', () => {
  it('sets TCP_QUICKACK on a connected socket (Linux)', async () => {
    expect(quickAckAvailable).toBe(true);
    const server = net.createServer((s) => s.end());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const socket = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
    await new Promise((resolve) => socket.once('connect', resolve));
    quickAck(socket);
    expect(getsockopt(socket, 6, 12)).toBe(1);
    socket.destroy();
    quickAck(socket); // a closed socket is left alone
    await new Promise((resolve) => server.close(resolve));
  });
});
