/**
 * The journal's disk held or failing on demand, through its group-write step (`JournalOptions.beforeWrite`):
 * what a slow disk (a write that takes its time) or a full one (a write refused) does to the journal, with
 * the journal's own groups, positions, commits and recovery. Nothing is held until `hold()`.
 */
export class HeldDisk {
  #gate: Promise<void> | undefined;
  #open: () => void = () => {};
  #failures = 0;
  /** Each group that reached the disk, in order (a failed one too). */
  readonly groups: { firstSeq: number; lastSeq: number }[] = [];

  /** The writes from now on wait until `release()`. */
  hold(): void {
    this.#gate ??= new Promise<void>((resolve) => {
      this.#open = resolve;
    });
  }

  /** The held writes go on (and later ones are not held). */
  release(): void {
    this.#gate = undefined;
    this.#open();
  }

  /** The next `count` writes are refused, as by a full disk (after a hold, once it is released). */
  refuse(count = 1): void {
    this.#failures += count;
  }

  readonly beforeWrite = async (group: { firstSeq: number; lastSeq: number }): Promise<void> => {
    this.groups.push(group);
    if (this.#gate) await this.#gate;
    if (this.#failures > 0) {
      this.#failures--;
      throw Object.assign(new Error('no space left on device (held disk)'), { code: 'ENOSPC' });
    }
  };
}
