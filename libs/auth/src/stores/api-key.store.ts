import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { IsNull, type Repository } from 'typeorm';
import { type Page, paginate } from '@hookhub/core';
import { Db } from '@hookhub/store';
import type { ListApiKeysQueryDto } from '../dto/api-keys.dto';
import { ApiKey } from '../entities/api-key.entity';
import type { ApiKeyScope, Role } from '../roles';

/** The columns a new key is created with; the rest are the table's defaults. */
export type NewApiKey = Pick<ApiKey, 'name' | 'prefix' | 'keyHash' | 'role' | 'scopes' | 'userId' | 'expiresAt'>;

/** A key found by its prefix, with what authentication needs of its owner. */
export interface ApiKeyWithOwner {
  id: string;
  key_hash: string;
  role: Role;
  scopes: ApiKeyScope[];
  expires_at: Date | null;
  revoked_at: Date | null;
  last_used_at: Date | null;
  last_used_ip: string | null;
  owner_id: string;
  owner_name: string;
  owner_role: Role;
  owner_disabled: boolean;
}

/** `api_keys`: keys for scripts, by id or visible prefix, their revocation and last use. */
@Injectable()
export class ApiKeyStore {
  constructor(
    @InjectRepository(ApiKey) private readonly keys: Repository<ApiKey>,
    private readonly db: Db,
  ) {}

  /** Inserts a key and answers the stored row (id and created_at filled in). */
  insert(key: NewApiKey): Promise<ApiKey> {
    return this.keys.save(this.keys.create(key));
  }

  findById(id: string): Promise<ApiKey | null> {
    return this.keys.findOne({ where: { id } });
  }

  /**
   * The key with this prefix and its owner, in one round trip: this runs on every request a script makes. It
   * reads `users` too, but it is about the key, so it lives here.
   */
  findByPrefixWithOwner(prefix: string): Promise<ApiKeyWithOwner | undefined> {
    return this.db.one<ApiKeyWithOwner>(
      `SELECT k.id, k.key_hash, k.role, k.scopes, k.expires_at, k.revoked_at, k.last_used_at, k.last_used_ip,
              u.id AS owner_id, u.username AS owner_name, u.role AS owner_role, u.disabled AS owner_disabled
       FROM api_keys k JOIN users u ON u.id = k.user_id WHERE k.prefix = $1`,
      [prefix],
    );
  }

  /** A page of keys, newest first: those of `userId` only when given, revoked ones only if the query asks. */
  list<R>(query: ListApiKeysQueryDto, userId: string | null, map: (key: ApiKey) => R): Promise<Page<R>> {
    const qb = this.keys.createQueryBuilder('k');
    if (userId !== null) qb.andWhere('k.user_id = :userId', { userId });
    if (!query.include_revoked) qb.andWhere('k.revoked_at IS NULL');
    return paginate(qb, 'k', query, map);
  }

  /** Marks the key revoked at `at`, unless it already was (the first revocation time stays). */
  async revoke(id: string, at: Date): Promise<void> {
    await this.keys.update({ id, revokedAt: IsNull() }, { revokedAt: at });
  }

  async setLastUsed(id: string, at: Date, ip: string | null): Promise<void> {
    await this.keys.update({ id }, { lastUsedAt: at, lastUsedIp: ip });
  }
}
