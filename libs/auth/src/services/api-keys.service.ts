import { Injectable } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import { DataSource, IsNull, type Repository } from 'typeorm';
import { Clock, HookhubError, type Page, constantTimeEqual, isUuid, paginate, sha256Hex } from '@hookhub/core';
import { ApiKey } from '../entities/api-key.entity';
import type { ApiKeyDto, CreateApiKeyDto, CreatedApiKeyDto, ListApiKeysQueryDto } from '../dto/api-keys.dto';
import { Role, roleAtLeast, type Principal } from '../roles';

/** Keys look like `hk_<8 chars>_<43 chars>`: the first part is the stored, visible prefix. */
const KEY_PATTERN = /^(hk_[A-Za-z0-9]{8})_([A-Za-z0-9_-]{43})$/;
const PREFIX_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
/** last_used_at is written at most this often per key, to keep authentication off the write path. */
const LAST_USED_RESOLUTION_MS = 60_000;

interface KeyWithOwner {
  id: string;
  key_hash: string;
  role: Role;
  scopes: string[];
  expires_at: Date | null;
  revoked_at: Date | null;
  last_used_at: Date | null;
  last_used_ip: string | null;
  owner_id: string;
  owner_name: string;
  owner_role: Role;
  owner_disabled: boolean;
}

export function looksLikeApiKey(token: string): boolean {
  return token.startsWith('hk_');
}

export function toApiKeyDto(k: ApiKey): ApiKeyDto {
  return {
    id: k.id,
    name: k.name,
    prefix: k.prefix,
    role: k.role,
    scopes: k.scopes,
    user_id: k.userId,
    created_at: k.createdAt.toISOString(),
    expires_at: k.expiresAt?.toISOString() ?? null,
    last_used_at: k.lastUsedAt?.toISOString() ?? null,
    last_used_ip: k.lastUsedIp,
    revoked_at: k.revokedAt?.toISOString() ?? null,
  };
}

function randomPrefix(): string {
  const bytes = randomBytes(8);
  return 'hk_' + Array.from(bytes, (b) => PREFIX_ALPHABET[b % PREFIX_ALPHABET.length]).join('');
}

/** API keys for scripts: shown once, stored as a SHA-256 hash, found by their visible prefix. */
@Injectable()
export class ApiKeysService {
  private readonly keys: Repository<ApiKey>;

  constructor(
    dataSource: DataSource,
    private readonly clock: Clock,
  ) {
    this.keys = dataSource.getRepository(ApiKey);
  }

  async create(dto: CreateApiKeyDto, owner: Principal): Promise<CreatedApiKeyDto> {
    const role = dto.role ?? owner.role;
    if (!roleAtLeast(owner.role, role)) throw HookhubError.forbidden(`You cannot create a key with role ${role}, above your own (${owner.role})`);
    if (owner.scopes && !owner.scopes.includes('*')) {
      const extra = (dto.scopes ?? ['*']).filter((s) => !owner.scopes?.includes(s));
      if (extra.length) throw HookhubError.forbidden(`You cannot grant scopes you do not have: ${extra.join(', ')}`);
    }
    const prefix = randomPrefix();
    const key = `${prefix}_${randomBytes(32).toString('base64url')}`;
    const expiresAt = dto.expires_in_days ? new Date(this.clock.now().getTime() + dto.expires_in_days * 86_400_000) : null;
    const saved = await this.keys.save(
      this.keys.create({
        name: dto.name,
        prefix,
        keyHash: sha256Hex(key),
        role,
        scopes: dto.scopes && dto.scopes.length ? [...new Set(dto.scopes)] : ['*'],
        userId: owner.userId,
        expiresAt,
      }),
    );
    return { ...toApiKeyDto(saved), key };
  }

  /** Admins see every key; others see their own. */
  async list(query: ListApiKeysQueryDto, viewer: Principal): Promise<Page<ApiKeyDto>> {
    const qb = this.keys.createQueryBuilder('k');
    if (viewer.role !== Role.Admin) qb.andWhere('k.user_id = :userId', { userId: viewer.userId });
    if (!query.include_revoked) qb.andWhere('k.revoked_at IS NULL');
    return paginate(qb, 'k', query, toApiKeyDto);
  }

  async revoke(id: string, actor: Principal): Promise<ApiKeyDto> {
    const key = isUuid(id) ? await this.keys.findOne({ where: { id } }) : null;
    if (!key || (actor.role !== Role.Admin && key.userId !== actor.userId)) throw HookhubError.notFound('API key', id);
    if (!key.revokedAt) {
      key.revokedAt = this.clock.now();
      await this.keys.update({ id: key.id, revokedAt: IsNull() }, { revokedAt: key.revokedAt });
    }
    return toApiKeyDto(key);
  }

  /** Resolves a presented key to the principal it acts as, or null when it is not valid. */
  async authenticate(presented: string, ip?: string): Promise<Principal | null> {
    const match = KEY_PATTERN.exec(presented);
    if (!match) return null;
    // One round trip for the key and its owner: this runs on every request a script makes.
    const [key] = (await this.keys.query(
      `SELECT k.id, k.key_hash, k.role, k.scopes, k.expires_at, k.revoked_at, k.last_used_at, k.last_used_ip,
              u.id AS owner_id, u.username AS owner_name, u.role AS owner_role, u.disabled AS owner_disabled
       FROM api_keys k JOIN users u ON u.id = k.user_id WHERE k.prefix = $1`,
      [match[1]],
    )) as KeyWithOwner[];
    if (!key || !constantTimeEqual(key.key_hash, sha256Hex(presented))) return null;
    const now = this.clock.now();
    if (key.revoked_at || (key.expires_at && key.expires_at <= now) || key.owner_disabled) return null;
    if (!key.last_used_at || now.getTime() - key.last_used_at.getTime() > LAST_USED_RESOLUTION_MS || key.last_used_ip !== (ip ?? null)) {
      await this.keys.update({ id: key.id }, { lastUsedAt: now, lastUsedIp: ip ?? null });
    }
    // A key never acts above its owner's current role.
    const role = roleAtLeast(key.owner_role, key.role) ? key.role : key.owner_role;
    return { type: 'api_key', userId: key.owner_id, username: key.owner_name, role, scopes: key.scopes, apiKeyId: key.id };
  }
}
