import { randomBytes } from 'node:crypto';

/** A Standard Webhooks signing secret (`whsec_` and 24 random bytes, base64): made for instances and connect sessions alike. */
export const newSigningSecret = (): string => `whsec_${randomBytes(24).toString('base64')}`;
