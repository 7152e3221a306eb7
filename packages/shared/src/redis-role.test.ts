import { describe, expect, it } from '@jest/globals';
import { failedMasterAddresses } from './redis-role.js';

describe('failedMasterAddresses', () => {
  it('names the masters marked failed, or suspected by the asked node, and no replica', () => {
    // As Redis 7 writes CLUSTER NODES: id, address@bus-port[,hostname], flags, master, ….
    const nodes = [
      'a1 127.0.0.1:7461@17461 myself,master - 0 0 1 connected 0-5460',
      'b2 127.0.0.1:7465@17465,redis-2 master,fail - 1733300000000 0 2 disconnected 5461-10922',
      'c3 127.0.0.1:7466@17466 master,fail? - 1733300000000 0 3 connected 10923-16383',
      'e5 127.0.0.1:7467@17467 master - 0 0 4 connected',
      'd4 127.0.0.1:7463@17463 slave,fail b2 1733300000000 0 2 disconnected',
      '',
    ].join('\n');
    expect([...failedMasterAddresses(nodes)]).toEqual(['127.0.0.1:7465', '127.0.0.1:7466']);
  });
});
