/** One association's share of a PACS's budget, held while the association is open. */
export interface Permit {
  release(): void;
}

/**
 * The associations one PACS grants the whole cluster (`pacs.maxAssociations` with `redis.url`): every replica's
 * pool takes a permit before it opens an association and gives it back when the association closes, so the PACS
 * never sees more than the budget, whichever replicas ask. Without shared state each pool's own limit is the
 * budget, and no budget object exists.
 */
export interface AssociationBudget {
  /** A permit within `waitMs`, or undefined when none became free. */
  acquire(waitMs: number): Promise<Permit | undefined>;
  /**
   * Whether another replica waits for a permit now: a pool then closes its idle associations rather than keep
   * them, so that idle associations here do not starve requests there.
   */
  othersWaiting(): boolean;
  /** Told when another replica starts waiting (the pool closes its idle associations). */
  onOthersWaiting(listener: () => void): void;
  close(): void;
}
