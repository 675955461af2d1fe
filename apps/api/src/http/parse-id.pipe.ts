import { type ArgumentMetadata, Injectable, ParseUUIDPipe } from '@nestjs/common';

/**
 * ParseUUIDPipe (400 unless a uuid) that hands the controller the id in its canonical lower-case form.
 * Postgres finds the row `9c1d...` for `9C1D...` too, but the services bind the id they are given into sealed
 * secrets (AES-GCM additional data: source secrets, program env values, webhook secrets and headers), so a
 * change sent to an upper-case URL sealed them under a context the row's own id never matches: the source's
 * triggers, the program's runs and the webhook's deliveries failed from then on, with 500s.
 */
@Injectable()
export class ParseIdPipe extends ParseUUIDPipe {
  override async transform(value: unknown, metadata: ArgumentMetadata): Promise<string | undefined | null> {
    const id = await super.transform(value, metadata);
    return typeof id === 'string' ? id.toLowerCase() : id;
  }
}
