import 'reflect-metadata';
import { DECORATORS } from '@nestjs/swagger';
import { HookhubError, createValidationPipe } from '@hookhub/core';
import { CreateSourceDto, SourceDto, toSourceDto } from '../dto/sources.dto';
import type { Source } from '../entities/source.entity';
import { SourcesService } from '../services/sources.service';
import { DEFAULT_CREDENTIAL_HEADERS, VERIFICATION_SCHEMES, VERIFIERS, type VerificationScheme } from './index';

/** The OpenAPI metadata of one DTO property, as the document is built from it. */
function openApiEnum(dto: { prototype: object }, property: string): unknown {
  return (
    Reflect.getMetadata(DECORATORS.API_MODEL_PROPERTIES, dto.prototype, property) as { enum?: unknown } | undefined
  )?.enum;
}

async function validSource(input: Record<string, unknown>): Promise<CreateSourceDto> {
  return (await createValidationPipe().transform(input, {
    type: 'body',
    metatype: CreateSourceDto,
  })) as CreateSourceDto;
}

/** The per-field problems SourcesService.validate finds, or [] when the definition is valid. */
function sourceProblems(dto: CreateSourceDto): Array<{ field: string; errors: string[] }> {
  // validate reads nothing of the service's state: a bare instance will do.
  const service = Object.create(SourcesService.prototype) as SourcesService;
  try {
    service.validate(dto);
    return [];
  } catch (err) {
    if (!(err instanceof HookhubError)) throw err;
    return err.details as Array<{ field: string; errors: string[] }>;
  }
}

const STANDARD_SECRET_RULE =
  'a Standard Webhooks secret is whsec_ followed by the base64 of 16 to 64 bytes, as its libraries read it';

describe('the verifier registry drives the schemes everywhere', () => {
  const schemes = Object.keys(VERIFIERS) as VerificationScheme[];

  it('lists every registered scheme, in registry order', () => {
    expect(VERIFICATION_SCHEMES).toEqual(schemes);
    expect(schemes).toEqual(expect.arrayContaining(['github', 'standard-webhooks', 'none']));
  });

  it('lists every scheme in the OpenAPI enums of the source DTOs', () => {
    expect(openApiEnum(CreateSourceDto, 'scheme')).toEqual(schemes);
    expect(openApiEnum(SourceDto, 'scheme')).toEqual(schemes);
  });

  it.each(schemes)('accepts %s in the API validation, and refuses a name not in the registry', async (scheme) => {
    await expect(validSource({ slug: 'a-source', scheme })).resolves.toMatchObject({ scheme });
    const refused = await validSource({ slug: 'a-source', scheme: `${scheme}-v2` }).catch((err: unknown) => err);
    expect(refused).toBeInstanceOf(HookhubError);
    expect((refused as HookhubError).details).toEqual([expect.objectContaining({ field: 'scheme' })]);
  });

  it.each(schemes)('%s: a source without secrets is refused exactly when the scheme needs one', (scheme) => {
    const problems = sourceProblems({ slug: 'a-source', scheme });
    if (VERIFIERS[scheme].needsSecret)
      expect(problems).toEqual([{ field: 'secrets', errors: [`scheme ${scheme} needs at least one secret`] }]);
    else expect(problems).toEqual([]);
  });

  it.each(schemes)('%s: its sources are flagged unverified exactly when the scheme needs no secret', (scheme) => {
    const source = {
      slug: 'a-source',
      scheme,
      secrets: [],
      createdAt: new Date(),
      updatedAt: new Date(),
    } as unknown as Source;
    expect(toSourceDto(source).unverified).toBe(!VERIFIERS[scheme].needsSecret);
    expect(toSourceDto(source).unverified).toBe(scheme === 'none');
  });

  it("refuses secrets of the wrong shape with the scheme's own rule, per secret", () => {
    expect(sourceProblems({ slug: 'a-source', scheme: 'basic', secrets: ['ci:pass', 'no-colon'] })).toEqual([
      { field: 'secrets.1', errors: ['basic secrets are user:password'] },
    ]);
    const short = 'whsec_' + Buffer.from('8 bytes!').toString('base64');
    const long = 'whsec_' + Buffer.from('sixteen bytes or more').toString('base64');
    expect(
      sourceProblems({ slug: 'a-source', scheme: 'standard-webhooks', secrets: [long, short, 'a plain secret'] }),
    ).toEqual([
      // What the standardwebhooks and svix libraries could not read the same way: too short, or not whsec_ base64.
      { field: 'secrets.1', errors: [STANDARD_SECRET_RULE] },
      { field: 'secrets.2', errors: [STANDARD_SECRET_RULE] },
    ]);
    // The rules belong to their schemes: the same secrets are fine elsewhere.
    expect(sourceProblems({ slug: 'a-source', scheme: 'token', secrets: ['no-colon', short] })).toEqual([]);
  });

  it('declares every default as a lower-case header or a body path, and redacts every default credential header', () => {
    for (const scheme of schemes) {
      const { eventHeader, eventField, dedupField } = VERIFIERS[scheme].defaults ?? {};
      if (eventHeader !== undefined) expect([scheme, eventHeader]).toEqual([scheme, eventHeader.toLowerCase()]);
      for (const path of [eventField, dedupField])
        if (path !== undefined) expect([scheme, path.startsWith('body.')]).toEqual([scheme, true]);
      for (const name of VERIFIERS[scheme].credentialHeaders({})) expect(DEFAULT_CREDENTIAL_HEADERS).toContain(name);
    }
    expect(VERIFIERS.github.defaults).toEqual({ eventHeader: 'x-github-event' });
    expect(VERIFIERS.stripe.defaults).toEqual({ eventField: 'body.type', dedupField: 'body.id' });
  });
});
