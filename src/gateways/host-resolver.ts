import { lookup } from 'node:dns/promises';

import { Injectable } from '@nestjs/common';

export interface ResolvedAddress {
  address: string;
  family: 4 | 6;
}

/**
 * The port webhook sends resolve host names through. The sender checks every
 * address a name resolves to and connects to one of exactly those, so what
 * was checked is what is reached (a second lookup by the socket could be
 * answered differently: DNS rebinding). Tests replace it to make a name
 * resolve wherever they need.
 */
export abstract class HostResolver {
  /** Every address the name resolves to; rejects (ENOTFOUND...) when it does not resolve. */
  abstract resolve(hostname: string): Promise<ResolvedAddress[]>;
}

/** The system resolver (getaddrinfo: /etc/hosts, then DNS), as Node's sockets use by default. */
@Injectable()
export class SystemHostResolver extends HostResolver {
  async resolve(hostname: string): Promise<ResolvedAddress[]> {
    const addresses = await lookup(hostname, { all: true, verbatim: true });
    return addresses.map((a) => ({ address: a.address, family: a.family === 6 ? 6 : 4 }));
  }
}
