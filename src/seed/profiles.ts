/**
 * Population shapes for `reverify seed`. Ratios come from one package index's
 * own figures (2018): of 232,131 accounts, 45,702 had a verified primary
 * address and 186,429 did not; 38,824 of the unverified held a project role.
 */
export interface SeedProfile {
  readonly name: string;
  /** Share of users whose primary address is verified. */
  readonly verifiedShare: number;
  /** Share of users whose primary is unverified and who hold a role. */
  readonly unverifiedRoleHolderShare: number;
  /** Share of verified users who also hold a role. */
  readonly verifiedRoleHolderShare: number;
  /** Share of unverified primaries that already carry an unverify_reason. */
  readonly unverifyReasonShare: number;
  /** Share of users with a second, verified address. */
  readonly verifiedSecondaryShare: number;
  /** Share of users that are deactivated. */
  readonly inactiveShare: number;
}

export const PROFILES: Readonly<Record<string, SeedProfile>> = {
  'pypi-2018': {
    name: 'pypi-2018',
    verifiedShare: 45_702 / 232_131,
    unverifiedRoleHolderShare: 38_824 / 232_131,
    verifiedRoleHolderShare: 0.3,
    unverifyReasonShare: 0.02,
    verifiedSecondaryShare: 0.03,
    inactiveShare: 0.01,
  },
};
