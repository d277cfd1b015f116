import { channelProperties } from './channel';
import { coreProperties } from './core';
import { noiseProperties } from './noise';
import { servicesProperties } from './services';
import type { FuzzProperty } from './support';
import { transportProperties } from './transport';
import { vaultProperties } from './vault';

/** Every fuzz property, in the order `npm run fuzz` reports them. */
export const allProperties: readonly FuzzProperty[] = [
  ...coreProperties,
  ...transportProperties,
  ...noiseProperties,
  ...channelProperties,
  ...vaultProperties,
  ...servicesProperties,
];

export type { FuzzProperty } from './support';
