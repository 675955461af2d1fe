import { Injectable } from '@nestjs/common';
import { Clock, HookhubError, type Page, constantTimeEqual, isUuid, sha256Hex } from '@hookhub/core';
import {
  type ApiKeyDto,
  type CreateApiKeyDto,
  type CreatedApiKeyDto,
  type ListApiKeysQueryDto,
  toApiKeyDto,
} from '../dto/api-keys.dto';
import { Role, roleAtLeast, type Principal } from '../roles';
import { ApiKeyStore } from '../stores/api-key.store';
import { newApiKey, visiblePrefixOf } from '../api-keys/key-format';

/** last_used_at is written at most this often per key, to keep authentication off the write path. */
const LAST_USED_RESOLUTION_MS = 60_000;

/** API keys for scripts: shown once, stored as a SHA-256 hash, found by their visible prefix. */
@Injectable()
export class ApiKeysService {
  constructor(
    private readonly keys: ApiKeyStore,
    private readonly clock: Clock,
  ) {}

  async create(dto: CreateApiKeyDto, owner: Principal): Promise<CreatedApiKeyDto> {
    const role = dto.role ?? owner.role;
    if (!roleAtLeast(owner.role, role))
      throw HookhubError.forbidden(`You cannot create a key with role ${role}, above your own (${owner.role})`);
    if (owner.scopes && !owner.scopes.includes('*')) {
      const extra = (dto.scopes ?? ['*']).filter((s) => !owner.scopes?.includes(s));
      if (extra.length) throw HookhubError.forbidden(`You cannot grant scopes you do not have: ${extra.join(', ')}`);
    }
    const { prefix, key } = newApiKey();
    const expiresAt = dto.expires_in_days
      ? new Date(this.clock.now().getTime() + dto.expires_in_days * 86_400_000)
      : null;
    const saved = await this.keys.insert({
      name: dto.name,
      prefix,
      keyHash: sha256Hex(key),
      role,
      scopes: dto.scopes && dto.scopes.length ? [...new Set(dto.scopes)] : ['*'],
      userId: owner.userId,
      expiresAt,
    });
    return { ...toApiKeyDto(saved), key };
  }

  /** Admins see every key; others see their own. */
  async list(query: ListApiKeysQueryDto, viewer: Principal): Promise<Page<ApiKeyDto>> {
    return this.keys.list(query, viewer.role === Role.Admin ? null : viewer.userId, toApiKeyDto);
  }

  async revoke(id: string, actor: Principal): Promise<ApiKeyDto> {
    const key = isUuid(id) ? await this.keys.findById(id) : null;
    if (!key || (actor.role !== Role.Admin && key.userId !== actor.userId)) throw HookhubError.notFound('API key', id);
    if (!key.revokedAt) {
      key.revokedAt = this.clock.now();
      await this.keys.revoke(key.id, key.revokedAt);
    }
    return toApiKeyDto(key);
  }

  /** Resolves a presented key to the principal it acts as, or null when it is not valid. */
  async authenticate(presented: string, ip?: string): Promise<Principal | null> {
    const prefix = visiblePrefixOf(presented);
    if (prefix === null) return null;
    const key = await this.keys.findByPrefixWithOwner(prefix);
    if (!key || !constantTimeEqual(key.key_hash, sha256Hex(presented))) return null;
    const now = this.clock.now();
    if (key.revoked_at || (key.expires_at && key.expires_at <= now) || key.owner_disabled) return null;
    if (
      !key.last_used_at ||
      now.getTime() - key.last_used_at.getTime() > LAST_USED_RESOLUTION_MS ||
      key.last_used_ip !== (ip ?? null)
    ) {
      await this.keys.setLastUsed(key.id, now, ip ?? null);
    }
    // A key never acts above its owner's current role.
    const role = roleAtLeast(key.owner_role, key.role) ? key.role : key.owner_role;
    return {
      type: 'api_key',
      userId: key.owner_id,
      username: key.owner_name,
      role,
      scopes: key.scopes,
      apiKeyId: key.id,
    };
  }
}
