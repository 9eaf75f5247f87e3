/**
 * Summing as SQLite's sum()/total() do (Kahan-Babuska-Neumaier), so that a sum folded in JavaScript (hours
 * into a day, readings into an hour) gives the same number as SQLite's, to the last bit. `value()` is null
 * before anything was added.
 */
export class NeumaierSum {
  private sum = 0;
  private error = 0;
  private any = false;

  reset(): void {
    this.sum = 0;
    this.error = 0;
    this.any = false;
  }

  add(x: number): void {
    const t = this.sum + x;
    if (Math.abs(this.sum) > Math.abs(x)) this.error += this.sum - t + x;
    else this.error += x - t + this.sum;
    this.sum = t;
    this.any = true;
  }

  value(): number | null {
    return this.any ? this.sum + this.error : null;
  }
}
