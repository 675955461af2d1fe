import { Injectable } from '@nestjs/common';

/** The time source, behind an injectable so services can be tested at fixed instants. */
@Injectable()
export class Clock {
  now(): Date {
    return new Date();
  }

  /** Milliseconds since the epoch, as `Date.now()`. */
  nowMs(): number {
    return Date.now();
  }
}
