export const STAMP: string;
export function isBuildCurrent(root: string): boolean;
export function buildIfStale(root: string): boolean;
