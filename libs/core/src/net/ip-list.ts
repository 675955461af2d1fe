import { BlockList, isIP } from 'node:net';

/** `::ffff:1.2.3.4` is the IPv4 address 1.2.3.4. */
export function normalizeIp(address: string): string {
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(address);
  return mapped ? mapped[1] : address;
}

/** Checks one allow-list entry (an address or a CIDR); returns the problem or null. */
export function cidrProblem(entry: string): string | null {
  const [address, prefix, extra] = entry.split('/');
  if (extra !== undefined) return `${entry} is not an address or CIDR`;
  const family = isIP(normalizeIp(address));
  if (!family) return `${entry} is not an IPv4 or IPv6 address`;
  if (prefix !== undefined) {
    if (!/^\d{1,3}$/.test(prefix) || Number(prefix) > (family === 4 ? 32 : 128))
      return `${entry} has an invalid prefix length`;
  }
  return null;
}

/** An IP allow-list over IPv4 and IPv6 CIDRs (IPv4-mapped IPv6 addresses count as IPv4). */
export class IpAllowList {
  private readonly list = new BlockList();

  constructor(entries: readonly string[]) {
    for (const entry of entries) {
      const [raw, prefix] = entry.split('/');
      const address = normalizeIp(raw);
      const family = isIP(address) === 6 ? 'ipv6' : 'ipv4';
      if (prefix === undefined) this.list.addAddress(address, family);
      else this.list.addSubnet(address, Number(prefix), family);
    }
  }

  allows(ip: string): boolean {
    const address = normalizeIp(ip);
    const family = isIP(address);
    if (!family) return false;
    return this.list.check(address, family === 6 ? 'ipv6' : 'ipv4');
  }
}
